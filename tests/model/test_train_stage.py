"""stage=train end to end on the tiny T5: fast_dev_run of each task config, and exact resume."""
from __future__ import annotations

import pytest

from videolang.run import run_stage


@pytest.mark.parametrize("task", ["chapter_generation", "dense_captioning",
                                  pytest.param("chapter_captioning", marks=pytest.mark.slow)])
def test_fast_dev_run_of_each_task(train_cfg, synthetic_dataset, task):
    import json
    from pathlib import Path

    cfg = train_cfg(f"task={task}", "debug=fdr", "stage.datamodule.eval_batch_size=64")  # fdr: 1 batch
    assert run_stage(cfg) == 0
    out = Path(cfg.paths.output_dir)
    summary = json.loads((out / "summary.json").read_text())
    monitor = "test/" + cfg.model.monitor.split("/", 1)[1]
    preds = json.loads((out / "predictions_test.json").read_text())
    if task != "chapter_captioning":  # events: the submission layout VidChapters' eval_dvc.py reads
        assert set(preds) == {"version", "results", "external_data"}
        preds = preds["results"]
    # scored by videolang.evaluate: every test item once, the monitored metric among the scores, the summary's
    # numbers those of the metrics file
    assert summary["test"]["test/items"] == len(preds) > 0
    assert isinstance(summary["test"][monitor], float) and "test/malformed_events" in summary["test"]
    assert summary["test"] == json.loads((out / "metrics_test.json").read_text())
    assert summary["test_files"] == {"predictions": str(out / "predictions_test.json"),
                                     "metrics": str(out / "metrics_test.json")}
    test = synthetic_dataset["splits"]["test"]
    if task == "chapter_captioning":  # one title per reference chapter
        assert sorted(preds) == sorted(f"{v}#{k}" for v, a in test.items() for k in range(len(a["sentences"])))
    else:  # one event list per video
        assert sorted(preds) == sorted(test) and all(isinstance(p, list) for p in preds.values())
    assert (out / "tokenizer" / "tokenizer_config.json").is_file() and (out / "model_options.json").is_file()


def _run_into(cfg, out_dir):
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
    assert run_stage(cfg) == 0
    return out_dir / "checkpoints" / "last.ckpt"


def _assert_same_state(a, b):
    import torch

    assert a.keys() == b.keys()
    for key, value in a.items():
        if isinstance(value, dict):
            _assert_same_state(value, b[key])
        elif isinstance(value, (list, tuple)):
            assert len(value) == len(b[key]), key
            for x, y in zip(value, b[key], strict=True):
                _assert_same_state({"_": x}, {"_": y})
        elif isinstance(value, torch.Tensor):
            assert torch.equal(value, b[key]), key
        else:
            assert value == b[key], key


@pytest.mark.slow
def test_resume_continues_exactly(train_cfg, tmp_path):
    import torch

    common = ["trainer.max_epochs=2", "stage.test_after_fit=false", "model.denoising.enabled=true",
              "+trainer.limit_val_batches=1", "model.dropout=0.2"]
    straight = _run_into(train_cfg(*common), tmp_path / "straight")
    # The same run, interrupted after its first epoch (same schedule length, same everything).
    first = _run_into(train_cfg(*common, "+callbacks.stop._target_=tests.model.helpers.StopAfterEpochs"),
                      tmp_path / "first")
    assert torch.load(first, map_location="cpu", weights_only=True)["epoch"] == 0
    resumed = _run_into(train_cfg(*common, f"stage.resume={first}"), tmp_path / "resumed")
    a = torch.load(straight, map_location="cpu", weights_only=True)
    b = torch.load(resumed, map_location="cpu", weights_only=True)
    assert a["global_step"] == b["global_step"] > 0 and a["epoch"] == b["epoch"]
    _assert_same_state(a["state_dict"], b["state_dict"])
    _assert_same_state({"o": a["optimizer_states"]}, {"o": b["optimizer_states"]})
    _assert_same_state({"s": a["lr_schedulers"]}, {"s": b["lr_schedulers"]})
