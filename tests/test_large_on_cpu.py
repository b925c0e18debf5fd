"""A model above the size threshold on the CPU trainer gets a loud warning naming the GPU trainer (issue 23)."""
from __future__ import annotations

import logging

import lightning as L
import torch

from videolang.training.devices import LARGE_MODEL_PARAMETERS, warn_if_large_on_cpu


def test_large_model_on_cpu_warns_and_names_the_gpu_trainer(caplog):
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False)
    model = torch.nn.Linear(30, 40)   # 1,240 parameters
    with caplog.at_level(logging.WARNING, logger="videolang.training.devices"):
        assert warn_if_large_on_cpu(trainer, model, "train", threshold=1_000) == 1240
        assert warn_if_large_on_cpu(trainer, model, "train", threshold=1_240) is None
        assert warn_if_large_on_cpu(trainer, model, "test") is None   # the default threshold: ~100 M
    ours = [r for r in caplog.records if r.name == "videolang.training.devices"]
    assert len(ours) == 1 and ours[0].levelno == logging.WARNING
    text = ours[0].getMessage()
    assert "stage=train" in text and "on the CPU" in text and "`trainer=gpu`" in text and "trainer=ddp" in text
    assert LARGE_MODEL_PARAMETERS == 100_000_000
