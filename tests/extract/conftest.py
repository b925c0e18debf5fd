"""Fixtures for the extraction tests: configs pointing the real extractor classes at the tiny zoo."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import compose_config

# Without the real Whisper: most tests check plumbing, not transcripts (speech has its own tests).
NO_SPEECH = "~extractor.extractors.speech"


def extract_overrides(zoo: dict[str, Path], store: Path, videos: Path | str, *more: str) -> list[str]:
    return ["stage=extract", "extractor=tiny", f"paths.model_dir={zoo['tiny-clip'].parent}", f"stage.store={store}",
            f"videos={videos}", "stage.progress=false", "stage.num_workers=1", *more]


@pytest.fixture
def extract_cfg(zoo, tmp_path):
    """`extract_cfg(videos, *overrides)` -> a composed stage=extract config on the tiny zoo, store in tmp_path."""

    def _make(videos, *more: str, store: Path | None = None):
        return compose_config(extract_overrides(zoo, store or tmp_path / "store", videos, *more), tmp_path)

    return _make


@pytest.fixture(scope="session")
def tiny_encoder(zoo, tmp_path_factory):
    """An Encoder with the tiny visual/audio models and the real Whisper-base (loaded once)."""
    from videolang.extract import Encoder

    tmp = tmp_path_factory.mktemp("encoder")
    cfg = compose_config(extract_overrides(zoo, tmp / "store", tmp), tmp)
    return Encoder.from_config(cfg).load("cpu")
