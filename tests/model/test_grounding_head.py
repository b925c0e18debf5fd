"""The grounding task module on the shared backbone: items, truncation, bad inputs, ranked windows,
any video length, and `stage=train task=grounding` end to end."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from videolang.backbone.sequences import Segment, SequenceBuilder, load_tokenizer
from videolang.backbone.sources import MemoryFeatures, VideoFeatures
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.failures import FailureLog
from videolang.core.io import atomic_write_jsonl
from videolang.datamodule import Vid2SeqDataModule
from videolang.datamodule.synthetic import synthetic_corpus
from videolang.tasks import DataReport, GroundingTask

from tests.fixtures.model import grounding_rows

VDIM = 6


@pytest.fixture(scope="module")
def tokenizer(tiny_t5):
    return load_tokenizer(str(tiny_t5), 100)


def builder_for(task: GroundingTask, tokenizer, max_input_tokens: int = 64) -> SequenceBuilder:
    return task.make_builder(tokenizer, 100, max_input_tokens, 256)


def read(task, rows, builder, where="g.jsonl"):
    report = DataReport(FailureLog("test"))
    return task.read_entries(rows, where, builder, report), report


def row(qid, query="cooking pasta", vid="v", duration=100.0, windows=((10.0, 20.0),)):
    return {"qid": qid, "query": query, "vid": vid, "duration": duration, "relevant_windows": [list(w) for w in windows]}


# --------------------------------------------------------------------------- items
def test_item_is_query_then_timed_transcript_and_target_on_the_whole_grid(tokenizer, tiny_t5):
    task = GroundingTask(max_query_tokens=8)
    b = builder_for(task, tokenizer)
    (entry,), _ = read(task, [row("q1", windows=[(60.0, 80.0), (5.0, 9.0)])], b)
    speech = [Segment(1.0, 4.0, "hello there"), Segment(50.0, 55.0, "pasta time")]
    feats = VideoFeatures(np.ones((100, VDIM), np.float32), np.arange(100.0), speech, 100.0)
    item = task.build_item(entry, feats, b, max_frames=16)
    q = b.text_ids("cooking pasta")
    assert item["input_ids"][:len(q)] == q and item["input_ids"][-1] == b.eos_id
    assert item["input_ids"][len(q)] == b.time_ids[b.codec.to_bin(1.0, 100.0)]  # the transcript's time tokens
    # the first window, on the whole video's grid, then </s>
    assert item["labels"] == [b.time_ids[59], b.time_ids[79], b.eos_id]
    assert item["references"] == [(60.0, 80.0), (5.0, 9.0)] and item["task"] == "grounding"
    assert item["query"] == "cooking pasta" and len(item["frames"]) == 16
    # the task's use_speech=false: query and frames only
    bare = GroundingTask(use_speech=False).build_item(entry, feats, b, max_frames=16)
    assert bare["input_ids"] == q + [b.eos_id]
    # the query goes through the T5 encoder: a model without it (use_speech=false) is refused
    from videolang.model.module import Vid2SeqModule

    with pytest.raises(ValueError, match="use_speech"):
        Vid2SeqModule(backbone=str(tiny_t5), visual_dim=VDIM, use_speech=False, task="grounding")


def test_long_query_is_truncated_and_warned_once_with_a_count(tokenizer, caplog):
    task = GroundingTask(max_query_tokens=4)
    b = builder_for(task, tokenizer)
    long = "cooking pasta in a very large pot of salted boiling water"
    with caplog.at_level(logging.WARNING):
        entries, report = read(task, [row("a", long), row("b", long, vid="w"), row("c", "pasta")], b)
    assert [len(e.query_ids) for e in entries][:2] == [4, 4] and entries[0].query_ids == tuple(b.text_ids(long)[:4])
    assert report.counts["queries_truncated"] == 2
    warnings = [r for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warnings) == 1 and "2 queries" in warnings[0].getMessage()
    # the whole input stays inside the text budget
    feats = VideoFeatures(np.ones((5, VDIM), np.float32), np.arange(5.0),
                          [Segment(float(i), i + 0.5, "word " * 20) for i in range(5)], 100.0)
    small = task.make_builder(tokenizer, 100, 16, 256)
    item = task.build_item(entries[0], feats, small, 8)
    assert len(item["input_ids"]) <= 16 and item["input_ids"][:4] == list(entries[0].query_ids)


def test_bad_grounding_inputs_are_skipped_clipped_counted_or_named(tokenizer, tmp_path):
    task = GroundingTask()
    b = builder_for(task, tokenizer)
    rows = [row("empty", "  "), row("past", windows=[(90.0, 130.0)]), row("after", windows=[(120.0, 130.0)]),
            row("ok")]
    entries, report = read(task, rows, b)
    assert [e.key for e in entries] == ["past", "ok"]
    assert entries[0].windows == ((90.0, 100.0),)  # clipped to the video's end
    assert report.counts == {"empty_query_skipped": 1, "windows_clipped": 1, "windows_past_end_dropped": 1,
                             "no_window_skipped": 1}
    # duplicate qids: an error naming the file and the qid, through the data module
    tasks = tmp_path / "built" / "d" / "tasks"
    atomic_write_jsonl(tasks / "grounding_train.jsonl", [row("v#0"), row("v#1"), row("v#0", "again")])
    feats = MemoryFeatures({"v": VideoFeatures(np.ones((100, VDIM), np.float32), np.arange(100.0), [], 100.0)})
    dm = Vid2SeqDataModule(tmp_path / "built" / "d", tokenizer=tokenizer, task="grounding", features=feats,
                           max_input_tokens=64, splits={"train": "train"})
    with pytest.raises(BadInputError, match=r"duplicate qid 'v#0'") as err:
        dm.setup("fit")
    assert "grounding_train.jsonl" in str(err.value)
    with pytest.raises(ConfigError, match="num_beams"):
        GroundingTask(num_beams=3, num_windows=5)


# ------------------------------------------------------------------------ decoding
def tiny_module(tiny_t5, **kw):
    from videolang.model.module import Vid2SeqModule

    options = dict(backbone=str(tiny_t5), visual_dim=VDIM, visual_layers=1, visual_heads=2, max_frames=32,
                   task="grounding", max_input_tokens=64, max_output_tokens=3, dropout=0.0)
    return Vid2SeqModule(**{**options, **kw})


def batch_of(module, entries, feats_by_vid):
    from videolang.datamodule import collator_for

    task = module.task
    items = [task.build_item(e, feats_by_vid[e.vid], module.builder, module.hparams.max_frames) for e in entries]
    return collator_for(module.builder.pad_id, VDIM)(items)


def test_decoding_gives_ranked_distinct_windows(tiny_t5):
    m = tiny_module(tiny_t5, head={"_target_": "videolang.tasks.GroundingTask", "num_beams": 6, "num_windows": 4})
    anns, feats = synthetic_corpus(2, VDIM, seed=1)
    entries, _ = read(m.task, grounding_rows(anns), m.builder)
    out = m.eval().decode_batch(batch_of(m, entries[:3], feats.videos))
    assert [o["key"] for o in out] == [e.key for e in entries[:3]]
    for o in out:
        w = o["windows"]
        assert 1 <= len(w) <= 4 and all(e > s for s, e, _ in w)
        assert len({(s, e) for s, e, _ in w}) == len(w)
        scores = [p for _, _, p in w]
        assert scores == sorted(scores, reverse=True) and all(0 < p <= 1 for p in scores)
        assert all(0 <= s and e <= o["duration"] + 1e-6 for s, e, _ in w)
    # the parser on its own: fewer than two times, end <= start and repeats are dropped and counted
    b, t = m.builder, m.builder.time_ids

    class Generated:
        sequences = torch.tensor([[0, t[3], t[7], 1], [0, t[3], t[7], 1], [0, t[9], t[2], 1], [0, t[5], 1, 0],
                                  [0, t[1], t[2], 1]])
        sequences_scores = torch.tensor([-0.1, -0.2, -0.3, -0.4, -0.5])

    (item,) = m.task.decode(Generated(), [{"key": "q", "video_id": "v", "duration": 99.0, "query": "x"}], b)
    assert [w[:2] for w in item["windows"]] == [[3.0, 7.0], [1.0, 2.0]]
    assert item["windows"][0][2] == pytest.approx(np.exp(-0.1))
    assert item["dropped"] == {"duplicate_window": 1, "end_not_after_start": 1, "no_window": 1}


def test_a_video_longer_than_the_frame_budget_is_searchable_to_its_end(tiny_t5):
    """400 frames, 32 kept: the item covers the end, the target sits in the top bins, and a tiny
    model overfitted on it finds the window."""
    rng = np.random.default_rng(0)
    duration, target = 400.0, (340.0, 380.0)
    frames = rng.normal(size=(400, VDIM)).astype(np.float32)
    feats = VideoFeatures(frames, np.arange(400.0), [Segment(350.0, 356.0, "the pasta is ready")], duration)
    m = tiny_module(tiny_t5, head={"_target_": "videolang.tasks.GroundingTask", "num_beams": 4, "num_windows": 2})
    (entry,), _ = read(m.task, [row("q", "is the pasta ready", duration=duration, windows=[target])], m.builder)
    item = m.task.build_item(entry, feats, m.builder, 32)
    assert len(item["frames"]) == 32
    np.testing.assert_array_equal(item["frames"][-1], frames[-1])  # the end of the video is seen
    bins = [m.builder.bin_of_id[i] for i in item["labels"][:2]]
    assert bins == [84, 94]  # int(99 * t / 400): the top of the 100-bin grid
    batch = batch_of(m, [entry], {"v": feats})
    torch.manual_seed(0)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    m.train()
    from videolang.backbone.losses import label_smoothed_ce

    for _ in range(40):
        opt.zero_grad()
        loss = label_smoothed_ce(m.net(batch), batch["labels"], 0.0)
        loss.backward()
        opt.step()
    (out,) = m.eval().decode_batch(batch)
    s, e, _ = out["windows"][0]
    assert min(e, target[1]) - max(s, target[0]) > 0, (out["windows"], float(loss))


# ---------------------------------------------------------------------- end to end
def test_stage_train_grounding_fdr_writes_moment_detr_jsonl(train_cfg, synthetic_dataset):
    from videolang.evaluate import GroundingEvaluator
    from videolang.run import run_stage

    cfg = train_cfg("task=grounding", "debug=fdr", "stage.datamodule.eval_batch_size=64",
                    "task.head.num_beams=4", "task.head.num_windows=3")
    assert run_stage(cfg) == 0
    out = Path(cfg.paths.output_dir)
    summary = json.loads((out / "summary.json").read_text())
    assert {"test/r1_0.5", "test/r1_0.3", "test/map", "test/malformed_windows"} <= set(summary["test"])
    rows = [json.loads(line) for line in (out / "predictions_test.jsonl").read_text().splitlines()]
    refs = grounding_rows(synthetic_dataset["splits"]["test"])
    assert sorted(r["qid"] for r in rows) == sorted(r["qid"] for r in refs)
    assert all(set(r) == {"qid", "query", "vid", "pred_relevant_windows"} for r in rows)
    assert all(len(w) == 3 for r in rows for w in r["pred_relevant_windows"])
    refs_file = Path(cfg.paths.data_dir) / "built" / "synthetic" / "tasks" / "grounding_test.jsonl"
    result = GroundingEvaluator().evaluate(str(out / "predictions_test.jsonl"), str(refs_file))
    assert result.primary["r1@0.5"] == pytest.approx(summary["test"]["test/r1_0.5"])
    options = json.loads((out / "model_options.json").read_text())
    assert options["head"]["_target_"] == "videolang.tasks.grounding.GroundingTask"
    assert options["head"]["num_windows"] == 3
