"""Training callbacks for `stage=train` (conf/callbacks/): what a user watches during a long run.

- `ValidationTable`: after each validation, one table row per epoch (the selection metric starred
  when it is a new best, the other `val/*` metrics, the mean training loss since the previous
  validation) in the Python log and in TensorBoard's text tab, and `validation_history.jsonl`.
- `EarlyStopping`: Lightning's, saying in the log and the stage summary when and why it stopped.
- `ModelCheckpoint`: Lightning's, whose selection (best score and file, top-k) survives a resume into
  another run folder.
"""
from __future__ import annotations

import logging
import math
import shutil
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping as _LightningEarlyStopping
from lightning.pytorch.callbacks import ModelCheckpoint as _LightningModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from videolang.core.io import atomic_path, atomic_write_jsonl

log = logging.getLogger(__name__)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_table(rows: list[dict[str, Any]], monitor: str) -> str:
    """A fixed-width text table of history rows: epoch, step, monitor (`*` = new best), other metrics, loss.

    Plain text with aligned columns, so it reads the same in a terminal log and (indented: a
    Markdown code block) in TensorBoard's text tab.
    """
    metrics = sorted({k for r in rows for k in r["metrics"] if k != monitor})
    header = ["epoch", "step", monitor, *metrics, "train/loss"]
    lines = [[str(r["epoch"]), str(r["step"]),
              _fmt(r["metrics"].get(monitor, "-")) + ("*" if r["best"] else " "),
              *(_fmt(r["metrics"].get(k, "-")) for k in metrics), _fmt(r.get("train_loss", "-"))] for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in [header, *lines])


class ValidationTable(L.Callback):
    """A per-epoch validation summary: the log table, TensorBoard text and `validation_history.jsonl`.

    Keeps its history (and the best value) in checkpoints, so a resumed run's table and file continue
    the interrupted one. `mode: max` because every selection metric here (CIDEr, SODA_c, mAP,
    accuracy) is higher-is-better.
    """

    def __init__(self, monitor: str = "val/cider", dirpath: str | None = None, mode: str = "max",
                 filename: str = "validation_history.jsonl", tensorboard_tag: str = "validation/table"):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be max or min, got {mode!r}")
        self.monitor, self.mode, self.tag = monitor, mode, tensorboard_tag
        self.path = Path(dirpath) / filename if dirpath else None
        self.history: list[dict[str, Any]] = []
        self.best: float | None = None
        self._loss_sum, self._loss_n = 0.0, 0

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history, self.best = list(state_dict.get("history", [])), state_dict.get("best")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:  # Lightning divides the step's loss by the accumulation: undo it
            self._loss_sum += float(loss) * trainer.accumulate_grad_batches
            self._loss_n += 1

    def _is_better(self, value: float) -> bool:
        return self.best is None or (value > self.best if self.mode == "max" else value < self.best)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                   if k.startswith("val/") and not k.endswith("_best") and getattr(v, "numel", lambda: 1)() == 1}
        value = metrics.get(self.monitor)
        best = value is not None and math.isfinite(value) and self._is_better(value)
        if best:
            self.best = value
        row: dict[str, Any] = {"epoch": int(trainer.current_epoch), "step": int(trainer.global_step),
                               "metrics": metrics, "best": best}
        if self._loss_n:
            row["train_loss"] = self._loss_sum / self._loss_n
        self._loss_sum, self._loss_n = 0.0, 0
        self.history.append(row)
        if not trainer.is_global_zero:
            return
        table = format_table(self.history, self.monitor)
        log.info("validation after epoch %d (step %d), * = new best %s:\n%s", row["epoch"], row["step"],
                 self.monitor, table)
        for lg in trainer.loggers:
            if isinstance(lg, TensorBoardLogger):
                lg.experiment.add_text(self.tag, "    " + table.replace("\n", "\n    "), global_step=row["step"])
        if self.path is not None:
            atomic_write_jsonl(self.path, [{"monitor": self.monitor, **r} for r in self.history])


