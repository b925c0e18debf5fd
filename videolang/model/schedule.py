"""Learning-rate schedule: linear warm-up then cosine decay (Vid2Seq: 10% warm-up)."""
from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class WarmupCosine:
    """lr factor at a step: linear 0 -> 1 over `warmup` steps, then cosine 1 -> `min_ratio` at `total`.

    A plain object of numbers (not a closure), so `LambdaLR.state_dict` saves it and a
    resumed run continues on exactly the same curve.
    """

    def __init__(self, total: int, warmup: int, min_ratio: float = 0.0):
        self.total, self.warmup, self.min_ratio = max(1, int(total)), max(0, int(warmup)), float(min_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def cosine_with_warmup(optimizer: Optimizer, total_steps: int, warmup_fraction: float = 0.1,
                       warmup_steps: int | None = None, min_lr_ratio: float = 0.0) -> LambdaLR:
    """A per-step LambdaLR; `warmup_steps` overrides `warmup_fraction * total_steps`."""
    warmup = int(warmup_steps) if warmup_steps is not None else int(round(warmup_fraction * total_steps))
    return LambdaLR(optimizer, WarmupCosine(total_steps, warmup, min_lr_ratio))


def optimizers_for(module, optimizer_factory, scheduler_factory, default_lr: float):
    """`configure_optimizers` of a module built with optimizer / scheduler partials (Adam at `default_lr`
    without one); the schedule steps per optimiser step over the trainer's whole run."""
    import torch

    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = (optimizer_factory or (lambda ps: torch.optim.Adam(ps, lr=default_lr)))(params)
    if scheduler_factory is None:
        return optimizer
    total = int(module.trainer.estimated_stepping_batches) if module._trainer is not None else 1000
    scheduler = scheduler_factory(optimizer, total_steps=max(1, total))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
