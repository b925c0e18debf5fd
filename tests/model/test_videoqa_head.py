"""The VideoQA task module on the shared backbone: items (question + the `ts` span's text and frames),
bad inputs, candidate scoring equal to scoring each answer alone, learning, and `stage=train task=videoqa`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from videolang.backbone.sequences import Segment, load_tokenizer
from videolang.backbone.sources import VideoFeatures
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.failures import FailureLog
from videolang.datamodule import Vid2SeqDataModule
from videolang.datamodule.synthetic import synthetic_corpus
from videolang.datamodule.vid2seq import collator_for
from videolang.tasks import DataReport, VideoQATask, build_task

from tests.fixtures.model import videoqa_rows

VDIM = 6


@pytest.fixture(scope="module")
def tokenizer(tiny_t5):
    return load_tokenizer(str(tiny_t5), 100)


def read(task, data, builder, where="videoqa_train.jsonl"):
    report = DataReport(FailureLog("test"))
    return task.read_entries(data, where, builder, report), report


def row(qid, answers=("knife", "bowl", "pot"), answer_idx=1, ts="10-20", vid="v", duration=30.0, **extra):
    return {"qid": qid, "vid": vid, "question": "Which object can be seen?", "answers": list(answers),
            "answer_idx": answer_idx, "ts": ts, "duration": duration, **extra}


def features(n: int = 30) -> VideoFeatures:
    speech = [Segment(1.0, 4.0, "hello there"), Segment(12.0, 15.0, "cut the onion"), Segment(25.0, 28.0, "bye")]
    return VideoFeatures(np.arange(n * VDIM, dtype=np.float32).reshape(n, VDIM), np.arange(float(n)), speech, float(n))


# --------------------------------------------------------------------------- items
def test_item_reads_the_ts_span_text_and_frames_and_carries_every_candidate(tokenizer):
    task = VideoQATask(max_question_tokens=8)
    b = task.make_builder(tokenizer, 100, 64, 256)
    (entry,), _ = read(task, [row("q1")], b)
    item = task.build_item(entry, features(), b, max_frames=16)
    q = b.text_ids("Which object can be seen?")[:8]
    # the question, then only the sentence inside 10-20 s, on the span's own clock (10 s long)
    assert item["input_ids"] == q + b.transcript_ids([Segment(12.0, 15.0, "cut the onion")], 10.0, 10.0,
                                                     max_tokens=64 - len(q))
    assert item["span"] == (10.0, 20.0) and item["offset"] == 10.0
    assert [f[0] for f in item["frames"]] == [t * VDIM for t in range(10, 20)]
    assert item["candidates"] == [b.text_ids(a) + [b.eos_id] for a in ("knife", "bowl", "pot")]
    assert item["labels"] == item["candidates"][1] and item["answer_idx"] == 1 and item["references"] == 1
    # the whole clip, the question alone, or the dataset's subtitles instead of ASR
    clip = VideoQATask(context="clip").build_item(entry, features(), b, max_frames=64)
    assert len(clip["frames"]) == 30 and clip["span"] == (0.0, 30.0)
    assert VideoQATask(text="none").build_item(entry, features(), b, 16)["input_ids"] == q + [b.eos_id]
    subs = {"v": [Segment(11.0, 13.0, "the knife is here")]}
    (with_subs,), _ = read(VideoQATask(text="subtitles"), {"rows": [row("q1")], "subtitles": subs}, b)
    item = VideoQATask(text="subtitles").build_item(with_subs, features(), b, 16)
    assert b.text_ids("knife")[0] in item["input_ids"] and b.text_ids("onion")[-1] not in item["input_ids"][-6:]


def test_options_are_checked_and_stored_for_checkpoints():
    with pytest.raises(ConfigError, match="context"):
        VideoQATask(context="window")
    with pytest.raises(ConfigError, match="text"):
        VideoQATask(text="captions")
    task = VideoQATask(context="clip", text="asr", lm_weight=0.5)
    again = build_task(task.spec())
    assert isinstance(again, VideoQATask) and again.options() == task.options()
    assert build_task("videoqa").file_pattern == "videoqa_{split}.jsonl"


# ----------------------------------------------------------------------- bad inputs
def test_bad_questions_are_skipped_with_a_named_failure_and_a_duplicate_qid_is_an_error(tokenizer):
    task = VideoQATask()
    b = task.make_builder(tokenizer, 100, 64, 256)
    rows = [row("ok"), row("one", answers=["only"]), row("range", answer_idx=7), row("late", ts="40-50"),
            row("clipped", ts="25-45"), row("garbled", ts="soon"), row("unknown", answer_idx=None),
            row("blank", answers=["a", " "])]
    entries, report = read(task, rows, b)
    # a question without its answer (TVQA's test-public) is kept, to be predicted; the data module keeps it for
    # the test split only (tests/test_tvqa_recipe.py)
    assert [e.key for e in entries] == ["ok", "clipped", "garbled", "unknown"]
    assert [task.has_reference(e) for e in entries] == [True, True, True, False]
    assert entries[1].windows == ((25.0, 30.0),) and entries[2].windows == ()
    assert report.counts == {"ts_clipped": 1, "ts_unreadable": 1, "questions_without_answer": 1}
    failed = {item.rsplit("/", 1)[1]: reason for item, reason in
              ((f["item"], f["reason"]) for f in report.failures.as_rows())}
    assert set(failed) == {"one", "range", "late", "blank"}
    assert "fewer than two answers" in failed["one"] and "out of range 0..2" in failed["range"]
    assert "after the end of the video" in failed["late"]
    assert all(f["item"].startswith("videoqa_train.jsonl/") for f in report.failures.as_rows())
    with pytest.raises(BadInputError, match="duplicate qid 'ok'") as err:
        read(task, [row("ok"), row("ok")], b)
    assert "videoqa_train.jsonl" in str(err.value)


def test_a_damaged_subtitles_table_is_an_error_naming_it(tmp_path):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "videoqa_train.jsonl").write_text(json.dumps(row("q")) + "\n")
    (tmp_path / "subtitles.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(BadInputError, match="subtitles table") as err:
        VideoQATask().read_file(tmp_path / "tasks" / "videoqa_train.jsonl")
    assert "subtitles.parquet" in str(err.value)
    pd.DataFrame({"video_id": ["v", "v"], "start": [5.0, 1.0], "end": [6.0, 2.0], "text": ["b", "a"]}
                 ).to_parquet(tmp_path / "subtitles.parquet")
    data = VideoQATask().read_file(tmp_path / "tasks" / "videoqa_train.jsonl")
    assert [s.text for s in data["subtitles"]["v"]] == ["a", "b"] and data["rows"][0]["qid"] == "q"


# ------------------------------------------------------------------------ scoring
def test_scores_equal_each_answer_scored_alone_and_padding_never_wins(tiny_t5, tokenizer):
    from videolang.model.module import Vid2SeqModule

    m = Vid2SeqModule(backbone=str(tiny_t5), visual_dim=VDIM, task="videoqa", max_input_tokens=64,
                      max_output_tokens=16, visual_layers=1, visual_heads=2).eval()
    task, b = m.task, m.builders["videoqa"]
    e3 = task.question_entry("three", "What is cut?", ["onion", "knife", "a much longer answer"], "v", 30.0,
                             "10-20", 0, None, None, b)
    e2 = task.question_entry("two", "What is said?", ["hello", "bye"], "v", 30.0, None, 1, None, None, b)
    items = [task.build_item(e, features(), b, 16) for e in (e3, e2)]
    batch = collator_for(b.pad_id, VDIM)(items)
    assert batch["candidates"].shape[:2] == (2, 3) and batch["candidate_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    with torch.no_grad():
        scores, _ = task.scores(m.net, batch)
        for r, item in enumerate(items):
            one = {k: (v[r:r + 1] if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
            for j, cand in enumerate(item["candidates"]):
                labels = torch.tensor([cand])
                logp = torch.log_softmax(m.net(one, labels=labels), -1).gather(-1, labels[..., None]).mean()
                assert float(scores[r, j]) == pytest.approx(float(logp), abs=1e-5)
    assert scores[1, 2] == float("-inf")
    out = m.decode_batch(batch)
    assert [len(o["probabilities"]) for o in out] == [3, 2]
    assert all(abs(sum(o["probabilities"]) - 1) < 1e-5 for o in out)
    assert all(o["prediction"] == int(np.argmax(o["scores"])) for o in out)


def test_the_head_learns_to_answer_from_the_span(tiny_t5):
    """Which topic a chapter is about: after a few epochs the training questions are answered."""
    from videolang.model.module import Vid2SeqModule

    torch.manual_seed(0)
    anns, feats = synthetic_corpus(12, 16, seed=0)
    rows = videoqa_rows(anns)
    m = Vid2SeqModule(backbone=str(tiny_t5), visual_dim=16, task="videoqa", max_input_tokens=64,
                      max_output_tokens=16, visual_layers=1, visual_heads=2)
    dm = Vid2SeqDataModule(tokenizer=m.tokenizer, task="videoqa", features=feats, batch_size=8,
                           annotations={"train": rows[:40], "val": rows[40:]}, max_input_tokens=64)
    dm.setup("fit")
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)

    def accuracy() -> float:
        m.eval()
        outs = [o for batch in dm.train_dataloader() for o in m.decode_batch(batch)]
        m.train()
        return float(np.mean([o["prediction"] == o["references"] for o in outs]))

    before = accuracy()
    for _ in range(6):
        for batch in dm.train_dataloader():
            loss = m.training_step(batch, 0)
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert before < 0.5 and accuracy() >= 0.9


# ---------------------------------------------------------------------- end to end
def test_stage_train_videoqa_fdr_writes_evaluate_ready_predictions(train_cfg, synthetic_dataset):
    from videolang.evaluate import VideoQAEvaluator
    from videolang.run import run_stage

    cfg = train_cfg("task=videoqa", "debug=fdr", "stage.datamodule.eval_batch_size=64")
    assert run_stage(cfg) == 0
    out = Path(cfg.paths.output_dir)
    summary = json.loads((out / "summary.json").read_text())
    assert {"test/accuracy", "test/accuracy/first", "test/accuracy/later"} <= set(summary["test"])
    rows = [json.loads(line) for line in (out / "predictions_test.jsonl").read_text().splitlines()]
    refs = videoqa_rows(synthetic_dataset["splits"]["test"])
    assert sorted(r["qid"] for r in rows) == sorted(r["qid"] for r in refs)
    assert all(set(r) == {"qid", "vid", "question", "pred", "pred_answer", "probabilities"} for r in rows)
    refs_file = Path(cfg.paths.data_dir) / "built" / "synthetic" / "tasks" / "videoqa_test.jsonl"
    result = VideoQAEvaluator().evaluate(str(out / "predictions_test.jsonl"), str(refs_file))
    assert result.primary["accuracy"] == pytest.approx(summary["test"]["test/accuracy"])
    options = json.loads((out / "model_options.json").read_text())
    assert options["head"]["_target_"] == "videolang.tasks.videoqa.VideoQATask"
