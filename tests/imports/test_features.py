"""Published feature layouts in, through train / test / evaluate, and back out (stage=import_features,
stage=export_features, stage=test)."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import compose_config
from videolang.run import run_stage
from videolang.store import FeatureStore
from videolang.store.published import write_published


def stage(tmp_path: Path, name: str, *overrides: str) -> tuple[int, dict]:
    """Run one stage through the real runner in its own run folder; (exit code, summary)."""
    cfg = compose_config([f"stage={name}", *overrides], tmp_path / name)
    code = run_stage(cfg)
    summary = Path(cfg.paths.output_dir) / "summary.json"
    return code, json.loads(summary.read_text()) if summary.is_file() else {}


def store_records(root: Path, key: str) -> dict:
    store = FeatureStore(root)
    return {vid: store.read(vid, key) for vid in store.video_ids(key)}


@pytest.fixture(scope="module")
def synthetic_records(synthetic_dataset):
    return {k: store_records(synthetic_dataset["feature_dir"], k) for k in ("visual", "speech")}


def test_every_layout_imports_the_published_arrays(tmp_path, synthetic_records):
    visual = synthetic_records["visual"]
    layouts = {"vidchapters_npy": tmp_path / "npy_folder", "vidchapters_pth": tmp_path / "clipvitl14.pth",
               "moment_detr_npz": tmp_path / "npz_folder", "video_features": tmp_path / "vf_folder",
               "npy": tmp_path / "plain"}
    for fmt, out in layouts.items():
        write_published(fmt, out, visual.items())
    assert sorted(p.name for p in layouts["vidchapters_npy"].iterdir())[0] == "syn0000.mp4.npy"
    assert {p.name for p in layouts["video_features"].iterdir() if p.name.startswith("syn0000_")} == {
        "syn0000_clip.npy", "syn0000_timestamps_ms.npy", "syn0000_fps.npy"}
    options = {"moment_detr_npz": ["stage.clip_length=1"], "npy": ["stage.fps=1"]}
    fingerprints = set()
    for fmt, source in layouts.items():
        code, summary = stage(tmp_path, "import_features", f"format={fmt}", f"path={source}",
                              f"stage.store={tmp_path / 'store'}", *options.get(fmt, []))
        assert code == 0 and summary["counts"] == {"imported": len(visual)}, summary
        assert summary["fingerprint"].startswith(f"{fmt}-") and summary["width"] == 16
        fingerprints.add(summary["fingerprint"])
        store = FeatureStore(tmp_path / "store", {"visual": summary["fingerprint"]})
        for vid, rec in visual.items():
            got = store.read(vid, "visual")
            assert got.array.dtype == rec.array.dtype and np.array_equal(got.array, rec.array), (fmt, vid)
            assert np.allclose(got.timestamps, rec.timestamps), (fmt, vid)
        assert store.describe("visual", summary["fingerprint"])["imported"]["format"] == fmt
    assert len(fingerprints) == len(layouts)
    # a re-run finds everything done; the published default (Moment-DETR: 2 s clips) is the row spacing
    code, summary = stage(tmp_path, "import_features", "format=vidchapters_npy", f"path={layouts['vidchapters_npy']}",
                          f"stage.store={tmp_path / 'store'}")
    assert code == 0 and summary["counts"] == {"already_imported": len(visual)}
    code, summary = stage(tmp_path / "2s", "import_features", "format=moment_detr_npz",
                          f"path={layouts['moment_detr_npz']}", f"stage.store={tmp_path / 'store2'}")
    assert code == 0 and summary["fps"] == 0.5
    assert list(FeatureStore(tmp_path / "store2").read("syn0001", "visual").timestamps[:3]) == [0.0, 2.0, 4.0]


def test_imported_features_train_test_and_evaluate(tmp_path, synthetic_dataset, synthetic_records, train_cfg):
    from omegaconf import open_dict

    pth, asr = tmp_path / "clipvitl14.pth", tmp_path / "asr.pkl"
    write_published("vidchapters_pth", pth, synthetic_records["visual"].items())
    asr.write_bytes(pickle.dumps({vid: {k: rec.segments[k] for k in ("text", "start", "end")}
                                  for vid, rec in synthetic_records["speech"].items()}))
    features = tmp_path / "features"
    for fmt, source in (("vidchapters_pth", pth), ("vidchapters_asr", asr)):
        code, summary = stage(tmp_path, "import_features", f"format={fmt}", f"path={source}",
                              f"stage.store={features}")
        assert code == 0, summary
    assert store_records(features, "speech")["syn0003"].segments["text"] == \
        synthetic_records["speech"]["syn0003"].segments["text"]
    cfg = train_cfg("task=chapter_generation", "debug=fdr", f"paths.feature_dir={features}",
                    "stage.test_after_fit=false")
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "train")
    assert run_stage(cfg) == 0
    info = json.loads((tmp_path / "train" / "summary.json").read_text())
    ckpt = info["last_checkpoint"]
    data = synthetic_dataset["data_dir"]
    code, summary = stage(tmp_path, "test", f"ckpt={ckpt}", "split=test", "stage.dataset=synthetic",
                          f"paths.data_dir={data}", f"paths.feature_dir={features}", "stage.torch_threads=1",
                          "stage.datamodule.num_workers=0", "+trainer.enable_progress_bar=false")
    assert code == 0, summary
    run = tmp_path / "test" / "run"
    predictions = json.loads((run / "predictions_test.json").read_text())
    assert set(predictions) == {"version", "results", "external_data"}  # what eval_dvc.py indexes
    assert sorted(predictions["results"]) == sorted(synthetic_dataset["splits"]["test"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["primary"] == "compat" and {"soda_c", "cider", "meteor", "f1"} <= set(metrics["compat"])
    assert metrics["compat"]["items"] == metrics["corrected"]["items"] == len(synthetic_dataset["splits"]["test"])
    code, evaluated = stage(tmp_path, "evaluate", "task=chapter_generation", f"predictions={run / 'predictions_test.json'}",
                            f"references={data / 'built' / 'synthetic' / 'tasks' / 'dense_captioning_test.json'}")
    assert code == 0
    scored = evaluated["metrics"]
    assert any(abs(v.get("soda_c", -1) - metrics[p]["soda_c"]) < 1e-9 for p in ("compat", "corrected")
               for v in [scored.get(p, {})]), (scored, metrics)
