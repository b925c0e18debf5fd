"""Bad published files for stage=import_features, through the real command line: the exit code, the file and the
problem named, and nothing of an unusable video written (docs/DEVELOPING.md, "Exit codes and messages")."""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.bad_inputs.harness import check_contract, run_folder, run_in_process


class Payload:
    def __reduce__(self):
        return os.system, ("true",)


def _mixed_folder(t: Path) -> None:
    """Good and bad VidChapters feature files; the dataset lists every one but `stranger`, and the video
    `abcdefghijk` twice as ViTT's val / test files do (`<k>_<id>`)."""
    folder = t / "feats"
    folder.mkdir()
    good = np.ones((5, 8), dtype=np.float16)
    for name, array in {"good": good, "flat": np.ones(5, dtype=np.float16), "ints": np.ones((5, 8), dtype=np.int64),
                        "nan": np.where(np.eye(5, 8) > 0, np.nan, 1.0).astype(np.float32),
                        "wide": np.ones((5, 9), dtype=np.float16), "stranger": good, "abcdefghijk": good}.items():
        np.save(folder / f"{name}.mp4.npy", array)
    tasks = t / "built" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "dense_captioning_test.json").write_text(json.dumps({
        v: {"duration": 5.0, "timestamps": [[0, 5]], "sentences": ["x"]} for v in ("good", "flat", "ints", "nan",
                                                                                      "wide", "0_abcdefghijk",
                                                                                      "1_abcdefghijk")}))


ROWS = {
    "pth_needing_code": (lambda t: torch.save({"v": torch.zeros(2, 3), "x": Path("y")}, t / "feats.pth"),
                         ["format=vidchapters_pth", "path={t}/feats.pth"], 1, ["feats.pth", "pathlib.PosixPath"],
                         "needs code to unpickle"),
    "pickle_holding_code": (lambda t: (t / "asr.pkl").write_bytes(pickle.dumps({"v": {"text": Payload()}})),
                            ["format=vidchapters_asr", "path={t}/asr.pkl"], 1, ["asr.pkl", f"{os.system.__module__}.system"],
                            "not plain data"),
    "shapes_dtypes_nan_width_unknown": (_mixed_folder, ["format=vidchapters_npy", "path={t}/feats",
                                                        "stage.dataset_dir={t}/built", "stage.match=last11"], 3,
                                        ["flat.mp4.npy", "ints.mp4.npy", "nan.mp4.npy", "wide.mp4.npy"],
                                        "expected \\(T, D\\)"),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_import_bad_input(name, tmp_path: Path, capfd):
    make, args, code, names, problem = ROWS[name]
    make(tmp_path)
    store = tmp_path / "store"
    outcome = run_in_process(["stage=import_features", f"stage.store={store}", f"paths.log_dir={tmp_path / 'logs'}",
                              *[a.replace("{t}", str(tmp_path)) for a in args]], capfd)
    check_contract(outcome, code=code, names=[n.replace("{t}", str(tmp_path)) for n in names], problem=problem)
    if code in (1, 2):  # nothing written
        assert not store.exists() or not any(p.suffix in (".npy", ".json") for p in store.rglob("*")
                                             if "manifest" not in p.parts)
        return
    summary = json.loads((run_folder(outcome.output) / "summary.json").read_text())
    assert summary["counts"] == {"imported": 3, "skipped_not_in_dataset": 1}
    assert sorted(f["item"] for f in summary["failures"]) == ["flat", "ints", "nan", "wide"]
    reasons = {f["item"]: f["reason"] for f in summary["failures"]}
    assert "dtype int64" in reasons["ints"] and "NaN" in reasons["nan"] and "9 wide" in reasons["wide"]
    written = sorted(p.name for p in store.glob("visual/*/*.json") if p.name != "extractor.json")
    assert written == ["0_abcdefghijk.json", "1_abcdefghijk.json", "good.json"]  # the unusable left nothing
