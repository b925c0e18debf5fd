"""Shared test set-up: offline hub, Hydra composition of the real configs, shared fixtures.

Heavy fixtures (the sample corpus, the tiny model zoo) are session-scoped and
built once per test run from the project's own generators.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):  # one thread per worker (and its subprocesses): the workers share the cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

from videolang.config import conf_dir  # noqa: E402

from tests.fixtures.sample import *  # noqa: E402,F401,F403
from tests.fixtures.zoo import *  # noqa: E402,F401,F403
from tests.fixtures.model import *  # noqa: E402,F401,F403
from tests.fixtures.encoding import encoding_cache  # noqa: E402,F401
from tests.fixtures.xdist_groups import pytest_collection_modifyitems  # noqa: E402,F401


def compose_config(overrides: list[str], tmp_path: Path) -> DictConfig:
    """Compose conf/config.yaml as the runner would, with every output under `tmp_path`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "run")
        cfg.paths.log_dir = str(tmp_path / "logs")
    return cfg


@pytest.fixture
def make_cfg(tmp_path):
    """`make_cfg("stage=make_sample", "seed=3")` -> a composed config writing into tmp_path."""

    def _make(*overrides: str) -> DictConfig:
        return compose_config(list(overrides), tmp_path)

    return _make
