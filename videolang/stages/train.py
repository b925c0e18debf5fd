"""`stage=train`: fit a model, select it on the validation metric, score the test split.

The stage only instantiates and wires (data module, model, callbacks, loggers,
trainer); everything else lives in `videolang.datamodule`, `videolang.model` and
`videolang.commonsense`. The data module is `stage.datamodule` (the Vid2Seq heads) unless
the task config brings its own (`task.datamodule`, e.g. the common-sense proxy task).

Distributed fits (`trainer=ddp` on GPUs, `trainer=ddp_sim` on two CPU processes) work with both of
Lightning's single-machine launchers; `FitRanks` covers what each of them leaves out:

- `strategy=ddp` (`trainer=ddp`; Lightning's recommendation) re-runs the command line for ranks > 0, with
  `hydra.run.dir=<this run's folder>`: every rank runs this stage in the same run folder, rank 0 writes the
  checkpoints, logs, `validation_history.jsonl` and `summary.json`, the others only
  `summary.rank<r>.json`. It needs the command line to be `python -m videolang.run ...` (a test or a
  notebook calling `run_stage` would be re-run as itself; a `-m` sweep would start a sweep per rank): both
  are refused with a usage error. Rank 0 returns once the other ranks have ended.
- `strategy=ddp_spawn` (`trainer=ddp_sim`) runs `fit` in spawned copies of this process, which hand back
  only the weights and the callback metrics: rank 0 passes the rest of what the summary needs (step,
  epoch, checkpoint paths, best score, early stopping, init_from) through a temporary file, and the
  spawned ranks get this process's logging (console + `<stage>.log`). Works in-process too (tests).

Either way, validation metrics are computed from every rank's decoded outputs, gathered
(`TaskModule._gathered_outputs`), so they are the whole validation split's.
"""
from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from videolang.builder.tasks import task_file_names
from videolang.core.checkpoints import check_checkpoint
from videolang.core.errors import ConfigError
from videolang.core.io import atomic_write_json, ensure_dir
from videolang.core.options import instantiate
from videolang.core.quiet import quiet_libraries
from videolang.stages import StageResult
from videolang.tasks import REGISTRY
from videolang.training.devices import warn_if_large_on_cpu

log = logging.getLogger(__name__)


def _instantiate_all(group: DictConfig | None, key: str) -> list[Any]:
    if not group:
        return []
    return [instantiate(c, f"{key}.{name}") for name, c in group.items()
            if isinstance(c, DictConfig) and "_target_" in c]


def datamodule_key(cfg: DictConfig) -> str:
    """Where the datamodule is configured: the task's own (`task.datamodule`) or the stage's default."""
    task = cfg.get("task")
    return "task.datamodule" if task is not None and task.get("datamodule") else "stage.datamodule"


def build_datamodule(cfg: DictConfig):
    key = datamodule_key(cfg)
    return instantiate(OmegaConf.select(cfg, key), key, _convert_="all")


def _number(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None)


