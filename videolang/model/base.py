"""`TaskModule`: what every LightningModule trained on task files shares, whatever its network.

`Vid2SeqModule` (the seq2seq heads on the T5 backbone) and `MomentDETRModule` (a DETR over clip
features and query tokens) are trained, validated, tested and loaded the same way: their tasks
(`videolang.tasks`, a `TaskMix`) read the task files, build the items, score the outputs and write
the prediction files; the module only turns a batch into outputs (`decode_batch`). Here:

- the task routing (`task`, `builder`: the primary task and its sequence builder);
- validation / test outputs gathered from every rank and scored by each task (`val/<metric>`, or
  `val/<task>/<metric>` in a mix), the best monitored score tracked;
- `test_step` / `predict_step`, which only decode;
- the per-step reseeding of training randomness (dropout, sampled targets) from (seed, step, rank), so
  a resumed run takes the same steps as an unbroken one.

What a subclass provides: `tasks`, `builders`, `decode_batch(batch) -> [output dict]`, its
`training_step` / `validation_step` (which adds `decode_batch`'s outputs to `self._outputs`), and
`hparams.seed`, `hparams.monitor` and optionally `hparams.compat_metrics`.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from videolang.backbone.sequences import SequenceBuilder
from videolang.core.errors import BadInputError
from videolang.core.model_paths import default_model_dir, portable_checkpoint
from videolang.evaluate import Meteor
from videolang.tasks import Seq2SeqTask, TaskMix


log = logging.getLogger(__name__)


def plain(value: Any) -> Any:
    """DictConfig / ListConfig -> plain containers (checkpoints must load with weights_only=True)."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


