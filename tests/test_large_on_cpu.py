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


def test_extract_warns_for_its_extractors_models_on_the_cpu(sample_corpus, sample_manifest, zoo, tmp_path, capfd,
                                                            monkeypatch):
    """stage=extract counts its extractors' torch models together (here the tiny CLIP, with the threshold lowered
    below its size) and gives the same warning as train and test."""
    from tests.bad_inputs.harness import run_in_process
    from videolang.training import devices

    video = sample_corpus / sample_manifest["videos"][0]["files"]["video"]
    args = ["stage=extract", "extractor=tiny", "~extractor.extractors.audio", "~extractor.extractors.audio_mel",
            "~extractor.extractors.speech", f"videos={video}", f"paths.model_dir={zoo['tiny-clip'].parent}",
            f"stage.store={tmp_path / 'features'}", f"paths.log_dir={tmp_path / 'logs'}", "stage.num_workers=0",
            "stage.progress=false"]
    outcome = run_in_process(args, capfd)
    assert outcome.code == 0 and "on the CPU" not in outcome.output  # the tiny CLIP is far below 100 M
    monkeypatch.setattr(devices, "LARGE_MODEL_PARAMETERS", 1_000)
    outcome = run_in_process([*args, "stage.overwrite=true"], capfd)
    assert outcome.code == 0, outcome.output[-3000:]
    assert "stage=extract runs a" in outcome.output and "`trainer=gpu`" in outcome.output
