"""stage=train on two CPU processes (gloo), end to end through the command line.

`trainer=ddp_sim` (Lightning's `ddp_spawn`) fits, then a second run resumes its checkpoint with
`trainer.strategy=ddp` (the launcher `trainer=ddp` uses on GPUs: Lightning re-runs the command line for
rank 1 into the same run folder). Checked: one set of checkpoints, one `summary.json` (plus
`summary.rank1.json` under `ddp`), one validation history and metrics file; the validation metrics
are those of the whole validation split (every rank's outputs gathered, the sampler's padding
duplicate dropped): the number of items scored is the split's, and the metrics equal a
single-process validation of the same checkpoint; the resumed run continues from the
checkpoint's step and epoch.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.model import write_synthetic_dataset
from tests.fixtures.shared import built_once

pytestmark = pytest.mark.xdist_group("ddp_train")  # one xdist worker builds this module's fixtures once

ROOT = Path(__file__).resolve().parents[2]
STEPS_PER_EPOCH = 2  # +trainer.limit_train_batches


@pytest.fixture(scope="module")
def ddp_data(tmp_path_factory):
    """18 synthetic videos: 3 validation videos with 11 grounding queries, an odd number, so the
    distributed sampler pads rank 1 with a repeat of one query. Built once per run (`built_once`), like
    the spawned run below that reads it."""
    root, splits = built_once(tmp_path_factory, "ddp_data", lambda out: write_synthetic_dataset(
        out / "data", out / "features", num_videos=18))
    return {"data_dir": root / "data", "feature_dir": root / "features", "splits": splits}


def _overrides(model_dir: Path, data: dict) -> list[str]:
    # grounding: its selection metric (mAP) is not 0 for an untrained model, so equal metrics mean something
    return ["stage=train", "model=vid2seq_tiny", "task=grounding", "stage.dataset=synthetic",
            f"paths.model_dir={model_dir}", f"paths.data_dir={data['data_dir']}",
            f"paths.feature_dir={data['feature_dir']}", "stage.datamodule.num_workers=0", "stage.torch_threads=1",
            "stage.datamodule.batch_size=4", "stage.datamodule.eval_batch_size=1", "task.head.num_beams=4",
            "task.head.num_windows=3", "model.max_input_tokens=128", "+trainer.num_sanity_val_steps=0",
            "+trainer.enable_progress_bar=false", f"+trainer.limit_train_batches={STEPS_PER_EPOCH}",
            "trainer.log_every_n_steps=1"]


def _train_cli(log_dir: Path, *overrides: str) -> Path:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, "-m", "videolang.run", *overrides, f"paths.log_dir={log_dir}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    runs = [p for p in (log_dir / "train").iterdir()]
    assert len(runs) == 1, runs  # every rank wrote into the one run folder
    return runs[0]


def _queries(split: dict) -> int:
    return sum(len(a["timestamps"]) for a in split.values())


def _history(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "validation_history.jsonl").read_text().splitlines()]


def _one_logger_version(run: Path) -> Path:
    csvs = sorted(run.glob("csv/*/metrics.csv"))
    assert len(csvs) == 1 and len(list(run.glob("tensorboard/*/events.out.tfevents.*"))) == 1
    return csvs[0]


@pytest.fixture(scope="module")
def spawned_run(tmp_path_factory, model_dir, ddp_data):
    """One epoch under trainer=ddp_sim (ddp_spawn), built once per run: xdist may tear a module fixture down
    between this module's tests, and the run costs ~30 s (read-only: the resume test writes elsewhere)."""
    def spawn(log_dir: Path) -> dict:
        return {"run": str(_train_cli(log_dir, *_overrides(model_dir, ddp_data), "trainer=ddp_sim",
                                      "trainer.max_epochs=1", "stage.test_after_fit=false"))}

    return Path(built_once(tmp_path_factory, "ddp_spawned_run", spawn)[1]["run"])


