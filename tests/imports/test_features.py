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
    from videolang.core.errors import ConfigError
    from videolang.store.published import read_published, row_rate

    visual = synthetic_records["visual"]
    layouts = {"vidchapters_npy": tmp_path / "npy_folder", "vidchapters_pth": tmp_path / "clipvitl14.pth",
               "moment_detr_npz": tmp_path / "npz_folder", "video_features": tmp_path / "vf_folder",
               "npy": tmp_path / "plain"}
    for fmt, out in layouts.items():
        write_published(fmt, out, visual.items())
    assert sorted(p.name for p in layouts["vidchapters_npy"].iterdir())[0] == "syn0000.mp4.npy"
    assert {p.name for p in layouts["video_features"].iterdir() if p.name.startswith("syn0000_")} == {
        "syn0000_clip.npy", "syn0000_timestamps_ms.npy", "syn0000_fps.npy"}
    assert row_rate("moment_detr_npz", None, None) == 0.5 and row_rate("vidchapters_pth", None, None) == 1.0
    with pytest.raises(ConfigError, match="state the features' rate"):  # plain .npy: no published rate
        next(read_published("npy", layouts["npy"], row_rate("npy", None, None)))
    for fmt, source in layouts.items():
        got = {item.video_id: item for item in read_published(fmt, source, 1.0)}
        assert sorted(got) == sorted(visual), fmt
        for vid, rec in visual.items():
            assert got[vid].problem is None and got[vid].array.dtype == rec.array.dtype, (fmt, vid)
            assert np.array_equal(got[vid].array, rec.array) and np.allclose(got[vid].timestamps, rec.timestamps)
    # VidChapters' ASR as one pickle per video (their subtitles folder): empty sentences dropped as their merge did
    speech = synthetic_records["speech"]
    (tmp_path / "asr").mkdir()
    for vid, rec in speech.items():
        entry = {k: list(rec.segments[k]) for k in ("text", "start", "end")}
        entry = {k: v + ([" "] if k == "text" else [1.0]) for k, v in entry.items()}
        (tmp_path / "asr" / f"{vid}.pkl").write_bytes(pickle.dumps(entry))
    got = {item.video_id: item for item in read_published("vidchapters_asr", tmp_path / "asr")}
    assert {v: g.segments["text"] for v, g in got.items()} == {v: r.segments["text"] for v, r in speech.items()}
    assert got["syn0001"].segments["start"] == list(speech["syn0001"].segments["start"])
    # through the stage: a fingerprint naming the source, a re-run finds everything done, a published default
    # (Moment-DETR: 2 s clips) spaces the rows
    code, summary = stage(tmp_path, "import_features", "format=moment_detr_npz", f"path={layouts['moment_detr_npz']}",
                          f"stage.store={tmp_path / 'store'}")
    assert code == 0 and summary["counts"] == {"imported": len(visual)} and summary["width"] == 16, summary
    assert summary["fingerprint"].startswith("moment_detr_npz-") and summary["fps"] == 0.5
    store = FeatureStore(tmp_path / "store")
    assert list(store.read("syn0001", "visual").timestamps[:3]) == [0.0, 2.0, 4.0]
    assert store.describe("visual", summary["fingerprint"])["imported"]["path"] == str(layouts["moment_detr_npz"])
    code, again = stage(tmp_path / "again", "import_features", "format=moment_detr_npz",
                        f"path={layouts['moment_detr_npz']}", f"stage.store={tmp_path / 'store'}")
    assert code == 0 and again["counts"] == {"already_imported": len(visual)}


def their_import_prediction(path: Path, max_proposals: int = 1000) -> dict:
    """VidChapters' `dvc_eval/eval_dvc.py` ANETcaptions.import_prediction, transcribed (their SODA loader reads the
    same `results`): what their evaluator takes from a predictions file."""
    submission = json.load(open(path))
    results = {}
    for vid_id in submission['results']:
        results[vid_id] = submission['results'][vid_id][:max_proposals]
    return {v: [(p['timestamp'][0], p['timestamp'][1], p['sentence']) for p in preds] for v, preds in results.items()}


