"""`MomentDETRModule`: Moment-DETR (Lei et al. 2021) as a second grounding model, on the same task files,
data module, feature store, evaluator and predictors as the seq2seq grounding head.

`python -m videolang.run stage=train task=grounding model=moment_detr` trains it on
`tasks/grounding_<split>.jsonl` and the store's `visual` frames; the data module builds the same
grounding items as for the seq2seq head (the whole video's frames, uniformly subsampled to
`max_frames`, the query text and its windows). Here, per batch:

- **clips**: the frames, L2-normalised, with the temporal endpoint feature [k/n, (k+1)/n] appended
  (`use_tef`, the reference's `video_tef`);
- **query**: the frozen text encoder's token features (`text_encoder`; `videolang.model.moment_detr.text`),
  L2-normalised;
- **targets**: the windows as normalised (center, width), and the saliency pairs sampled per query with a
  generator seeded by (seed, step): the same pairs in a resumed run;
- **outputs** (`decode_batch`): per query the `num_queries` spans in seconds ranked by foreground probability
  (clamped to the video and rounded to the clip grid, the reference's post-processing) and `saliency`, one
  `[time, score]` per input clip (the frame's time), in the grounding task's output layout, so the task scores
  them and writes Moment-DETR JSONL with `pred_saliency_scores` (one per `saliency_clip` seconds).

Checkpoints carry every option and name the text encoder (`model_dir:`-relative when it lies under
`paths.model_dir`), whose weights are not stored: `from_checkpoint(path)` rebuilds the model offline from
the file and that folder. Differences from the reference are listed in docs/model.md ("Moment-DETR").
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from videolang.backbone.sequences import load_tokenizer
from videolang.backbone.streams import CommonsenseOptions
from videolang.core.checkpoints import read_checkpoint
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.model_paths import is_portable, resolve, resolve_tree, search_dirs
from videolang.model.base import TaskModule, plain
from videolang.model.moment_detr.criterion import (FOREGROUND, HungarianMatcher, SetCriterion,
                                                   sample_saliency_pairs, span_targets)
from videolang.model.moment_detr.network import MomentDETRNet
from videolang.model.moment_detr.spans import span_cxw_to_xx
from videolang.model.moment_detr.text import QueryEncoder, text_width
from videolang.tasks import build_tasks
from videolang.tasks.base import output_base

log = logging.getLogger(__name__)

KIND = "moment_detr"  # the checkpoint's `videolang.kind`: which module rebuilds it
LOGGED = ("loss_span", "loss_giou", "loss_label", "loss_saliency", "class_error")


def l2_normalize(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """The reference's `l2_normalize_np_array` (x / (|x| + eps)); zero padding rows stay zero."""
    return x / (x.norm(dim=-1, keepdim=True) + eps)


