"""`CommonsenseModule`: trains the VC R-CNN proxy task and holds what the `commonsense` extractor needs.

Training (`stage=train task=commonsense`): RoI features of each frame's boxes, the self
and context losses of `videolang.commonsense.causal`, and an attention pooler fitted on
detached features (`videolang.commonsense.pooling`). Before the first step the confounder
dictionary Z and the prior P(c) are computed from the training split with the initial
network and then kept fixed. Validation reports self / context accuracy next to two
baselines that need no image: the class prior (always the most frequent class) and, for
context, the training co-occurrence table (box j's most frequent partner of box i's true class).

A non-finite loss stops the run with the step and the batch's frames named, instead of
writing a NaN model (the open NaN report on VC R-CNN).

Checkpoints are self-contained: the backbone's architecture, the classes and every
option are stored in them, so `from_checkpoint(path)` rebuilds the network offline; the backbone's
folder is recorded relative to `paths.model_dir` (`model_dir:tiny-backbone`) when it lies under it.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from videolang.commonsense.causal import CausalPredictor, ConfounderDictionary, ordered_pairs, pad_boxes
from videolang.commonsense.pooling import AttentionPool, pool_regions
from videolang.commonsense.roi import RoIFeatureNet
from videolang.core.checkpoints import read_checkpoint
from videolang.core.errors import BadInputError, ConfigError, VideolangError
from videolang.core.io import atomic_path, atomic_write_json
from videolang.core.model_paths import (default_model_dir, is_portable, portable_checkpoint, resolve,
                                        resolve_tree, search_dirs)
from videolang.training.schedule import optimizers_for

log = logging.getLogger(__name__)


class NonFiniteLossError(VideolangError):
    """Training produced NaN or inf: stop, naming where, rather than save a broken model."""


class CommonsenseModule(L.LightningModule):
    def __init__(self, backbone: dict[str, Any] | None = None, classes: list[str] | None = None, dim: int = 1024,
                 pool_size: int = 7, freeze_backbone: bool = True, pool_weight: float = 1.0,
                 monitor: str = "val/context_acc", seed: int = 0, optimizer: Any = None, scheduler: Any = None,
                 backbone_state: dict[str, Any] | None = None, model_dir: str | Path | None = None,
                 attn_dim: int | None = None, normalize: str = "reference"):
        super().__init__()
        self.model_dir = str(model_dir) if model_dir else str(default_model_dir())  # not a hyper-parameter
        if not classes:
            raise ConfigError("the commonsense model needs its class vocabulary (model.classes, or read from "
                              "the regions in the feature store by stage=train)")
        backbone = dict(backbone_state or backbone or {})
        if not backbone:
            raise ConfigError("no RoI backbone configured (model.backbone)")
        self.save_hyperparameters(ignore=["optimizer", "scheduler", "backbone_state", "model_dir"])
        if not backbone_state:  # the folder is read: `model_dir:` names resolve against model_dir
            backbone = {k: resolve(v, self.model_dir, what="the RoI backbone (model.backbone)")
                        if k in ("name", "weights_file") and is_portable(v) else v for k, v in backbone.items()}
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.classes = list(classes)
        self.roi = RoIFeatureNet(backbone, dim, pool_size, freeze_backbone)
        self.dictionary = ConfounderDictionary(len(self.classes), dim)
        self.register_buffer("cooccurrence", torch.zeros(len(self.classes), len(self.classes)))
        # attn_dim None = dim: checkpoints made before the option (conf/model/commonsense.yaml sets 512)
        self.predictor = CausalPredictor(dim, len(self.classes), attn_dim=attn_dim, normalize=normalize)
        self.attention = AttentionPool(dim)
        self.pool_classifier = torch.nn.Linear(dim, len(self.classes))  # trains the pooler only
        self.best_score: float | None = None
        self.feature_info: dict[str, Any] = {}
        self._val: dict[str, torch.Tensor] = {}

    # ---------------------------------------------------------------- features
    def region_features(self, images: torch.Tensor, boxes: list[torch.Tensor]) -> torch.Tensor:
        """Images (B, 3, H, W) uint8 or [0, 1] float + xyxy boxes per image -> (sum boxes, d)."""
        if images.dtype == torch.uint8:
            images = images.float().div_(255.0)
        return self.roi(images.to(self.device), [b.to(self.device) for b in boxes])

    @torch.no_grad()
    def frame_vectors(self, images: torch.Tensor, boxes: list[torch.Tensor], pooling: str = "mean"
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """One pooled vector per frame (B, d) and mask (B,) 0 where a frame has no box."""
        counts = [len(b) for b in boxes]
        x = self.region_features(images, boxes)
        padded, mask, _ = pad_boxes(x, counts)
        if padded.shape[1] == 0:
            return x.new_zeros((len(counts), self.hparams.dim)), torch.zeros(len(counts), dtype=torch.long)
        return pool_regions(padded, mask, pooling, self.attention), mask.any(dim=1).long()

    # ------------------------------------------------------------- optimisers
    def configure_optimizers(self):
        return optimizers_for(self, self.optimizer_factory, self.scheduler_factory, default_lr=1e-3)

    # ---------------------------------------------------- confounder dictionary
    def on_fit_start(self) -> None:
        if self.dictionary.ready:  # resumed, or initialised from a trained checkpoint
            return
        loader = self.trainer.datamodule.confounder_dataloader()
        self.fit_dictionary(loader)
        log.info("confounder dictionary: %d boxes over %d classes (%d classes unseen in training)",
                 int(self.dictionary.counts.sum()), len(self.classes), int((self.dictionary.counts == 0).sum()))

    @torch.no_grad()
    def fit_dictionary(self, batches) -> None:
        """Z, P(c) and the co-occurrence table from every box of the training split, with the current network."""
        was_training = self.training
        self.eval()
        sums = torch.zeros_like(self.dictionary.Z, dtype=torch.float64)
        self.dictionary.counts.zero_()
        self.cooccurrence.zero_()
        for batch in batches:
            x = self.region_features(batch["images"], batch["boxes"])
            labels = batch["labels"].to(self.device)
            self.dictionary.accumulate(x, labels, sums)
            _, mask, lab = pad_boxes(x, batch["counts"], labels)
            pairs = ordered_pairs(mask)
            li = lab.unsqueeze(2).expand_as(pairs)[pairs]
            lj = lab.unsqueeze(1).expand_as(pairs)[pairs]
            self.cooccurrence.index_put_((li, lj), torch.ones_like(li, dtype=self.cooccurrence.dtype),
                                         accumulate=True)
        self.dictionary.finalize(sums)
        self.train(was_training)

    # ---------------------------------------------------------------- training
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        seed = (int(self.hparams.seed) * 1_000_003 + int(self.global_step)) * 131 + int(self.global_rank)
        torch.manual_seed(seed % (2**63 - 1))

    def _forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.region_features(batch["images"], batch["boxes"])
        labels = batch["labels"].to(self.device)
        padded, mask, lab = pad_boxes(x, batch["counts"], labels)
        out = self.predictor.losses(padded, lab, mask, self.dictionary)
        # the pooler learns which boxes carry the frame (which classes are in it) on detached features
        present = torch.zeros(len(batch["counts"]), len(self.classes), device=x.device)
        present[torch.arange(len(lab), device=x.device).unsqueeze(1).expand_as(lab)[mask], lab[mask]] = 1.0
        pooled = self.attention(padded.detach(), mask)
        out["pool"] = F.binary_cross_entropy_with_logits(self.pool_classifier(pooled), present)
        out["loss"] = out["loss"] + float(self.hparams.pool_weight) * out["pool"]
        out.update(labels=lab, mask=mask)
        return out

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self._forward(batch)
        loss = out["loss"]
        if not torch.isfinite(loss):
            frames = ", ".join(f"{v}@{t:.1f}s" for v, t in list(zip(batch["video_id"], batch["time"]))[:8])
            raise NonFiniteLossError(
                f"non-finite training loss {loss.item()} (self {out['self'].item():.4g}, context "
                f"{out['context'].item():.4g}) at global step {self.global_step}, epoch {self.current_epoch}, "
                f"batch {batch_idx} (frames {frames}); training stopped, earlier checkpoints are intact",
                hint="lower the learning rate or check these frames' boxes")
        bs = len(batch["counts"])
        self.log_dict({"train/self_loss": out["self"], "train/context_loss": out["context"],
                       "train/pool_loss": out["pool"]}, batch_size=bs)
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        return loss

    # -------------------------------------------------------------- evaluation
    def on_validation_epoch_start(self) -> None:
        self._val = {}

    on_test_epoch_start = on_validation_epoch_start

    def _count(self, name: str, correct: torch.Tensor) -> None:
        hits, total = self._val.get(name, (0, 0))
        self._val[name] = (hits + int(correct.sum()), total + int(correct.numel()))

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def _evaluate(self, batch: dict[str, Any], prefix: str) -> None:
        out = self._forward(batch)
        lab, mask, pairs = out["labels"], out["mask"], out["pairs"]
        self.log(f"{prefix}/loss", out["loss"], batch_size=len(batch["counts"]), sync_dist=True)
        truth = lab[mask]
        self._count("self_acc", out["self_logits"].argmax(-1)[mask] == truth)
        self._count("prior_acc", torch.full_like(truth, int(self.dictionary.prior.argmax())) == truth)
        target = lab.unsqueeze(1).expand_as(pairs)[pairs]
        self._count("context_acc", out["context_logits"].argmax(-1)[pairs] == target)
        self._count("context_prior_acc", torch.full_like(target, int(self.dictionary.prior.argmax())) == target)
        partner = self.cooccurrence.argmax(dim=1)[lab.unsqueeze(2).expand_as(pairs)[pairs]]
        self._count("context_cooccurrence_acc", partner == target)

    def _epoch_metrics(self, prefix: str) -> dict[str, float]:
        counts = self._val
        if self.trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(gathered, counts)
            counts = {k: (sum(g[k][0] for g in gathered if k in g), sum(g[k][1] for g in gathered if k in g))
                      for k in counts}
        metrics = {f"{prefix}/{k}": 100.0 * h / max(t, 1) for k, (h, t) in counts.items()}
        metrics.update({f"{prefix}/boxes": float(counts.get("self_acc", (0, 0))[1]),
                        f"{prefix}/pairs": float(counts.get("context_acc", (0, 0))[1])})
        self.log_dict(metrics)
        return metrics

    def on_validation_epoch_end(self) -> None:
        metrics = self._epoch_metrics("val")
        if self.trainer.sanity_checking:
            return
        key = self.hparams.monitor
        if key in metrics and (self.best_score is None or metrics[key] > self.best_score):
            self.best_score = metrics[key]
        if self.best_score is not None:
            self.log(f"{key}_best", float(self.best_score))

    def on_test_epoch_end(self) -> None:
        self._epoch_metrics("test")

    # ------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["videolang"] = {"kind": "commonsense", "backbone": self.roi.backbone.describe(),
                                   "best_score": self.best_score,
                                   **portable_checkpoint(checkpoint, self.model_dir, self.feature_info)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        extra = checkpoint.get("videolang") or {}
        self.best_score = extra.get("best_score")
        self.feature_info = extra.get("features") or self.feature_info

    def write_artifacts(self, out_dir: Path) -> dict[str, str]:
        """The confounder dictionary, prior and classes next to the checkpoints, in safe formats."""
        from safetensors.torch import save_file

        path = Path(out_dir) / "confounder.safetensors"
        with atomic_path(path) as tmp:
            save_file({"Z": self.dictionary.Z.cpu().contiguous(), "prior": self.dictionary.prior.cpu().contiguous(),
                       "counts": self.dictionary.counts.cpu().contiguous(),
                       "cooccurrence": self.cooccurrence.cpu().contiguous()}, str(tmp))
        classes = atomic_write_json(Path(out_dir) / "classes.json", self.classes)
        return {"confounder": str(path), "classes": str(classes)}

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str = "cpu",
                        model_dir: str | Path | None = None) -> "CommonsenseModule":
        """Rebuild a trained common-sense model from its checkpoint file alone (no hub, no config): the
        backbone's architecture is stored, so its folder is not needed (its recorded path is resolved
        against `model_dir`, then the model folder it was saved with, when found there, and kept as stored
        otherwise)."""
        ckpt, extra = read_checkpoint(path, map_location)
        if extra.get("kind") != "commonsense":
            raise BadInputError("not a videolang commonsense checkpoint (train one with stage=train "
                                "task=commonsense)", path)
        folders = search_dirs(model_dir, extra.get("model_dir_at_save"))
        hparams = resolve_tree(dict(ckpt["hyper_parameters"]), folders, required=False, search=False)
        module = cls(**hparams, backbone_state=extra["backbone"], model_dir=folders[0])
        module.load_state_dict(ckpt["state_dict"])
        module.best_score = extra.get("best_score")
        module.feature_info = extra.get("features") or {}
        return module.eval()
