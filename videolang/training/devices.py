"""A loud warning when a large model is about to run on the CPU (issue 23).

The default trainer is `cpu` (tests, the sample corpus, a laptop); a t5-base recipe or a real
feature extractor run that way still works but takes hours where a GPU takes minutes, and said
nothing. `warn_if_large_on_cpu` says so, with the option that picks the GPU: stage=train and
stage=test for their model, stage=extract for its extractors' torch models together (CLIP
ViT-L/14 is 428 M parameters; faster-whisper's CTranslate2 model is not a torch model and is not
counted).
"""
from __future__ import annotations

import logging

import lightning as L
import torch
from lightning.pytorch.accelerators import CPUAccelerator

log = logging.getLogger(__name__)

LARGE_MODEL_PARAMETERS = 100_000_000   # ~ t5-base (223 M) and CLIP ViT-L/14 (304 M) are above; tiny models far below


def warn_if_large_on_cpu(trainer: L.Trainer, model: torch.nn.Module, stage: str,
                         threshold: int | None = None) -> int | None:
    """Log a warning when `model` has more than `threshold` parameters (default `LARGE_MODEL_PARAMETERS`) and
    `trainer` runs on the CPU. stage=train and stage=test pass their model, stage=extract its extractors' models.

    Returns the parameter count when it warned, else None.
    """
    if not isinstance(trainer.accelerator, CPUAccelerator):
        return None
    threshold = LARGE_MODEL_PARAMETERS if threshold is None else threshold
    count = sum(p.numel() for p in model.parameters())
    if count <= threshold:
        return None
    seen = f"{torch.cuda.device_count()} GPU(s) are visible here" if torch.cuda.is_available() else \
        "no GPU is visible here"
    log.warning("\n%s\nstage=%s runs a %.0f M-parameter model on the CPU (trainer=cpu, the default): expect it to "
                "take hours where a GPU takes minutes. Pick the GPU with `trainer=gpu` (one GPU) or "
                "`trainer=ddp trainer.devices=<n>` (several); %s.\n%s",
                "!" * 100, stage, count / 1e6, seen, "!" * 100)
    return count
