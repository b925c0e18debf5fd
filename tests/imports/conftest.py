"""Files in the layouts the field publishes, written small inside the tests (tests/imports/)."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.builder.conftest import build  # noqa: F401 - the build_dataset runner fixture


def released_chapters() -> tuple[dict, dict[str, list[str]]]:
    """A chapters.pkl-style dict exercising every rule of chapters_to_dvc.py, and the split lists."""
    ch = lambda *pairs: [{"label": label, "time": t} for t, label in pairs]  # noqa: E731
    data = {
        "aaaaaaaaaa1": {"chapters": ch((0, "Intro"), (95, "Mixing the dough"), (200, "Baking")), "duration": 300.0},
        "aaaaaaaaaa2": {"chapters": ch((0, "Intro"), (50, "Outro"))},                       # no duration
        "aaaaaaaaaa3": {"chapters": ch((0, "Intro"), (100, "Tasting"), (310, "Bonus")),      # last two past the end
                        "duration": 300.0},
        "aaaaaaaaaa4": {"chapters": ch((0, "Intro"), (60, "---")), "duration": 120.0},        # punctuation only
        "aaaaaaaaaa5": {"chapters": ch((0, "Intro"), (60, "日本語")), "duration": 120.0},     # empty after PTB
        "aaaaaaaaaa6": {"chapters": ch((0, "***"), (60, "Café au lait")), "duration": 120.0},  # both kept
        "aaaaaaaaaa7": {"chapters": ch((0, "Intro"), (60, "Not listed")), "duration": 120.0},  # in no split
        "aaaaaaaaaa8": {"chapters": ch((0, "Setup"), (np.float64(40), "Results")), "duration": np.float64(81.5)},
        "aaaaaaaaaa9": {"chapters": [], "duration": 50.0},                                      # no span
        "aaaaaaaaab0": {"chapters": ch((0, "Whole video"), (99, "Credits")), "duration": 100.0},  # >= 90%: no VMR row
    }
    splits = {"train": ["aaaaaaaaaa1", "aaaaaaaaaa2", "aaaaaaaaaa3", "aaaaaaaaaa4", "aaaaaaaaaa9"],
              "val": ["aaaaaaaaaa5", "aaaaaaaaaa6", "aaaaaaaaab0"], "test": ["aaaaaaaaaa8"]}
    return data, splits


def write_release(folder: Path, as_pickle: bool = True) -> dict[str, str]:
    """chapters.pkl (or .json) + train/val/test.json in `folder`; returns the data.reader overrides."""
    data, splits = released_chapters()
    folder.mkdir(parents=True, exist_ok=True)
    if as_pickle:
        (folder / "chapters.pkl").write_bytes(pickle.dumps(data))
    else:
        plain = json.loads(json.dumps(data, default=float))
        (folder / "chapters.json").write_text(json.dumps(plain))
    for split, ids in splits.items():
        (folder / f"{split}.json").write_text(json.dumps(ids))
    return {"chapters": str(folder / ("chapters.pkl" if as_pickle else "chapters.json")),
            **{f"split_ids.{s}": str(folder / f"{s}.json") for s in splits}}


@pytest.fixture
def release(tmp_path) -> dict[str, str]:
    return write_release(tmp_path / "release")
