"""`stage=train`: fit a model, select it on the validation metric, score the test split.

The stage only instantiates and wires (data module, model, callbacks, loggers,
trainer); everything else lives in `videolang.datamodule`, `videolang.model` and
`videolang.commonsense`. The data module is `stage.datamodule` (the Vid2Seq heads) unless
the task config brings its own (`task.datamodule`, e.g. the common-sense proxy task).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf, open_dict

from videolang.core.errors import ConfigError
from videolang.core.io import atomic_write_json, ensure_dir
from videolang.stages import StageResult

log = logging.getLogger(__name__)


def _instantiate_all(group: DictConfig | None) -> list[Any]:
    if not group:
        return []
    return [hydra.utils.instantiate(c) for c in group.values() if isinstance(c, DictConfig) and "_target_" in c]


def build_datamodule(cfg: DictConfig):
    task = cfg.get("task")
    spec = task.get("datamodule") if task is not None else None
    return hydra.utils.instantiate(spec or cfg.stage.datamodule, _convert_="all")


def build_module(cfg: DictConfig, inferred: dict[str, Any]):
    """The LightningModule from `cfg.model`; options left null there take the values read from the data."""
    model_cfg = cfg.model
    fill = {k: v for k, v in inferred.items() if k in model_cfg and model_cfg.get(k) is None}
    if fill:
        model_cfg = OmegaConf.merge(model_cfg, fill)
    if "visual_dim" in model_cfg and model_cfg.get("visual_dim") is None:
        raise ConfigError("model.visual_dim is null and no features were read to infer it")
    return hydra.utils.instantiate(model_cfg, _convert_="all")


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
    callbacks = _instantiate_all(cfg.get("callbacks"))
    loggers = _instantiate_all(cfg.get("logger"))
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
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
