"""A Vid2Seq model that reads the common-sense stream, trained on the chain's store, then predict on a raw video:
the `regions` and `commonsense` extractors run inside predict (stage=predict and the Python API) and give the
same rows as stage=extract did."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from videolang.extract.commonsense import CommonsenseExtractor
from videolang.run import EXIT_OK, run_stage
from videolang.store import FeatureStore

from tests.commonsense.conftest import ALL_SPLITS, run_into

# the chain (tests/commonsense/conftest.py) is built once, on one worker; no encoding cache: the extractors
# running inside predict are the point
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("commonsense_chain")]

MISSING_NOTE = "no common-sense features"


@pytest.fixture(scope="module")
def dvc_commonsense(commonsense_chain) -> dict:
    """experiment=sample_dvc_commonsense (concat fusion) trained briefly on the chain's store. The chain
    extracted no speech, so the model is the video-only ablation (model.use_speech=false)."""
    c = commonsense_chain
    out = c["root"] / "train_dvc_commonsense"
    summary = run_into(["stage=train", "experiment=sample_dvc_commonsense", *c["common"], "trainer.max_epochs=1",
                        "trainer.check_val_every_n_epoch=1", "+trainer.limit_val_batches=1", "model.max_frames=8",
                        "model.generation.num_beams=1", "model.use_speech=false", "stage.test_after_fit=false",
                        f"stage.datamodule.splits={ALL_SPLITS}", "+trainer.enable_progress_bar=false"], out)
    ckpt = Path(summary["last_checkpoint"])
    assert ckpt.is_file()
    store = FeatureStore(c["feature_dir"])
    records = {vid: store.read(vid, "commonsense") for vid in store.video_ids("commonsense")}
    # the video with the most frames without objects: its rows have both mask values
    vid = max(sorted(records), key=lambda v: int((np.asarray(records[v].meta["mask"]) == 0).sum()))
    return {"ckpt": ckpt, "out": out, "summary": summary, "video_id": vid, "stored": records[vid],
            "video": c["sample"] / "videos" / f"{vid}.mp4", **{k: c[k] for k in ("sample", "model_dir", "common")}}


@pytest.fixture
def computed_rows(monkeypatch) -> list:
    """Every record the common-sense extractor finishes in this process."""
    seen = []
    finish = CommonsenseExtractor.finish
    monkeypatch.setattr(CommonsenseExtractor, "finish", lambda self, state: (seen.append(finish(self, state)),
                                                                              seen[-1])[1])
    return seen


def assert_same_rows(rec, stored) -> None:
    """predict's common-sense rows are the ones stage=extract stored for this video."""
    assert rec.array.shape == stored.array.shape and rec.array.shape[1] == 64
    np.testing.assert_allclose(rec.timestamps, stored.timestamps)
    np.testing.assert_allclose(rec.array, stored.array, atol=1e-5)
    assert list(rec.meta["mask"]) == list(stored.meta["mask"])
    assert 0 in rec.meta["mask"] and 1 in rec.meta["mask"]


def test_model_was_trained_on_the_commonsense_stream(dvc_commonsense):
    summary = dvc_commonsense["summary"]
    assert summary["global_step"] > 0 and summary["skipped_videos"] == []
    options = json.loads((dvc_commonsense["out"] / "model_options.json").read_text())
    assert options["commonsense"]["enabled"] and options["commonsense"]["fusion"] == "concat"
    assert options["commonsense_dim"] == 64 and options["use_speech"] is False


def _predict(make_cfg, d: dict, video: Path, *extra: str):
    cfg = make_cfg("stage=predict", f"video={video}", f"ckpt={d['ckpt']}", f"paths.model_dir={d['model_dir']}",
                   *extra)
    code = run_stage(cfg)
    return code, Path(cfg.paths.output_dir)


def test_stage_predict_extracts_commonsense_from_the_raw_video(make_cfg, dvc_commonsense, computed_rows, capsys):
    """The extractors described in the checkpoint (no extractor config): regions, then common sense."""
    d = dvc_commonsense
    code, out = _predict(make_cfg, d, d["video"], f"stage.references={d['sample'] / 'manifest.json'}")
    assert code == EXIT_OK
    summary = json.loads((out / "summary.json").read_text())
    assert not [n for n in summary["notes"] if MISSING_NOTE in n]
    assert (out / f"{d['video'].stem}.chapters.json").is_file()
    assert (out / f"{d['video'].stem}.youtube.txt").is_file() and (out / f"{d['video'].stem}.chapters.vtt").is_file()
    assert len(computed_rows) == 1
    assert_same_rows(computed_rows[0], d["stored"])
    assert "true chapters" in capsys.readouterr().out


def test_stage_predict_with_the_extractor_config(make_cfg, dvc_commonsense, commonsense_chain, computed_rows):
    """stage.extractor=config: the same extractors from extractor=tiny_commonsense give the same rows."""
    d, c = dvc_commonsense, commonsense_chain
    code, out = _predict(make_cfg, d, d["video"], "stage.extractor=config", "extractor=tiny_commonsense",
                         f"extractor.extractors.commonsense.checkpoint={c['ckpt']}", f"paths.sample_dir={d['sample']}",
                         *c["no_audio"])
    assert code == EXIT_OK
    assert not [n for n in json.loads((out / "summary.json").read_text())["notes"] if MISSING_NOTE in n]
    assert len(computed_rows) == 1
    assert_same_rows(computed_rows[0], d["stored"])


def test_python_api_predicts_with_the_commonsense_stream(dvc_commonsense, computed_rows):
    from videolang.predict import ChapterPrediction, ChapterPredictor

    d = dvc_commonsense
    predictor = ChapterPredictor.from_checkpoint(d["ckpt"], device="cpu")
    assert set(predictor.encoder.extractors) == {"visual", "regions", "commonsense"}  # no speech: video-only
    assert predictor.encoder.extractors["commonsense"].requires == ("regions",)
    feats, notes = predictor.encode_video(d["video"])
    assert not [n for n in notes if MISSING_NOTE in n]
    np.testing.assert_allclose(feats.commonsense.rows, d["stored"].array, atol=1e-5)
    assert feats.commonsense.mask.tolist() == list(d["stored"].meta["mask"])

    prediction = predictor.predict_video(d["video"])
    assert isinstance(prediction, ChapterPrediction)
    assert prediction.duration == pytest.approx(float(d["stored"].meta["duration"]), abs=1.0)
    assert not [n for n in prediction.notes if MISSING_NOTE in n]
    assert len(computed_rows) == 1  # predict_video reuses encode_video's encoding of the same unchanged file
    assert_same_rows(computed_rows[-1], d["stored"])

    # a video without a box file: no regions, so no common-sense rows; predicted with them masked, and said so
    silent = predictor.predict_video(d["sample"] / "awkward" / "video_only.mp4")
    assert any(MISSING_NOTE in n and "regions" in n for n in silent.notes)