def _whole(value: Any) -> int | None:
    """A whole number (an int, or a float such as 1e3 that is one), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def check_settings(cfg: DictConfig) -> None:
    """The numbers a training run is made of, checked before anything is built: a bad one is a usage error
    (exit 2) naming the key, instead of a library's traceback minutes later."""
    dm_key = datamodule_key(cfg)
    whole = {f"{dm_key}.batch_size": 1, f"{dm_key}.eval_batch_size": 1, f"{dm_key}.num_workers": 0,
             "trainer.max_epochs": -1, "trainer.min_epochs": 0, "trainer.max_steps": -1,
             "trainer.accumulate_grad_batches": 1, "trainer.check_val_every_n_epoch": 1,
             "trainer.log_every_n_steps": 1, "model.max_frames": 1, "model.num_time_tokens": 2,
             "model.max_input_tokens": 2, "model.max_output_tokens": 2, "model.visual_dim": 1, "seed": 0,
             "stage.torch_threads": 0}
    for key, least in whole.items():
        value = _number(cfg, key)
        if value is None:
            continue
        n = _whole(value)
        if n is None or n < least:
            meaning = " (-1: no limit)" if least == -1 else ""
            raise ConfigError(f"{key}={value!r}: must be a whole number >= {least}{meaning}")
    for key, low, open_low in (("model.optimizer.lr", 0.0, True), ("model.optimizer.weight_decay", 0.0, False),
                               ("trainer.gradient_clip_val", 0.0, False), ("model.label_smoothing", 0.0, False),
                               ("model.dropout", 0.0, False)):
        value = _number(cfg, key)
        if value is None:
            continue
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and (value > low if open_low else value >= low)
        if key in ("model.label_smoothing", "model.dropout") and ok:
            ok = value < 1
        if not ok:
            bound = f"> {low:g}" if open_low else f">= {low:g}"
            bound += " and < 1" if key in ("model.label_smoothing", "model.dropout") else ""
            raise ConfigError(f"{key}={value!r}: must be a finite number {bound}")
    max_epochs, min_epochs = _whole(_number(cfg, "trainer.max_epochs")), _whole(_number(cfg, "trainer.min_epochs"))
    if max_epochs is not None and min_epochs is not None and max_epochs != -1 and min_epochs > max_epochs:
        raise ConfigError(f"trainer.min_epochs={min_epochs} is more than trainer.max_epochs={max_epochs}")
    check_schedule_length(cfg, max_epochs)
    tasks = OmegaConf.select(cfg, "data.tasks", default=None)
    if tasks is not None:  # the dataset's task files: unknown names refused as stage=build_dataset refuses them
        task_file_names(tasks, "data.tasks")
    head = OmegaConf.select(cfg, "task.head", default=None)
    if isinstance(head, DictConfig) and head.get("_target_"):
        import pydoc

        try:
            found = pydoc.locate(str(head._target_))  # (hydra's own lookup logs its failure as an ERROR)
        except pydoc.ErrorDuringImport:
            found = None
        if not isinstance(found, type):
            known = sorted({f"videolang.tasks.{cls.__name__}" for cls, _ in REGISTRY.values()} | {
                "videolang.tasks.TaskMix"})
            raise ConfigError(f"task.head._target_={head._target_!r}: unknown task head "
                              f"(task heads: {', '.join(known)})")
    resume = cfg.stage.get("resume")
    if resume:
        check_checkpoint(str(resume))  # a missing / truncated / foreign file: named now, not by Lightning later


def check_schedule_length(cfg: DictConfig, max_epochs: int | None) -> None:
    """`trainer.max_epochs=-1` (no limit) without `trainer.max_steps` leaves the learning-rate schedule, which
    is drawn over the run's optimiser steps (`videolang.training.schedule`), without a length: refused here
    (exit 2) instead of an overflow in the schedule once the model is built."""
    max_steps = _whole(_number(cfg, "trainer.max_steps"))
    if max_epochs != -1 or (max_steps is not None and max_steps != -1) or _number(cfg, "trainer.fast_dev_run"):
        return
    if OmegaConf.select(cfg, "model.scheduler", default=None) is None:
        return  # a constant learning rate needs no length
    raise ConfigError("trainer.max_epochs=-1 (no limit) leaves the learning-rate schedule (model.scheduler) "
                      "without a length", hint="set trainer.max_steps=<n> too (the schedule then spans n optimiser "
                                               "steps), or model.scheduler=null for a constant learning rate")


def selection_first(callbacks: list[Any]) -> list[Any]:
    """Checkpoint callbacks that select on a metric (best.ckpt) before the others (epoch_NNN.ckpt, last.ckpt).

    Lightning runs checkpoint callbacks last, in the order given, and every checkpoint holds every
    callback's state at the moment it is written: with the selection updated first, the last.ckpt of
    an epoch that was a new best knows it, so a run killed right after that epoch resumes with the
    right best score instead of the previous epoch's (which a worse epoch could then beat)."""
    def selects(cb: Any) -> bool:
        return isinstance(cb, ModelCheckpoint) and getattr(cb, "monitor", None) is not None

    return sorted(callbacks, key=lambda cb: not selects(cb))


