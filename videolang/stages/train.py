"""`stage=train`: fit a model, select it on the validation metric, score the test split.

The stage only instantiates and wires (data module, model, callbacks, loggers,
trainer); everything else lives in `videolang.datamodule`, `videolang.model` and
`videolang.commonsense`. The data module is `stage.datamodule` (the Vid2Seq heads) unless
the task config brings its own (`task.datamodule`, e.g. the common-sense proxy task).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf, open_dict

from videolang.core.errors import ConfigError, VideolangError
from videolang.core.io import atomic_write_json, ensure_dir
from videolang.stages import StageResult

log = logging.getLogger(__name__)


def instantiate(spec: Any, key: str, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate`, with a component that cannot be built from its settings (an unknown
    `_target_`, an unknown or invalid option) reported as a usage error naming the config key; a
    videolang error raised while building keeps its own message (and exit code)."""
    try:
        return hydra.utils.instantiate(spec, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__
        while isinstance(cause, InstantiationException) and cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, VideolangError):
            raise cause from None
        text = str(e).split(", set env var HYDRA_FULL_ERROR")[0].strip().replace("\n", " ")
        raise ConfigError(f"{key}: cannot be built from its settings: {text}") from None


def _instantiate_all(group: DictConfig | None, key: str) -> list[Any]:
    if not group:
        return []
    return [instantiate(c, f"{key}.{name}") for name, c in group.items()
            if isinstance(c, DictConfig) and "_target_" in c]


def build_datamodule(cfg: DictConfig):
    task = cfg.get("task")
    spec = task.get("datamodule") if task is not None else None
    return instantiate(spec or cfg.stage.datamodule, "task.datamodule" if spec else "stage.datamodule",
                       _convert_="all")


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
    task = cfg.get("task")
    dm_key = "task.datamodule" if task is not None and task.get("datamodule") else "stage.datamodule"
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
    head = OmegaConf.select(cfg, "task.head", default=None)
    if isinstance(head, DictConfig) and head.get("_target_"):
        import pydoc

        try:
            found = pydoc.locate(str(head._target_))  # (hydra's own lookup logs its failure as an ERROR)
        except pydoc.ErrorDuringImport:
            found = None
        if not isinstance(found, type):
            from videolang.tasks import REGISTRY

            known = sorted({f"videolang.tasks.{cls.__name__}" for cls, _ in REGISTRY.values()} | {
                "videolang.tasks.TaskMix"})
            raise ConfigError(f"task.head._target_={head._target_!r}: unknown task head "
                              f"(task heads: {', '.join(known)})")
    resume = cfg.stage.get("resume")
    if resume:
        from videolang.core.checkpoints import check_checkpoint

        check_checkpoint(str(resume))  # a missing / truncated / foreign file: named now, not by Lightning later


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
        stem = out_dir / (f"predictions_{split}_{task.name}" if tasks.multi else f"predictions_{split}")
        files["predictions" if not tasks.multi else f"predictions/{task.name}"] = str(
            task.write_predictions(mine, stem))
    files["metrics"] = str(atomic_write_json(out_dir / f"metrics_{split}.json", metrics))
    return files


def run(cfg: DictConfig) -> StageResult:
    if "model" not in cfg or cfg.model is None:
        raise ConfigError("no model config: pass model=vid2seq (or an experiment=...)")
    check_settings(cfg)
    import torch

    before = torch.get_num_threads()
    threads = cfg.stage.get("torch_threads")
    if threads:  # tiny models on a small shared CPU: one thread avoids oversubscription (~5x faster steps)
        torch.set_num_threads(int(threads))
    try:
        return _train(cfg)
    finally:
        torch.set_num_threads(before)


def _train(cfg: DictConfig) -> StageResult:
    L.seed_everything(int(cfg.seed), workers=True)
    out_dir = Path(cfg.paths.output_dir)
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    module = build_module(cfg, datamodule.inferred_model_options())  # feature widths, class vocabulary
    module.feature_info = datamodule.feature_info()
    callbacks = _instantiate_all(cfg.get("callbacks"), "callbacks")
    loggers = _instantiate_all(cfg.get("logger"), "logger")
    trainer = instantiate(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False)
    if trainer.is_global_zero:
        save_model_options(module, out_dir)
        for lg in loggers:
            lg.log_hyperparams({"tags": list(cfg.get("tags") or []), **dict(module.hparams)})

    resume = cfg.stage.get("resume")
    trainer.fit(module, datamodule, ckpt_path=str(resume) if resume else None)

    best = next((c.best_model_path for c in trainer.checkpoint_callbacks if getattr(c, "monitor", None)), "")
    last = next((c.last_model_path for c in trainer.checkpoint_callbacks if c.last_model_path), "")
    best, last = (p if p and Path(p).is_file() else "" for p in (best, last))
    summary: dict[str, Any] = {
        "best_checkpoint": best or None, "last_checkpoint": last or None,
        "monitor": module.hparams.monitor, "best_score": module.best_score,
        "global_step": int(trainer.global_step), "epochs": int(trainer.current_epoch),
        "skipped_videos": datamodule.failures.as_rows(),
        "val": {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")},
    }
    stopped = next((c.report for c in callbacks if getattr(c, "report", None)), None)
    if stopped:  # videolang.callbacks.EarlyStopping: when and why
        summary["early_stopping"] = stopped
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
        results = trainer.test(module, datamodule, ckpt_path=best or None, verbose=False)
        metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
        summary["test"] = metrics
        summary["test_files"] = write_outputs(module, datamodule.splits["test"], out_dir, metrics)
    if datamodule.failures:
        log.warning(datamodule.failures.summary())
    return StageResult(summary, failed=len(datamodule.failures))