class TaskModule(L.LightningModule):
    """Outputs of the validation / test splits, gathered and scored by the module's tasks."""

    tasks: TaskMix
    builders: dict[str, SequenceBuilder]

    def __init__(self, model_dir: str | Path | None = None) -> None:
        super().__init__()
        # where `model_dir:` paths resolve and what checkpoints store paths relative to (not a hyper-parameter)
        self.model_dir = str(model_dir) if model_dir else str(default_model_dir())
        self.best_score: float | None = None
        # What made the training features ({key: extractor description}); set by stage=train, kept in checkpoints.
        self.feature_info: dict[str, Any] = {}
        # Set when loaded from a checkpoint: its file, the model_dir its `model_dir:` paths were relative to,
        # and the folders its models are looked for in (`search_dirs`: model_dir, then the saved one).
        self.checkpoint_file: str | None = None
        self.saved_model_dir: str | None = None
        self.model_search: list[str] = [self.model_dir]
        self._outputs: list[dict[str, Any]] = []
        self._meteor = None
        # What `init_from` loaded (set when fitting starts): {"checkpoint", "loaded", "skipped", "missing"}.
        self.init_report: dict[str, Any] | None = None

    def load_matching(self, source: dict[str, torch.Tensor], path: str | Path) -> dict[str, Any]:
        """Copy every tensor of `source` (a checkpoint's state dict) whose name and shape match this model's.

        Tensors that do not fit (a wider input, another task's extra layers) are skipped and listed; a
        checkpoint sharing no tensor with this model is an error naming it (`model.init_from`)."""
        own = self.state_dict()
        loaded, skipped = {}, []
        for name, tensor in source.items():
            if name in own and tuple(own[name].shape) == tuple(tensor.shape):
                loaded[name] = tensor
            elif name in own:
                skipped.append(f"{name} {tuple(tensor.shape)} -> {tuple(own[name].shape)}")
        if not loaded:
            raise BadInputError("init_from: no tensor of this checkpoint fits the model", path)
        self.load_state_dict(loaded, strict=False)
        missing = sorted(set(own) - set(loaded))
        report = {"checkpoint": str(path), "loaded": len(loaded),
                  "parameters": int(sum(t.numel() for t in loaded.values())), "skipped": skipped, "missing": missing}
        log.info("init_from %s: %d tensors (%d parameters) loaded, %d skipped (shape), %d not in it%s", path,
                 len(loaded), report["parameters"], len(skipped), len(missing),
                 f": {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}" if missing else "")
        return report

    # ------------------------------------------------------------- options
    @property
    def task(self) -> Seq2SeqTask:
        """The (first) task of this model."""
        return self.tasks.primary

    @property
    def builder(self) -> SequenceBuilder:
        """The first task's sequence builder (pad / eos ids are the same for every task)."""
        return self.builders[self.tasks.primary.name]

    # ------------------------------------------------------------ training
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # (seed, step, micro-batch within a gradient-accumulation group, rank): accumulated micro-batches
        # draw their own dropout / span noise, and a resumed run draws the same as an unbroken one.
        micro = batch_idx % max(1, int(self.trainer.accumulate_grad_batches)) if self._trainer is not None else 0
        self._micro_batch = micro
        seed = ((int(self.hparams.seed) * 1_000_003 + int(self.global_step)) * 131 + int(self.global_rank)) * 17 + micro
        torch.manual_seed(seed % (2**63 - 1))

    def decode_batch(self, batch: dict[str, Any], **overrides: Any) -> list[dict[str, Any]]:
        """One output dict per item of the batch, in batch order, with `task` set (the task's own layout)."""
        raise NotImplementedError

    # ---------------------------------------------------------- evaluation
    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._outputs += self.decode_batch(batch)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[dict[str, Any]]:
        return self.decode_batch(batch)

    def on_validation_epoch_start(self) -> None:
        self._outputs = []

    on_test_epoch_start = on_validation_epoch_start

    def _gathered_outputs(self) -> list[dict[str, Any]]:
        """This epoch's outputs of every rank: under DDP each rank decoded its share of the split, so they are
        gathered (`all_gather_object`) and the items the distributed sampler repeated to even out the ranks
        are dropped by (task, key); every rank then holds the whole split, once."""
        outputs, self._outputs = self._outputs, []
        if self.trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(gathered, outputs)
            seen, outputs = set(), []
            for part in gathered:  # the distributed sampler may repeat items to even out ranks
                for item in part:
                    if (item.get("task"), item["key"]) not in seen:
                        seen.add((item.get("task"), item["key"]))
                        outputs.append(item)
        return outputs

    def _score(self, prefix: str) -> dict[str, float]:
        """Each task's outputs scored by its own evaluator; names `<prefix>/<metric>` (one task) or
        `<prefix>/<task>/<metric>` (a mix)."""
        outputs = self._gathered_outputs()
        if not outputs:
            return {}
        metrics: dict[str, float] = {}
        for task in self.tasks:
            mine = [o for o in outputs if o.get("task") == task.name]
            if not mine:
                continue
            if task.needs_meteor and self._meteor is None:  # one METEOR process per run, not per validation
                self._meteor = Meteor()
            scores = task.score(mine, compat=bool(self.hparams.get("compat_metrics", False)), full=prefix == "test",
                                meteor=self._meteor if task.needs_meteor else None)
            dropped = Counter()
            for item in mine:
                dropped.update(item.get("dropped", {}))
            if task.malformed_key:
                scores[task.malformed_key] = float(sum(dropped.values()))
            scores["items"] = float(len(mine))  # items scored (videos, chapters, queries, questions), all ranks'
            metrics.update({f"{self.tasks.prefix(prefix, task)}{k}": float(v) for k, v in scores.items()})
        self.log_dict(metrics)  # every rank scored the same gathered outputs: identical values
        self.last_outputs = outputs
        return metrics

    def on_validation_epoch_end(self) -> None:
        metrics = self._score("val")
        if self.trainer.sanity_checking or not metrics:
            return
        key = self.hparams.monitor
        if key in metrics:
            if self.best_score is None or metrics[key] > self.best_score:
                self.best_score = metrics[key]
            self.log(f"{key}_best", float(self.best_score))

    def on_test_epoch_end(self) -> None:
        self._score("test")

    def teardown(self, stage: str) -> None:
        if self._meteor is not None and not getattr(self, "keep_meteor", False):  # stage=test scores on with it
            self._meteor.close()
            self._meteor = None

    # --------------------------------------------------------- checkpoints
    def checkpoint_extras(self) -> dict[str, Any]:
        """What this kind of model stores in the checkpoint's `videolang` section besides the common entries."""
        return {}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # local model paths under model_dir stored as `model_dir:<rel>` (hub names and other paths as they are);
        # `model_dir_at_save`: what `model_dir:` meant then (the fingerprint check in predict)
        checkpoint["videolang"] = {**self.checkpoint_extras(), "best_score": self.best_score,
                                   **portable_checkpoint(checkpoint, self.model_dir, self.feature_info)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        extra = checkpoint.get("videolang") or {}
        self.best_score = extra.get("best_score")
        self.feature_info = extra.get("features") or self.feature_info
        self.saved_model_dir = extra.get("model_dir_at_save")

    def finish_loading(self, ckpt: dict[str, Any], extra: dict[str, Any], path: str | Path,
                       folders: list[str]) -> "TaskModule":
        """The last steps of `from_checkpoint`: the weights, what the checkpoint records, eval mode."""
        self.model_search = folders
        self.load_state_dict(ckpt["state_dict"])
        self.best_score = extra.get("best_score")
        self.feature_info = extra.get("features") or {}
        self.checkpoint_file = str(path)
        self.saved_model_dir = extra.get("model_dir_at_save")
        return self.eval()