def test_import_train_test_evaluate_predict(tmp_path, trained_on_sample, sample_features, sample_corpus):
    """Published layouts of the sample videos' features -> the store -> a trained checkpoint decodes them exactly
    as it decodes the extracted originals -> a model trained on them is tested (stage=test), its submission file
    evaluated (stage=evaluate, and VidChapters' own reader) -> it predicts chapters for a raw video through the
    extractor the import declared equivalent."""
    from omegaconf import OmegaConf, open_dict

    from tests.fixtures.model import sample_dvc
    from videolang.core.errors import ConfigError
    from videolang.model.module import Vid2SeqModule
    from videolang.predict.chapters import build_encoder
    from videolang.stages.test import build_datamodule

    model_dir, videos = sample_features["model_dir"], sample_features["videos"]
    common = [f"paths.model_dir={model_dir}", f"paths.data_dir={tmp_path / 'data'}",
              f"paths.feature_dir={tmp_path / 'features'}"]
    code, exported = stage(tmp_path, "export_features", "format=vidchapters_npy", f"path={tmp_path / 'clip_npy'}",
                           f"stage.store={sample_features['feature_dir']}")
    assert code == 0 and exported["videos"] == len(videos)
    speech = store_records(sample_features["feature_dir"], "speech")
    (tmp_path / "asr.pkl").write_bytes(pickle.dumps({v: {k: r.segments[k] for k in ("text", "start", "end")}
                                                     for v, r in speech.items()}))
    for fmt, source, extra in (("vidchapters_npy", tmp_path / "clip_npy", ["stage.equivalent_extractor=visual"]),
                               ("vidchapters_asr", tmp_path / "asr.pkl", [])):
        code, summary = stage(tmp_path / fmt, "import_features", f"format={fmt}", f"path={source}", "extractor=tiny",
                              *common, *extra)
        assert code == 0 and summary["counts"] == {"imported": len(videos)}, summary
    tasks = tmp_path / "data" / "built" / "sample" / "tasks"
    tasks.mkdir(parents=True)
    for split in ("train", "val", "test"):
        (tasks / f"dense_captioning_{split}.json").write_text(json.dumps(sample_dvc(videos)))

    # a checkpoint trained on the extracted features decodes the imported ones to the very same chapters
    trained = Vid2SeqModule.from_checkpoint(trained_on_sample["ckpt"], model_dir=model_dir)
    test_cfg = compose_config(["stage=test", "ckpt=x", *common, "stage.datamodule.num_workers=0"], tmp_path / "cfg")
    datamodule = build_datamodule(test_cfg, trained, "test")
    datamodule.setup("test")
    decoded = [o for batch in datamodule.test_dataloader() for o in trained.decode_batch(batch)]
    original = their_import_prediction(trained_on_sample["run"] / "predictions_test.json")
    assert {o["video_id"]: [tuple(e) for e in o["events"]] for o in decoded} == original
    assert sum(map(len, original.values())) > 0

    # train on them (the width inferred), test without training, evaluate the submission file
    cfg = compose_config(["stage=train", "experiment=sample_demo", "debug=fdr", *common, "model.use_speech=false",
                          "model.max_frames=8", "stage.test_after_fit=false", "stage.torch_threads=1",
                          "stage.datamodule.num_workers=0", "+trainer.enable_progress_bar=false"], tmp_path / "train")
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "train")
    assert run_stage(cfg) == 0
    ckpt = json.loads((tmp_path / "train" / "summary.json").read_text())["last_checkpoint"]
    module = Vid2SeqModule.from_checkpoint(ckpt, model_dir=model_dir)
    width = next(iter(store_records(tmp_path / "features", "visual").values())).array.shape[1]
    assert module.hparams.visual_dim == width and module.feature_info["visual"]["imported"]["format"] == "vidchapters_npy"
    code, tested = stage(tmp_path, "test", f"ckpt={ckpt}", "split=test", *common, "stage.torch_threads=1",
                         "stage.datamodule.num_workers=0", "+trainer.enable_progress_bar=false")
    assert code == 0, tested
    run = tmp_path / "test" / "run"
    submission = json.loads((run / "predictions_test.json").read_text())
    assert set(submission) == {"version", "results", "external_data"}
    assert sorted(their_import_prediction(run / "predictions_test.json")) == sorted(v["id"] for v in videos)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["primary"] == "compat" and {"soda_c", "cider", "meteor", "f1"} <= set(metrics["compat"])
    assert metrics["compat"]["items"] == metrics["corrected"]["items"] == len(videos)
    code, evaluated = stage(tmp_path, "evaluate", "task=chapter_generation", f"predictions={run / 'predictions_test.json'}",
                            f"references={tasks / 'dense_captioning_test.json'}")
    assert code == 0
    for protocol in ("compat", "corrected"):
        for name in ("soda_c", "cider", "f1"):
            assert evaluated["metrics"][protocol][name] == pytest.approx(metrics[protocol][name]), (protocol, name)

    # predict a raw video: tiny CLIP, declared at import as computing these features, is rebuilt
    video = sample_corpus / videos[0]["files"]["video"]
    code, predicted = stage(tmp_path, "predict", f"video={video}", f"ckpt={ckpt}", f"paths.model_dir={model_dir}")
    assert code == 0 and Path(predicted["files"]["json"]).is_file(), predicted
    assert OmegaConf.create(module.feature_info)["visual"]["class"] == "videolang.extract.visual.HFImageEncoder"
    # without a declared extractor, predict says the features were imported
    module.feature_info["visual"] = {k: v for k, v in module.feature_info["visual"].items()
                                     if k not in ("class", "config", "input")}
    with pytest.raises(ConfigError, match="trained on imported features \\(vidchapters_npy"):
        build_encoder(module)