@pytest.mark.slow
def test_ddp_sim_fit_writes_one_run_and_scores_the_whole_validation_split(spawned_run, make_cfg, model_dir,
                                                                           ddp_data):
    import lightning as L
    import torch

    from videolang.model.module import Vid2SeqModule
    from videolang.stages.train import build_datamodule

    run = spawned_run
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "epoch_000.ckpt", "last.ckpt"]
    assert sorted(p.name for p in run.glob("summary*.json")) == ["summary.json"]  # spawned ranks write none
    _one_logger_version(run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["failed"] == 0
    assert summary["global_step"] == STEPS_PER_EPOCH and summary["epochs"] == 1  # rank 0's, handed back
    assert summary["last_checkpoint"] == str(run / "checkpoints" / "last.ckpt")
    assert summary["best_checkpoint"] == str(run / "checkpoints" / "best.ckpt")
    history = _history(run)
    assert len(history) == 1 and history[0]["step"] == STEPS_PER_EPOCH
    ddp_metrics = history[0]["metrics"]
    assert summary["best_score"] == pytest.approx(ddp_metrics["val/map"], abs=1e-6)
    # some score above zero, so that the single-process comparison below compares scores, not zeros
    assert [k for k, v in ddp_metrics.items() if k not in ("val/items", "val/loss") and v > 0], ddp_metrics

    # every validation query scored once: not rank 0's half (6), not the padded 12
    n_val = _queries(ddp_data["splits"]["val"])
    assert n_val % 2 == 1 and ddp_metrics["val/items"] == n_val == summary["data"]["items"]["val"]

    # the same checkpoint validated by one process on the same split: the same metrics
    cfg = make_cfg(*_overrides(model_dir, ddp_data), "trainer=cpu")
    datamodule = build_datamodule(cfg)
    datamodule.setup("validate")
    module = Vid2SeqModule.from_checkpoint(run / "checkpoints" / "epoch_000.ckpt")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the ranks ran (stage.torch_threads=1)
    try:
        single = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                           enable_progress_bar=False, enable_model_summary=False).validate(module, datamodule,
                                                                                          verbose=False)[0]
    finally:
        torch.set_num_threads(threads)
    # val/loss is left out: the ranks' mean includes the sampler's padding repeat (12 items, not 11)
    compared = sorted(k for k in ddp_metrics if k != "val/loss")
    assert "val/map" in compared and "val/r1_0.5" in compared
    assert {k: single[k] for k in compared} == pytest.approx({k: ddp_metrics[k] for k in compared}, abs=1e-6)


@pytest.mark.slow
def test_ddp_resume_continues_from_the_checkpoint_step(spawned_run, tmp_path, model_dir, ddp_data):
    import torch

    first = spawned_run / "checkpoints" / "last.ckpt"
    run = _train_cli(tmp_path / "logs", *_overrides(model_dir, ddp_data), "trainer=ddp_sim",
                     "trainer.strategy=ddp", "trainer.max_epochs=2", f"stage.resume={first}")
    # rank 1 (a re-run of the command line) wrote only its own summary into rank 0's run folder
    assert sorted(p.name for p in run.glob("summary*.json")) == ["summary.json", "summary.rank1.json"]
    assert [p.name for p in run.iterdir() if "rank" in p.name] == ["summary.rank1.json"]
    assert [p.name for p in run.glob("*.log")] == ["train.log"]  # both ranks append to the one log
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "epoch_001.ckpt", "last.ckpt"]
    summary = json.loads((run / "summary.json").read_text())
    other = json.loads((run / "summary.rank1.json").read_text())
    assert summary["global_step"] == other["global_step"] == 2 * STEPS_PER_EPOCH and summary["epochs"] == 2
    assert summary["val"] == other["val"]  # both ranks scored the same gathered outputs
    assert torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] \
        == 2 * STEPS_PER_EPOCH

    history = _history(run)  # the first run's row comes back from the checkpoint, the second is this run's
    assert [(r["epoch"], r["step"]) for r in history] == [(0, STEPS_PER_EPOCH), (1, 2 * STEPS_PER_EPOCH)]
    assert history[0] == _history(spawned_run)[0]
    assert history[1]["metrics"]["val/items"] == _queries(ddp_data["splits"]["val"])
    with _one_logger_version(run).open() as f:  # training went on from the checkpoint's step, not from 0
        steps = {int(r["step"]) for r in csv.DictReader(f) if r.get("train/loss")}
    assert steps and min(steps) >= STEPS_PER_EPOCH

    # the test split after fitting, once, on rank 0, every query
    assert (run / "predictions_test.jsonl").is_file() and (run / "metrics_test.json").is_file()
    assert summary["test"]["test/items"] == _queries(ddp_data["splits"]["test"]) and "test" not in other


def test_ddp_relaunch_is_refused_in_process(train_cfg, caplog):
    """`strategy=ddp` re-runs the command line for rank 1: from a test (pytest's command line) that is a
    usage error naming the way out, not a second pytest."""
    from videolang.run import EXIT_USAGE, run_stage

    cfg = train_cfg("+trainer.strategy=ddp", "trainer.devices=2", "trainer.max_epochs=1")
    assert run_stage(cfg) == EXIT_USAGE
    assert "trainer.strategy=ddp" in caplog.text and "python -m videolang.run" in caplog.text
    assert "ddp_spawn" in caplog.text
