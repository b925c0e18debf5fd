"""The task registry and task modules: old names still load, heads round-trip through checkpoints,
the mixed-task sampler, and one multi-task checkpoint that decodes chapters and windows."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from videolang.core.errors import ConfigError
from videolang.tasks import (REGISTRY, EventsTask, GroundingTask, TaskMix, TitlesTask, VideoQATask, build_task,
                             build_tasks)
from videolang.training.samplers import MixedTaskSampler, task_counts

from tests.fixtures.model import grounding_rows

VDIM = 6


@pytest.mark.parametrize("name, cls", [("chapter_generation", EventsTask), ("dense_captioning", EventsTask),
                                       ("chapter_captioning", TitlesTask), ("grounding", GroundingTask),
                                       ("videoqa", VideoQATask), ("events", EventsTask), ("titles", TitlesTask)])
def test_registry_maps_old_names_to_task_modules(name, cls):
    task = build_task(name)
    assert type(task) is cls and name in REGISTRY
    again = build_task(task.spec())  # what a checkpoint stores rebuilds the same task
    assert type(again) is cls and again.options() == task.options()
    with pytest.raises(ConfigError, match="unknown task"):
        build_task("tvqa")


def test_a_mix_round_trips_and_checks_its_ratio():
    mix = build_tasks({"_target_": "videolang.tasks.TaskMix", "ratio": {"grounding": 3},
                       "tasks": {"chapter_generation": "chapter_generation",
                                 "grounding": {"_target_": "videolang.tasks.GroundingTask", "num_windows": 2}}})
    assert mix.multi and list(mix.tasks) == ["chapter_generation", "grounding"]
    assert mix.ratio == {"chapter_generation": 1.0, "grounding": 3.0} and mix["grounding"].num_windows == 2
    again = build_tasks(mix.spec())
    assert again.spec() == mix.spec() and mix.prefix("val", mix["grounding"]) == "val/grounding/"
    assert build_tasks("dense_captioning").prefix("val", build_task("dense_captioning")) == "val/"
    with pytest.raises(ConfigError, match="unknown tasks"):
        TaskMix({"grounding": "grounding"}, ratio={"titles": 1})


def test_mixed_sampler_draws_the_ratio_seeded_by_epoch():
    groups = {"a": list(range(10)), "b": list(range(10, 40))}
    s = MixedTaskSampler(groups, {"a": 3.0, "b": 1.0}, seed=1, epoch_size=80)
    first = list(s)
    drawn = Counter("a" if i < 10 else "b" for i in first)
    assert len(first) == len(s) == 80 and drawn == {"a": 60, "b": 20}
    assert Counter(i for i in first if i < 10) == {i: 6 for i in range(10)}  # each pass a permutation
    s.set_epoch(1)
    second = list(s)
    s.set_epoch(0)
    assert list(s) == first and second != first
    assert task_counts({"a": 5, "b": 0}, {"a": 1, "b": 1}, 7) == {"a": 7, "b": 0}


def test_module_builds_its_task_from_the_name_or_the_head_and_old_checkpoints_load(tiny_t5, tmp_path):
    from videolang.model.module import Vid2SeqModule

    common = dict(backbone=str(tiny_t5), visual_dim=VDIM, visual_layers=1, visual_heads=2, max_input_tokens=32,
                  max_output_tokens=16)
    old = Vid2SeqModule(task="chapter_captioning", **common)
    assert type(old.task) is TitlesTask and old.task.name == "chapter_captioning"
    assert old.hparams.head["_target_"] == "videolang.tasks.titles.TitlesTask"
    assert not old.builder.use_time_tokens
    headed = Vid2SeqModule(task="x", head={"_target_": "videolang.tasks.EventsTask", "name": "dense_captioning"},
                           **common)
    assert type(headed.task) is EventsTask and headed.task.dedup_titles is True  # bound to the model's option
    # a checkpoint made before task modules existed: no `head` in its options
    ckpt = {"hyper_parameters": {k: v for k, v in dict(old.hparams).items() if k != "head"},
            "state_dict": old.state_dict()}
    old.on_save_checkpoint(ckpt)
    torch.save(ckpt, tmp_path / "old.ckpt")
    back = Vid2SeqModule.from_checkpoint(tmp_path / "old.ckpt")
    assert type(back.task) is TitlesTask and back.hparams.head == old.hparams.head


def test_build_item_keeps_its_former_signature(tiny_t5):
    from videolang.datamodule.synthetic import synthetic_corpus
    from videolang.datamodule.vid2seq import build_item
    from videolang.backbone.sequences import SequenceBuilder, load_tokenizer
    from videolang.tasks.events import events_of

    anns, feats = synthetic_corpus(1, VDIM)
    (vid, ann), f = next(iter(anns.items())), feats.get("syn0000")
    b = SequenceBuilder(load_tokenizer(str(tiny_t5)), 100, 64, 32)
    whole = build_item(vid, vid, f, ann["duration"], events_of(ann), b, "events", 8)
    same = build_item(vid, vid, f, ann["duration"], events_of(ann), b, "chapter_generation", 8)
    assert whole["labels"] == same["labels"] and len(whole["frames"]) == 8 and whole["task"] == "events"
    one = build_item(f"{vid}#1", vid, f, ann["duration"], events_of(ann), b, "titles", 8, segment_index=1)
    assert one["offset"] == ann["timestamps"][1][0] and one["span"] == tuple(ann["timestamps"][1])


def test_multitask_trains_scores_each_task_and_one_checkpoint_decodes_both(train_cfg, synthetic_dataset):
    from videolang.backbone.sources import StoreFeatures
    from videolang.datamodule import collator_for
    from videolang.model.module import Vid2SeqModule
    from videolang.predict.chapters import ChapterPredictor
    from videolang.run import run_stage

    cfg = train_cfg("task=multitask", "trainer.max_epochs=1", "+trainer.limit_train_batches=2",
                    "+trainer.limit_val_batches=1", "+trainer.limit_test_batches=1",
                    "stage.datamodule.eval_batch_size=64", "task.head.tasks.grounding.num_beams=4",
                    "task.head.tasks.grounding.num_windows=3", "task.head.ratio.grounding=3")
    assert run_stage(cfg) == 0
    out = Path(cfg.paths.output_dir)
    summary = json.loads((out / "summary.json").read_text())
    assert {"val/grounding/map", "val/grounding/r1_0.5", "val/chapter_generation/cider",
            "val/chapter_generation/soda_c"} <= set(summary["val"])
    assert {"test/grounding/map", "test/chapter_generation/soda_c"} <= set(summary["test"])
    assert (out / "predictions_test_chapter_generation.json").is_file()
    assert (out / "predictions_test_grounding.jsonl").is_file()
    # one checkpoint, both heads
    m = Vid2SeqModule.from_checkpoint(out / "checkpoints" / "last.ckpt")
    assert list(m.tasks.tasks) == ["chapter_generation", "grounding"] and m.tasks.ratio["grounding"] == 3.0
    test = synthetic_dataset["splits"]["test"]
    vid = sorted(test)[0]
    feats = StoreFeatures(synthetic_dataset["feature_dir"]).get(vid)
    chapters = ChapterPredictor(m, device="cpu").predict_features(feats, vid, max_new_tokens=8)
    assert chapters.video == vid and isinstance(chapters.events, list)
    g = m.tasks["grounding"]
    builder = m.builders["grounding"]
    query = grounding_rows({vid: test[vid]})[0]
    entry = g.query_entry(query["qid"], query["query"], vid, feats.duration, builder)
    item = g.build_item(entry, feats, builder, m.hparams.max_frames)
    (windows,) = m.decode_batch(collator_for(m.builder.pad_id, m.hparams.visual_dim)([item]))
    assert windows["task"] == "grounding" and 1 <= len(windows["windows"]) <= 3
    assert all(e > s for s, e, _ in windows["windows"])
    assert np.all(np.diff([p for _, _, p in windows["windows"]]) <= 0)