class EarlyStopping(_LightningEarlyStopping):
    """Lightning's EarlyStopping (patience counted in validation checks) that says when and why it stopped.

    The log gets one warning line; `report` (the epoch, the best value and its epoch, the patience,
    Lightning's reason) goes into the train stage's `summary.json` as `early_stopping`.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.best_epoch: int | None = None
        self.report: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.best_epoch = state_dict.get("best_epoch")

    def _run_early_stopping_check(self, trainer: L.Trainer) -> None:
        before = self.best_score.clone()
        super()._run_early_stopping_check(trainer)
        if not bool(self.best_score == before):
            self.best_epoch = int(trainer.current_epoch)
        if trainer.should_stop and self.stopping_reason_message and self.report is None:
            self.report = {"epoch": int(trainer.current_epoch), "step": int(trainer.global_step),
                           "monitor": self.monitor, "best_score": float(self.best_score),
                           "best_epoch": self.best_epoch, "patience": int(self.patience),
                           "wait_count": int(self.wait_count), "reason": self.stopping_reason.name.lower(),
                           "message": self.stopping_reason_message}
            if trainer.is_global_zero:
                log.warning("early stopping after epoch %d (step %d) on %s: best %.4f at epoch %s, %d check(s) "
                            "without improvement, patience %d. %s", self.report["epoch"], self.report["step"],
                            self.monitor, self.report["best_score"], self.best_epoch, self.wait_count,
                            self.patience, self.stopping_reason_message)


class ModelCheckpoint(_LightningModelCheckpoint):
    """Lightning's ModelCheckpoint whose selection survives a resume into another run folder.

    Lightning reloads `best_model_score`, `best_k_models` and `kth_*` only when the checkpoint's
    `dirpath` is this run's (Lightning PR #12045: the files they list are in the other folder, and
    this run would compare against them, or delete them, there). `stage=train` resumes into a new run
    folder by default, so the first validation after a resume overwrote `best.ckpt` whether it was
    better or not. Here the whole state is loaded wherever the new folder is, and when training starts
    the files it lists (`best.ckpt`, the top-k) are copied from the old folder into this one under the
    same names and the paths rewritten: the new folder starts with the interrupted run's selection, and
    a later epoch replaces it only when it is better. Files that cannot be found (the old folder was
    removed) are dropped from the selection with a warning; without its best file the selection starts
    over, so `best.ckpt` and the best score never disagree.
    """

    _moved_from: str | None = None

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        old = state_dict.get("dirpath", self.dirpath)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The dirpath has changed")
            super().load_state_dict(state_dict)
        if old == self.dirpath or not old or self.dirpath is None:
            return
        self._moved_from = str(old)
        self.best_model_score = state_dict["best_model_score"]
        self.best_k_models = dict(state_dict.get("best_k_models") or {})
        self.kth_best_model_path = state_dict.get("kth_best_model_path", "")
        self.kth_value = state_dict.get("kth_value", self.kth_value)
        self.current_score = state_dict.get("current_score", self.current_score)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        old, self._moved_from = self._moved_from, None
        if old is None or self.monitor is None:  # the newest-epoch files select nothing: they stay where they are
            return
        resumed_from = Path(trainer.ckpt_path).parent if trainer.ckpt_path else None
        listed = dict.fromkeys(p for p in (*self.best_k_models, self.best_model_path, self.kth_best_model_path) if p)
        moved = {p: self._carry(p, old, resumed_from, trainer.is_global_zero) for p in listed}
        trainer.strategy.barrier("videolang-carry-checkpoints")
        best = moved.get(self.best_model_path)
        if not best:
            if self.best_model_path and trainer.is_global_zero:
                log.warning("resumed into %s: the interrupted run's best checkpoint %s is gone, so the selection "
                            "on %s starts over", self.dirpath, self.best_model_path, self.monitor)
            self.best_model_path, self.best_model_score, self.best_k_models = "", None, {}
            self.kth_best_model_path = ""
            self.kth_value = torch.tensor(-torch.inf if self.mode == "max" else torch.inf)
            return
        self.best_k_models = {moved[p]: v for p, v in self.best_k_models.items() if moved.get(p)}
        self.kth_best_model_path = moved.get(self.kth_best_model_path) or ""
        self.best_model_path = best
        if trainer.is_global_zero:
            log.info("resumed into %s: the selection on %s (best %s) carried over from %s", self.dirpath,
                     self.monitor, _fmt(float(self.best_model_score)), old)

    def _carry(self, path: str, old: str, resumed_from: Path | None, copy: bool) -> str | None:
        """`path` (in the old folder) as a file of this folder, copied once; None when it cannot be found."""
        source = Path(path)
        try:
            rel = source.relative_to(old)
        except ValueError:  # not one of the old folder's: not ours to carry
            return path if source.is_file() else None
        if not source.is_file() and resumed_from is not None and (resumed_from / rel).is_file():
            source = resumed_from / rel  # the old run folder was moved along with the checkpoint resumed from
        if not source.is_file():
            return None
        target = Path(self.dirpath) / rel
        if copy and source.resolve() != target.resolve():
            with atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
        return str(target)
