"""The real YouCook2 sample scored against itself and shifted copies, and `stage=evaluate` end to end."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from videolang.evaluate import DenseCaptioningEvaluator
from videolang.run import EXIT_ERROR, EXIT_OK, run_stage

# The team's real-format sample (20 YouCook2 validation videos) in ../shared/data beside the checkout,
# as in CI; YOUCOOK2_SAMPLE points elsewhere. Only the tests that read it (through the `youcook2` fixture)
# skip without it; the stage tests on files of their own always run.
SAMPLE = Path(os.environ.get("YOUCOOK2_SAMPLE", Path(__file__).resolve().parents[3] / "shared" / "data" / "youcook2_val_sample.json"))

THRESHOLD_KEYS = ["recall@0.3", "recall@0.5", "recall@0.7", "recall@0.9", "precision@0.9", "recall@1s"]


def as_predictions(refs, shift=0.0, sentences=None):
    return {"results": {vid: [{"timestamp": [s + shift, e + shift], "sentence": (sentences or {}).get(vid, d["sentences"])[i]}
                              for i, (s, e) in enumerate(d["timestamps"])] for vid, d in refs.items()}}


@pytest.fixture(scope="module")
def youcook2():
    if not SAMPLE.exists():
        pytest.skip(f"{SAMPLE} not present (set YOUCOOK2_SAMPLE)")
    return json.loads(SAMPLE.read_text())


@pytest.fixture(scope="module")
def shifted(youcook2, meteor):
    ev = DenseCaptioningEvaluator(protocols=["corrected"])
    return {shift: ev.evaluate(as_predictions(youcook2, shift), youcook2, meteor=meteor).primary
            for shift in (0.0, 2.0, 5.0, 15.0, 1000.0)}


def test_references_against_themselves(shifted):
    m = shifted[0.0]
    assert all(m[k] == 1.0 for k in THRESHOLD_KEYS)
    assert m["soda_c"] == pytest.approx(1.0, abs=1e-6)  # tIoU is 1 - 1e-8 / length
    # at tIoU 0.9 every prediction meets only its own reference: identical captions
    assert m["meteor@0.9"] == 1.0 and m["bleu_4@0.9"] == pytest.approx(1.0, abs=1e-6)
    assert m["rouge_l@0.9"] == 1.0
    assert m["meteor@0.3"] < 1.0  # overlapping neighbours pair up at low tIoU


def test_shifted_copies_score_lower_and_lower(shifted):
    order = [shifted[s] for s in (0.0, 2.0, 5.0, 15.0)]
    for key in ("recall@0.5", "precision@0.5", "soda_c", "meteor", "cider", "f1"):
        values = [m[key] for m in order]
        assert values == sorted(values, reverse=True), key
        assert values[-1] < values[0], key
    assert shifted[15.0]["recall@10s"] < 1.0 and shifted[15.0]["recall@30s"] == 1.0
    # shifted past the end of every video: all predictions are dropped, everything is zero
    assert all(v == 0.0 for k, v in shifted[1000.0].items() if k != "videos_evaluated")


def test_same_times_other_words(youcook2, meteor):
    scrambled = {vid: list(reversed(d["sentences"])) for vid, d in youcook2.items()}
    m = DenseCaptioningEvaluator(protocols=["corrected"]).evaluate(
        as_predictions(youcook2, sentences=scrambled), youcook2, meteor=meteor).primary
    assert all(m[k] == 1.0 for k in THRESHOLD_KEYS)
    assert m["meteor@0.9"] < 0.5 and m["soda_c"] < 0.5


# -- the stage ------------------------------------------------------------------------------------
def test_stage_writes_metrics_table_parquet_and_plots(make_cfg, tmp_path, youcook2):
    preds = as_predictions(youcook2, shift=3.0)
    del preds["results"][next(iter(youcook2))]
    (tmp_path / "preds.json").write_text(json.dumps(preds))
    cfg = make_cfg("stage=evaluate", "task=chapter_generation", f"predictions={tmp_path / 'preds.json'}",
                   f"references={SAMPLE}", "stage.plots=2")
    assert run_stage(cfg) == EXIT_OK
    out = Path(cfg.paths.output_dir)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["metrics"]) == {"corrected", "compat"} and metrics["primary"] == "corrected"
    assert metrics["metrics"]["corrected"]["videos_evaluated"] == 20
    assert metrics["metrics"]["compat"]["videos_evaluated"] == 19
    assert metrics["inputs"]["counts"]["videos_without_predictions"] == 1
    table = (out / "report.md").read_text()
    assert "| soda_c |" in table and "videos_without_predictions: 1" in table
    per_video = pd.read_parquet(out / "per_item.parquet")
    assert len(per_video) == 20 and {"video_id", "soda_c", "meteor", "cider"} <= set(per_video.columns)
    plots = sorted((out / "plots").glob("timeline_*.png"))
    assert len(plots) == 2 and all(p.read_bytes()[:4] == b"\x89PNG" for p in plots)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["corrected"]["soda_c"] == metrics["metrics"]["corrected"]["soda_c"]


def test_stage_grounding_and_videoqa_files(make_cfg, tmp_path):
    refs = [{"qid": i, "vid": "v", "query": f"q{i}", "duration": 100, "relevant_windows": [[10 * i, 10 * i + 10]]}
            for i in range(5)]
    preds = [{"qid": i, "pred_relevant_windows": [[10 * i + 2, 10 * i + 12, 0.9], [0, 5, 0.1]]} for i in range(4)]
    (tmp_path / "refs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in refs))
    (tmp_path / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    cfg = make_cfg("stage=evaluate", "task=grounding", f"predictions={tmp_path / 'preds.jsonl'}",
                   f"references={tmp_path / 'refs.jsonl'}")
    assert run_stage(cfg) == EXIT_OK
    metrics = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())["metrics"]["corrected"]
    assert metrics["r1@0.5"] == pytest.approx(4 / 5)  # IoU 8/12 for the four predicted queries
    plots = sorted((Path(cfg.paths.output_dir) / "plots").glob("*.png"))
    assert plots and all(p.read_bytes()[:4] == b"\x89PNG" for p in plots)

    (tmp_path / "qa.jsonl").write_text("".join(json.dumps({"qid": i, "answer_idx": i % 5, "show_name": "s"}) + "\n"
                                               for i in range(10)))
    (tmp_path / "qa_preds.json").write_text(json.dumps({str(i): 0 for i in range(10)}))
    cfg = make_cfg("stage=evaluate", "task=videoqa", f"predictions={tmp_path / 'qa_preds.json'}",
                   f"references={tmp_path / 'qa.jsonl'}")
    assert run_stage(cfg) == EXIT_OK
    metrics = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())["metrics"]["corrected"]
    assert metrics["accuracy"] == pytest.approx(0.2) and metrics["accuracy/s"] == pytest.approx(0.2)


def test_stage_reports_a_malformed_file_without_traceback(make_cfg, tmp_path, caplog, capsys):
    preds = tmp_path / "preds.json"
    preds.write_text("{not json")
    refs = tmp_path / "refs.json"  # well-formed: the error can only be the predictions'
    refs.write_text(json.dumps({"v": {"duration": 20, "timestamps": [[0, 20]], "sentences": ["all of it"]}}))
    cfg = make_cfg("stage=evaluate", "task=dense_captioning", f"predictions={preds}", f"references={refs}")
    assert run_stage(cfg) == EXIT_ERROR
    assert f"{preds}: malformed JSON" in caplog.text
    assert "Traceback" not in caplog.text + "".join(capsys.readouterr())
    assert not (Path(cfg.paths.output_dir) / "metrics.json").exists()