def build_module(cfg: DictConfig, inferred: dict[str, Any]):
    """The LightningModule from `cfg.model`; options left null there take the values read from the data."""
    model_cfg = cfg.model
    fill = {k: v for k, v in inferred.items() if k in model_cfg and model_cfg.get(k) is None}
    if fill:
        model_cfg = OmegaConf.merge(model_cfg, fill)
    if "visual_dim" in model_cfg and model_cfg.get("visual_dim") is None:
        raise ConfigError("model.visual_dim is null and no features were read to infer it")
    return instantiate(model_cfg, "model", _convert_="all")


def save_model_options(module, out_dir: Path) -> None:
    """The tokenizer (if the model has one) and the model options in the run folder (checkpoints carry both)."""
    ensure_dir(out_dir)
    if getattr(module, "tokenizer", None) is not None:
        module.tokenizer.save_pretrained(out_dir / "tokenizer")
    atomic_write_json(out_dir / "model_options.json", {k: v for k, v in dict(module.hparams).items()})


def write_outputs(module, split: str, out_dir: Path, metrics: dict[str, float]) -> dict[str, str]:
    """Each task's prediction file (its own layout: `predictions_<split>.json` / `.jsonl`, with the task's
    name appended in a mix) and `metrics_<split>.json`."""
    outputs = getattr(module, "last_outputs", None) or []
    files = {}
    tasks = getattr(module, "tasks", None)
    for task in tasks or []:
        mine = [o for o in outputs if o.get("task") == task.name]
        if not mine:
            continue
        suffix = f"_{task.name}" if tasks.multi else ""
        files["predictions" if not tasks.multi else f"predictions/{task.name}"] = str(
            task.write_predictions(mine, out_dir / f"predictions_{split}{suffix}"))
        submission = task.write_submission(mine, out_dir / f"submission_{split}{suffix}")
        if submission is not None:  # the benchmark's leaderboard file (TVQA: {qid: answer_idx})
            files["submission" if not tasks.multi else f"submission/{task.name}"] = str(submission)
    files["metrics"] = str(atomic_write_json(out_dir / f"metrics_{split}.json", metrics))
    return files


def run(cfg: DictConfig) -> StageResult:
    if "model" not in cfg or cfg.model is None:
        raise ConfigError("no model config: pass model=vid2seq (or an experiment=...)")
    check_settings(cfg)
    import torch

    before, omp_before = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    threads = cfg.stage.get("torch_threads")
    if threads:  # tiny models on a small shared CPU: one thread avoids oversubscription (~5x faster steps)
        torch.set_num_threads(int(threads))
        # the ranks a DDP launcher starts read it at start-up (else Lightning gives each rank cores / ranks)
        os.environ["OMP_NUM_THREADS"] = str(int(threads))
    try:
        return _train(cfg)
    finally:
        torch.set_num_threads(before)
        if threads:
            if omp_before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = omp_before


