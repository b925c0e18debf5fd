"""Shared Java processes for the evaluation tests: one METEOR of ours and one pycocoevalcap oracle per session."""
from __future__ import annotations

import contextlib
import io

import pytest

from videolang.evaluate import Meteor


@pytest.fixture(scope="session")
def meteor():
    with Meteor() as m:
        yield m


@pytest.fixture(scope="session")
def oracle_meteor():
    """pycocoevalcap's own METEOR wrapper: the reference our numbers must equal."""
    from pycocoevalcap.meteor.meteor import Meteor as CocoMeteor

    m = CocoMeteor()
    yield m
    with contextlib.suppress(Exception):
        m.meteor_p.kill()


def quiet(fn, *args):
    """Call a pycocoevalcap scorer without its progress prints."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)
