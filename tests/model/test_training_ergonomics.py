"""Training ergonomics on the tiny T5: warm-up schedules, gradient accumulation, the per-epoch validation
table (log, TensorBoard, validation_history.jsonl) and early stopping on the selection metric."""
from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path

import pytest
import torch

from videolang.run import run_stage
from videolang.training.schedule import (SHAPES, WarmupSchedule, constant_with_warmup, cosine_with_warmup,
                                         linear_with_warmup, warmup_schedule)

# 8 training videos at batch size 2: 4 batches an epoch; accumulating 3 makes 2 optimiser steps an epoch.
FAST = ["stage.test_after_fit=false", "+trainer.limit_val_batches=1", "stage.datamodule.batch_size=2",
        "stage.datamodule.eval_batch_size=2", "trainer.log_every_n_steps=1"]


def _lrs(shape: str, total: int = 20, warmup: int = 4, min_ratio: float = 0.1) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = warmup_schedule(opt, total, shape, warmup_steps=warmup, min_lr_ratio=min_ratio)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize("shape", SHAPES)
def test_schedule_shapes(shape):
    lrs = _lrs(shape)
    assert lrs[:4] == pytest.approx([1 / 5, 2 / 5, 3 / 5, 4 / 5])  # warm-up rises linearly
    assert lrs[4] == pytest.approx(1.0)
    after = lrs[4:]
    if shape == "constant":
        assert after == pytest.approx([1.0] * len(after))
    else:
        assert all(a >= b for a, b in zip(after, after[1:]))  # decays ...
        progress = [(s - 4) / 16 for s in range(4, 20)]
        curve = [0.5 * (1 + math.cos(math.pi * p)) if shape == "cosine" else 1 - p for p in progress]
        assert after == pytest.approx([0.1 + 0.9 * c for c in curve])  # ... along its shape to min_lr_ratio
        assert _lrs(shape, total=40)[19] > lrs[19]  # the curve spans the run: a longer run decays more slowly


def test_named_schedules_and_old_checkpoints():
    for fn, shape in ((cosine_with_warmup, "cosine"), (linear_with_warmup, "linear"),
                      (constant_with_warmup, "constant")):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        factor = fn(opt, 100, warmup_fraction=0.1).lr_lambdas[0]
        assert isinstance(factor, WarmupSchedule) and factor.shape == shape and factor.warmup == 10
    # A scheduler state saved before `shape` existed (WarmupCosine's numbers only) resumes on the cosine.
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = cosine_with_warmup(opt, 10)
    sched.load_state_dict({"last_epoch": 3, "_step_count": 4, "base_lrs": [1.0], "_last_lr": [1.0],
                           "lr_lambdas": [{"total": 50, "warmup": 5, "min_ratio": 0.0}]})
    assert sched.lr_lambdas[0](30) == pytest.approx(0.5 * (1 + math.cos(math.pi * 25 / 45)))
    with pytest.raises(ValueError, match="shape"):
        warmup_schedule(opt, 10, "step")


def _csv_rows(out: Path) -> list[dict[str, str]]:
    (metrics,) = (out / "csv").glob("version_*/metrics.csv")
    with open(metrics, newline="") as f:
        return list(csv.DictReader(f))


def test_accumulation_warmup_and_validation_table(train_cfg, caplog):
    """One 2-epoch run with accumulate_grad_batches=3 and a linear warm-up of 2 steps."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = train_cfg(*FAST, "trainer.max_epochs=2", "trainer.accumulate_grad_batches=3",
                    "model.scheduler.shape=linear", "model.scheduler.warmup_steps=2")
    out = Path(cfg.paths.output_dir)
    with caplog.at_level(logging.INFO, logger="videolang.callbacks"):
        assert run_stage(cfg) == 0
    summary = json.loads((out / "summary.json").read_text())

    # Gradient accumulation: optimiser steps, not batches, and the schedule is as long as the steps.
    steps_per_epoch = math.ceil(4 / 3)
    assert summary["global_step"] == 2 * steps_per_epoch
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    factor = ckpt["lr_schedulers"][0]["lr_lambdas"][0]
    assert (factor["total"], factor["warmup"], factor["shape"]) == (2 * steps_per_epoch, 2, "linear")

    # LearningRateMonitor logs the configured warm-up then the linear decay, per optimiser step.
    base = float(cfg.model.optimizer.lr)
    logged = {int(r["step"]): float(r["lr-Adam"]) for r in _csv_rows(out) if r.get("lr-Adam")}
    assert sorted(logged) == [0, 1, 2, 3]
    expected = WarmupSchedule(4, 2, 0.0, "linear")
    assert [logged[s] for s in range(4)] == pytest.approx([base * expected(s) for s in range(4)])
    assert [logged[s] / base for s in range(4)] == pytest.approx([1 / 3, 2 / 3, 1.0, 0.5])

    # The validation table: in the log after each epoch, in TensorBoard, and as validation_history.jsonl.
    monitor = cfg.model.monitor
    tables = [r.getMessage() for r in caplog.records if r.name == "videolang.callbacks"]
    assert len(tables) == 2
    header, *rows = tables[-1].splitlines()[1:]
    assert header.split()[:3] == ["epoch", "step", monitor] and header.split()[-1] == "train/loss"
    assert [r.split()[:2] for r in rows] == [["0", "2"], ["1", "4"]]
    assert rows[0].split()[2].endswith("*")  # the first value is always a new best
    history = [json.loads(line) for line in (out / "validation_history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [0, 1] and all(monitor in h["metrics"] for h in history)
    assert all(h["monitor"] == monitor and h["train_loss"] > 0 for h in history)
    assert "val/loss" in history[0]["metrics"]
    (state,) = [v for k, v in ckpt["callbacks"].items() if k.startswith("ValidationTable")]
    assert state["history"] == [{k: v for k, v in h.items() if k != "monitor"} for h in history]  # resumes
    (events,) = (out / "tensorboard").rglob("events.out.tfevents.*")
    acc = EventAccumulator(str(events.parent), size_guidance={"tensors": 0}).Reload()
    texts = acc.Tensors("validation/table/text_summary")
    assert [t.step for t in texts] == [2, 4]
    assert monitor in texts[-1].tensor_proto.string_val[0].decode()


def test_early_stopping_on_the_monitor(train_cfg, caplog):
    """A monitor that never improves by min_delta stops after `patience` checks, and says so."""
    cfg = train_cfg(*FAST, "trainer.max_epochs=4", "callbacks=early_stopping",
                    "callbacks.early_stopping.patience=1", "callbacks.early_stopping.min_delta=1000")
    assert cfg.callbacks.early_stopping.monitor == cfg.model.monitor and cfg.callbacks.validation_table
    out = Path(cfg.paths.output_dir)
    with caplog.at_level(logging.WARNING, logger="videolang.callbacks"):
        assert run_stage(cfg) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 2 < cfg.trainer.max_epochs  # epoch 0 sets the best, epoch 1 exhausts patience
    stop = summary["early_stopping"]
    assert (stop["epoch"], stop["best_epoch"], stop["patience"], stop["monitor"]) == (1, 0, 1, cfg.model.monitor)
    assert stop["reason"] == "patience_exhausted"
    (message,) = [r.getMessage() for r in caplog.records if "early stopping" in r.getMessage()]
    assert "after epoch 1" in message and cfg.model.monitor in message and "patience 1" in message


def test_early_stopping_is_off_by_default(make_cfg):
    cfg = make_cfg("stage=train", "model=vid2seq_tiny")
    assert cfg.callbacks.early_stopping is None and cfg.callbacks.validation_table is not None