def _train(cfg: DictConfig) -> StageResult:
    L.seed_everything(int(cfg.seed), workers=True)
    out_dir = Path(cfg.paths.output_dir)
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    module = build_module(cfg, datamodule.inferred_model_options())  # feature widths, class vocabulary
    module.feature_info = datamodule.feature_info()
    callbacks = selection_first(_instantiate_all(cfg.get("callbacks"), "callbacks"))
    loggers = _instantiate_all(cfg.get("logger"), "logger")
    ranks = FitRanks(verbose=bool(cfg.get("verbose", False)))
    trainer = instantiate(cfg.trainer, "trainer", callbacks=[*callbacks, ranks], logger=loggers or False)
    check_launcher(trainer)
    warn_if_large_on_cpu(trainer, module, "train")
    if trainer.is_global_zero:
        save_model_options(module, out_dir)
        for lg in loggers:
            lg.log_hyperparams({"tags": list(cfg.get("tags") or []), **dict(module.hparams)})

    resume = cfg.stage.get("resume")
    try:
        trainer.fit(module, datamodule, ckpt_path=str(resume) if resume else None)
        outcome = ranks.outcome(trainer, module)
    finally:
        ranks.forget()
    fit_trainer = trainer
    best = outcome["best_checkpoint"]  # a file that exists, or None
    module.best_score, module.init_report = outcome["best_score"], outcome["init_from"]
    summary: dict[str, Any] = {
        "best_checkpoint": best, "last_checkpoint": outcome["last_checkpoint"],
        "monitor": module.hparams.monitor, "best_score": module.best_score,
        "global_step": outcome["global_step"], "epochs": outcome["epochs"],
        "skipped_videos": datamodule.failures.as_rows(),
        "val": {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")},
    }
    if trainer.world_size > 1:
        summary["world_size"] = int(trainer.world_size)
    if outcome["early_stopping"]:  # videolang.callbacks.EarlyStopping: when and why
        summary["early_stopping"] = outcome["early_stopping"]
    if hasattr(datamodule, "summary"):
        summary["data"] = datamodule.summary()
    if getattr(module, "init_report", None):
        summary["init_from"] = module.init_report
    if trainer.is_global_zero and hasattr(module, "write_artifacts"):
        summary["files"] = module.write_artifacts(out_dir)
    if cfg.stage.get("test_after_fit") and trainer.is_global_zero and datamodule.splits.get("test"):
        datamodule.setup("test")
        if trainer.world_size > 1:  # decode the test split on one process, with the selected weights
            trainer = L.Trainer(accelerator=str(cfg.trainer.get("accelerator", "auto")), devices=1,
                                precision=cfg.trainer.get("precision"), logger=False, enable_checkpointing=False)
        results = trainer.test(module, datamodule, ckpt_path=best, verbose=False)
        metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
        summary["test"] = metrics
        summary["test_files"] = write_outputs(module, datamodule.splits["test"], out_dir, metrics)
    if datamodule.failures:
        log.warning(datamodule.failures.summary())
    wait_for_other_ranks(fit_trainer)
    # Rank 0 reports skipped videos (exit 3); the others exit 0 with the same list in summary.rank<r>.json:
    # Lightning's `ddp` launcher kills every rank as soon as one of the ranks it started exits non-zero.
    return StageResult(summary, failed=len(datamodule.failures) if fit_trainer.is_global_zero else 0)


# ----------------------------------------------------------------------------- distributed fits
EPOCH_LEVEL_SYNC = r"It is recommended to use `self\.log\('(val|test)/"


class FitRanks(L.Callback):
    """What `stage=train` needs from the ranks of a distributed fit (module docstring, top).

    - `outcome()`: the fit's result for the summary (global step, epochs, best / last checkpoint, best
      score, early stopping, init_from), recorded by this process's own rank, or, when Lightning spawned
      the ranks (`ddp_spawn`), by rank 0 of the spawned copies, through a temporary JSON file.
    - In spawned ranks, this process's logging (Hydra's console and `<stage>.log` handlers, the quiet
      library loggers), which a spawned interpreter does not inherit.
    - Lightning's "use sync_dist=True" warning for `val/*` and `test/*` metrics is silenced: those are
      computed from the outputs gathered from every rank, so every rank logs the same value already.
    """

    def __init__(self, verbose: bool = False):
        self.parent_pid = os.getpid()
        self.verbose = verbose
        self.handoff = Path(tempfile.gettempdir()) / f"videolang-fit-{os.getpid()}-{uuid.uuid4().hex}.json"
        self.logging = _hydra_logging()
        self._outcome: dict[str, Any] | None = None

    def _spawned(self) -> bool:
        return os.getpid() != self.parent_pid

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        from lightning.fabric.utilities.warnings import PossibleUserWarning

        warnings.filterwarnings("ignore", message=EPOCH_LEVEL_SYNC, category=PossibleUserWarning)
        if self._spawned() and self.logging is not None and not logging.getLogger().handlers:
            from hydra.core.utils import configure_log

            configure_log(OmegaConf.create(self.logging))
            quiet_libraries(verbose=self.verbose)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._outcome = fit_outcome(trainer, pl_module)
        if self._spawned() and trainer.is_global_zero:
            atomic_write_json(self.handoff, self._outcome)

    def outcome(self, trainer: L.Trainer, module: L.LightningModule) -> dict[str, Any]:
        if self._outcome is not None:
            return self._outcome
        if self.handoff.is_file():  # rank 0 of spawned ranks
            return json.loads(self.handoff.read_text())
        return fit_outcome(trainer, module)  # fit ended before on_fit_end (nothing to report but the loop)

    def forget(self) -> None:
        self.handoff.unlink(missing_ok=True)


def fit_outcome(trainer: L.Trainer, module: L.LightningModule) -> dict[str, Any]:
    """What the summary says about the fit. The best score is the selecting checkpoint callback's, the
    score of the file `best_checkpoint` names (the module's own running best when no callback selects)."""
    selecting = next((c for c in trainer.checkpoint_callbacks if getattr(c, "monitor", None)), None)
    best = selecting.best_model_path if selecting is not None else ""
    last = next((c.last_model_path for c in trainer.checkpoint_callbacks if c.last_model_path), "")
    best, last = (p if p and Path(p).is_file() else "" for p in (best, last))
    stopped = next((c.report for c in trainer.callbacks if getattr(c, "report", None)), None)
    score = getattr(module, "best_score", None)
    if selecting is not None and best and selecting.best_model_score is not None:
        value = float(selecting.best_model_score)
        score = value if math.isfinite(value) else None
    return {"best_checkpoint": best or None, "last_checkpoint": last or None,
            "best_score": float(score) if score is not None else None,
            "global_step": int(trainer.global_step), "epochs": int(trainer.current_epoch),
            "early_stopping": stopped, "init_from": getattr(module, "init_report", None)}


def _hydra_logging() -> dict[str, Any] | None:
    """Hydra's resolved job logging config (console + `<stage>.log`), for spawned ranks; None outside the CLI."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return None
        job_logging = HydraConfig.get().job_logging
        return OmegaConf.to_container(job_logging, resolve=True) if job_logging is not None else None
    except Exception:  # pragma: no cover - a config composed without hydra's logging keys
        return None


def _relaunches(trainer: L.Trainer) -> bool:
    """Whether fit will start the other ranks by re-running this process's command line (`strategy=ddp`
    without torchrun / SLURM, which start every rank themselves)."""
    from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher

    env = getattr(trainer.strategy, "cluster_environment", None)
    return isinstance(getattr(trainer.strategy, "launcher", None), _SubprocessScriptLauncher) \
        and env is not None and not env.creates_processes_externally


def check_launcher(trainer: L.Trainer) -> None:
    """`strategy=ddp` re-runs the command line for each other rank: refused where that command is not this
    run's own `python -m videolang.run ...` (usage error naming the way out)."""
    if not _relaunches(trainer):
        return
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise ConfigError("trainer.strategy=ddp: Lightning starts the other ranks by re-running the command line, "
                          "which under -m would start a sweep per rank: use trainer=ddp_sim (ddp_spawn) in a "
                          "sweep, or hydra/launcher=slurm_train (one task per rank)")
    main = getattr(sys.modules.get("__main__"), "__spec__", None)
    if getattr(main, "name", None) != "videolang.run":
        raise ConfigError("trainer.strategy=ddp: Lightning starts the other ranks by re-running the command "
                          "line, which is not `python -m videolang.run ...` here: run the stage from the command "
                          "line, or use trainer.strategy=ddp_spawn (trainer=ddp_sim) in-process")


def wait_for_other_ranks(trainer: L.Trainer) -> None:
    """On the rank that re-ran the command line for the others: wait until they have ended (written their
    summaries), so the command returns when the whole run is done."""
    launcher = getattr(trainer.strategy, "launcher", None)
    for proc in getattr(launcher, "procs", None) or []:
        if isinstance(proc, subprocess.Popen):
            proc.wait()
