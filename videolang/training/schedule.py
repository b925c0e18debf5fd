"""Learning-rate schedules: linear warm-up, then a cosine, linear or constant shape (Vid2Seq: 10% warm-up, cosine).

Every schedule is a per-optimiser-step `LambdaLR` over `trainer.estimated_stepping_batches`, which
Lightning already divides by `trainer.accumulate_grad_batches`: the curve is as long as the run's
optimiser steps, whatever the accumulation.
"""
from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

SHAPES = ("cosine", "linear", "constant")


class WarmupSchedule:
    """lr factor at a step: linear 0 -> 1 over `warmup` steps, then `shape` from 1 to `min_ratio` at `total`
    (`constant` stays at 1).

    A plain object of numbers (not a closure), so `LambdaLR.state_dict` saves it and a
    resumed run continues on exactly the same curve.
    """

    def __init__(self, total: int, warmup: int, min_ratio: float = 0.0, shape: str = "cosine"):
        if shape not in SHAPES:
            raise ValueError(f"unknown schedule shape {shape!r}: one of {', '.join(SHAPES)}")
        self.total, self.warmup, self.min_ratio = max(1, int(total)), max(0, int(warmup)), float(min_ratio)
        self.shape = shape

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        if self.shape == "constant":
            return 1.0
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        decay = 0.5 * (1 + math.cos(math.pi * progress)) if self.shape == "cosine" else 1.0 - progress
        return self.min_ratio + (1 - self.min_ratio) * decay


class WarmupCosine(WarmupSchedule):
    """The cosine shape under its old name. Checkpoints saved before the other shapes existed hold its
    state without `shape`; `LambdaLR.load_state_dict` updates the rebuilt object's numbers only, so
    they resume on the same cosine curve."""

    def __init__(self, total: int, warmup: int, min_ratio: float = 0.0):
        super().__init__(total, warmup, min_ratio, "cosine")


def warmup_schedule(optimizer: Optimizer, total_steps: int, shape: str = "cosine", warmup_fraction: float = 0.1,
                    warmup_steps: int | None = None, min_lr_ratio: float = 0.0) -> LambdaLR:
    """A per-step LambdaLR: warm-up, then `shape` (cosine | linear | constant) down to `min_lr_ratio` x lr.

    `warmup_steps` overrides `warmup_fraction * total_steps`.
    """
    warmup = int(warmup_steps) if warmup_steps is not None else int(round(warmup_fraction * total_steps))
    return LambdaLR(optimizer, WarmupSchedule(total_steps, warmup, min_lr_ratio, shape))


def cosine_with_warmup(optimizer: Optimizer, total_steps: int, warmup_fraction: float = 0.1,
                       warmup_steps: int | None = None, min_lr_ratio: float = 0.0) -> LambdaLR:
    """`warmup_schedule(shape="cosine")`, the name older configs and checkpoints' hparams use."""
    return warmup_schedule(optimizer, total_steps, "cosine", warmup_fraction, warmup_steps, min_lr_ratio)


def linear_with_warmup(optimizer: Optimizer, total_steps: int, warmup_fraction: float = 0.1,
                       warmup_steps: int | None = None, min_lr_ratio: float = 0.0) -> LambdaLR:
    """`warmup_schedule(shape="linear")`."""
    return warmup_schedule(optimizer, total_steps, "linear", warmup_fraction, warmup_steps, min_lr_ratio)


def constant_with_warmup(optimizer: Optimizer, total_steps: int, warmup_fraction: float = 0.1,
                         warmup_steps: int | None = None, min_lr_ratio: float = 0.0) -> LambdaLR:
    """`warmup_schedule(shape="constant")` (`min_lr_ratio` unused)."""
    return warmup_schedule(optimizer, total_steps, "constant", warmup_fraction, warmup_steps, min_lr_ratio)


def optimizers_for(module, optimizer_factory, scheduler_factory, default_lr: float):
    """`configure_optimizers` of a module built with optimizer / scheduler partials (Adam at `default_lr`
    without one); the schedule steps per optimiser step over the trainer's whole run."""
    import torch

    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = (optimizer_factory or (lambda ps: torch.optim.Adam(ps, lr=default_lr)))(params)
    if scheduler_factory is None:
        return optimizer
    total = module.trainer.estimated_stepping_batches if module._trainer is not None else 1000
    if not math.isfinite(total):  # max_epochs=-1 without max_steps (stage=train refuses it before this)
        raise ValueError("the learning-rate schedule needs a length: with trainer.max_epochs=-1 set "
                         "trainer.max_steps, or use no scheduler (a constant learning rate)")
    total = int(total)
    scheduler = scheduler_factory(optimizer, total_steps=max(1, total))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