class MomentDETRModule(TaskModule):
    def __init__(self, text_encoder: str = "openai/clip-vit-base-patch32", visual_dim: int | None = None,
                 hidden_dim: int = 256, nheads: int = 8, enc_layers: int = 2, dec_layers: int = 2,
                 dim_feedforward: int = 1024, dropout: float = 0.1, input_dropout: float = 0.5, num_queries: int = 10,
                 n_input_proj: int = 2, use_txt_pos: bool = False, use_tef: bool = True, normalize_video: bool = True,
                 normalize_text: bool = True, max_q_l: int = 32, max_frames: int = 75, max_windows: int = 5,
                 aux_loss: bool = True, span_loss_coef: float = 10.0, giou_loss_coef: float = 1.0,
                 label_loss_coef: float = 4.0, eos_coef: float = 0.1, set_cost_span: float = 10.0,
                 set_cost_giou: float = 1.0, set_cost_class: float = 4.0, saliency_loss_coef: float = 1.0,
                 saliency_margin: float = 0.2, saliency_pairs: int = 1, grad_clip: float = 0.1,
                 round_to_clips: bool = True, text_cache: int = 10000, text_projection: str | None = None, task: str = "grounding", head: Any = None,
                 num_time_tokens: int = 100, max_input_tokens: int = 1000, max_output_tokens: int = 3,
                 use_speech: bool = False, monitor: str = "val/map", compat_metrics: bool = False, seed: int = 0,
                 optimizer: Any = None, scheduler: Any = None, backbone: str | None = None,
                 init_from: str | None = None, model_dir: str | Path | None = None):
        """`backbone` is only what the data module's tokenizer reads (`${model.text_encoder}`); `num_time_tokens`
        and the token budgets only size the grounding task's sequence builder (items, query truncation)."""
        super().__init__(model_dir)
        tasks = build_tasks(plain(head) if head is not None else task)
        if tasks.multi or tasks.primary.produces != "windows":
            raise ConfigError(f"model=moment_detr predicts windows for a query: it trains on task=grounding only "
                              f"(got {', '.join(t.name for t in tasks)})")
        if use_speech:
            raise ConfigError("model.use_speech=true: Moment-DETR reads the clip features and the query only "
                              "(keep model.use_speech=false)")
        if visual_dim is None:
            raise ValueError("visual_dim is unknown: set model.visual_dim or let stage=train read it from the data")
        for name, value, least in (("num_queries", num_queries, 1), ("max_q_l", max_q_l, 1),
                                   ("max_windows", max_windows, 1), ("saliency_pairs", saliency_pairs, 1)):
            if int(value) < least:
                raise ConfigError(f"model.{name}={value!r}: must be >= {least}")
        head = tasks.spec()
        self.save_hyperparameters(ignore=["optimizer", "scheduler", "backbone", "model_dir"])
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.tasks = tasks
        source = resolve(text_encoder, self.model_search, what="the text encoder (model.text_encoder)") \
            if is_portable(text_encoder) else str(text_encoder)
        self.text = QueryEncoder(source, max_q_l, text_cache, text_projection)
        self.tokenizer = load_tokenizer(source, num_time_tokens)
        self.builders = {t.name: t.make_builder(self.tokenizer, num_time_tokens, max_input_tokens, max_output_tokens)
                         for t in tasks}
        for t in tasks:
            t.bind(dict(self.hparams))
        self.net = MomentDETRNet(text_width(source, text_projection), int(visual_dim) + (2 if use_tef else 0), hidden_dim, nheads,
                                 enc_layers, dec_layers, dim_feedforward, dropout, input_dropout, num_queries,
                                 n_input_proj, use_txt_pos, max_q_l)
        self.criterion = SetCriterion(HungarianMatcher(set_cost_class, set_cost_span, set_cost_giou), span_loss_coef,
                                      giou_loss_coef, label_loss_coef, eos_coef, saliency_loss_coef, saliency_margin,
                                      aux_loss)

    @property
    def commonsense(self) -> CommonsenseOptions:
        """No common-sense stream (what the predictors ask every model)."""
        return CommonsenseOptions.parse(None)

    # ---------------------------------------------------------------- inputs
    def inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The network's four inputs from a grounding batch (frames, frame mask, the queries' text)."""
        frames, mask = batch["frames"].float(), batch["frame_mask"].float()
        if self.hparams.normalize_video:
            frames = l2_normalize(frames)
        if self.hparams.use_tef:  # [k / n, (k + 1) / n] of each of the n real clips; zeros on padding
            n = mask.sum(1, keepdim=True).clamp(min=1.0)
            start = torch.arange(frames.shape[1], device=frames.device, dtype=frames.dtype)[None] / n
            frames = torch.cat([frames, torch.stack([start, start + 1.0 / n], -1) * mask[..., None]], -1)
        txt, txt_mask = self.text(list(batch["meta"]["query"]), self.device)
        if self.hparams.normalize_text:
            txt = l2_normalize(txt)
        return {"src_txt": txt, "src_txt_mask": txt_mask, "src_vid": frames, "src_vid_mask": mask}

    def targets(self, batch: dict[str, Any], generator: torch.Generator) -> dict[str, Any]:
        """Span targets and saliency pairs of each query (module docstring)."""
        meta, pairs = batch["meta"], int(self.hparams.saliency_pairs)
        clips = batch["frame_mask"].sum(1).tolist()
        spans, pos, neg, valid = [], [], [], []
        for refs, duration, n in zip(meta["references"], meta["duration"], clips):
            spans.append(span_targets(refs, float(duration), int(self.hparams.max_windows), generator).to(self.device))
            drawn = sample_saliency_pairs(refs, float(duration), int(n), pairs, generator)
            valid.append(drawn is not None)
            p, q = drawn or ([0] * pairs, [0] * pairs)
            pos.append(p)
            neg.append(q)
        as_long = {"dtype": torch.long, "device": self.device}
        return {"spans": spans, "saliency_pos": torch.tensor(pos, **as_long),
                "saliency_neg": torch.tensor(neg, **as_long),
                "saliency_valid": torch.tensor(valid, dtype=torch.bool, device=self.device)}

    def _generator(self, salt: int) -> torch.Generator:
        return torch.Generator().manual_seed((int(self.hparams.seed) * 7919 + salt) * 17
                                             + getattr(self, "_micro_batch", 0))

    # -------------------------------------------------------------- training
    def setup(self, stage: str) -> None:
        """Fitting starts from `init_from`'s weights when given (a Moment-DETR checkpoint of ours, an imported
        one included). Say so when the query encoder is not the model that made the frames (`stage=train` has
        set `feature_info` by now): allowed, but Moment-DETR pairs a CLIP's text tower with the same CLIP's frames."""
        if stage == "fit" and self.hparams.get("init_from") and self.init_report is None:
            self.init_report = self.init_weights_from(self.hparams.init_from)
        visual = str(((self.feature_info or {}).get("visual") or {}).get("config", {}).get("model") or "")
        if stage == "fit" and visual and Path(visual).name != Path(self.text.source).name:
            log.warning("Moment-DETR: the query encoder %s is not the model of the training frames (%s)",
                        self.text.source, visual)

    def init_weights_from(self, path: str | Path) -> dict[str, Any]:
        """Copy the tensors of a Moment-DETR checkpoint that match this model's by name and shape."""
        if is_portable(str(path)):
            path = resolve(str(path), self.model_dir, what="model.init_from")
        ckpt, extra = read_checkpoint(path)
        if extra.get("kind") != KIND:
            raise BadInputError(f"init_from needs a Moment-DETR checkpoint (this is a {extra.get('kind') or 'vid2seq'} "
                                "model)", path)
        return self.load_matching(ckpt["state_dict"], path)

    def configure_optimizers(self):
        """AdamW (lr 1e-4, weight decay 1e-4) and the reference's StepLR per epoch when `scheduler` is given."""
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = (self.optimizer_factory or (lambda ps: torch.optim.AdamW(ps, lr=1e-4, weight_decay=1e-4)))(params)
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer),
                                                         "interval": "epoch"}}

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """The gradient norm clipped at `grad_clip` (the reference's 0.1) unless the trainer sets its own."""
        clip = gradient_clip_val if gradient_clip_val is not None else self.hparams.grad_clip
        if clip and clip > 0:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm=gradient_clip_algorithm
                                or "norm")

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        losses = self.criterion(self.net(**self.inputs(batch)), self.targets(batch, self._generator(self.global_step)))
        bs = len(batch["meta"]["key"])
        for name in LOGGED:
            if name in losses:
                self.log(f"train/{name}", losses[name], batch_size=bs)
        self.log("train/loss", losses["loss"], prog_bar=True, batch_size=bs)
        return losses["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        outputs = self.net(**self.inputs(batch))
        # the same saliency pairs at every validation: a generator fixed per batch
        losses = self.criterion(outputs, self.targets(batch, self._generator(-1 - batch_idx)))
        self.log("val/loss", losses["loss"], batch_size=len(batch["meta"]["key"]), sync_dist=True)
        self._outputs += self.decode_outputs(outputs, batch)

    # -------------------------------------------------------------- decoding
    def decode_batch(self, batch: dict[str, Any], **overrides: Any) -> list[dict[str, Any]]:
        """Ranked windows and clip saliency per query (`overrides`, decoding options of the seq2seq heads, do not
        apply: a DETR has no search)."""
        with torch.no_grad():
            return self.decode_outputs(self.net(**self.inputs(batch)), batch)

    def decode_outputs(self, outputs: dict[str, torch.Tensor], batch: dict[str, Any]) -> list[dict[str, Any]]:
        meta = batch["meta"]
        scores = outputs["pred_logits"].softmax(-1)[..., FOREGROUND].float().cpu()
        spans = span_cxw_to_xx(outputs["pred_spans"].float()).cpu()
        saliency = outputs["saliency_scores"].float().cpu()
        clips = batch["frame_mask"].sum(1).tolist()
        out = []
        for r, n in enumerate(clips):
            item = output_base({k: v[r] for k, v in meta.items()})
            duration, n = float(item["duration"]), max(1, int(n))
            xx = (spans[r] * duration).clamp(0.0, duration)
            if self.hparams.round_to_clips:  # to the clip grid, as the reference rounds to its 2 s clips
                step = duration / n
                xx = (torch.round(xx / step) * step).clamp(0.0, duration)
            windows = [[float(s), float(e), float(p)] for (s, e), p in zip(xx.tolist(), scores[r].tolist())]
            times = list((meta.get("frame_times") or [None] * len(clips))[r] or
                         [round(k * duration / n, 3) for k in range(n)])  # the frames' times (a uniform grid without)
            item.update({"task": self.task.name, "query": meta["query"][r] or "", "dropped": {},
                         "windows": sorted(windows, key=lambda w: -w[2]),
                         "saliency": [[float(t), float(x)] for t, x in zip(times, saliency[r, :n].tolist())]})
            out.append(item)
        return out

    # ----------------------------------------------------------- checkpoints
    def checkpoint_extras(self) -> dict[str, Any]:
        return {"kind": KIND}

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str = "cpu", model_dir: str | Path | None = None,
                        **overrides: Any) -> "MomentDETRModule":
        """Rebuild a trained Moment-DETR from its checkpoint and its text encoder's folder (looked for under
        `model_dir`, then the model folder it was saved with, as every videolang checkpoint's models)."""
        ckpt, extra = read_checkpoint(path, map_location)
        if extra.get("kind") != KIND:
            raise BadInputError(f"not a videolang Moment-DETR checkpoint (a {extra.get('kind', 'Vid2Seq')} model)",
                                path)
        folders = search_dirs(model_dir, extra.get("model_dir_at_save"))
        hparams = {**resolve_tree(dict(ckpt["hyper_parameters"]), folders, required=False, search=False),
                   **overrides}
        hparams["text_encoder"] = resolve(str(hparams["text_encoder"]), folders, source=path,
                                          what="the text encoder (model.text_encoder)")
        return cls(**hparams, model_dir=folders[0]).finish_loading(ckpt, extra, path, folders)
