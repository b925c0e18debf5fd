"""`Vid2SeqModule`: the LightningModule that trains, validates, tests and predicts with `Vid2Seq`.

Checkpoints carry their own options: the constructor arguments (plain values,
via `save_hyperparameters`), the backbone's T5 config and the tokenizer files
(with the time tokens) are stored inside every checkpoint, so
`Vid2SeqModule.from_checkpoint(path)` rebuilds the model from that file alone,
offline, with `torch.load(..., weights_only=True)`. The models it records (the backbone, the
extractors that made the training features) are stored relative to `paths.model_dir`
(`model_dir:tiny-clip`, `videolang.core.model_paths`) or by hub name, and resolved against the
current `model_dir` when loaded, so the run folder and the model folder can both move.

The task (`task`: a registry name, kept for older checkpoints; or `head`: a
`{_target_, options}` block from the task config, a task object or a `TaskMix`) owns
items, decoding, scoring and prediction files (`videolang.tasks`); this module only
routes each item of a batch to its task (`meta["task"]`).

Resuming continues exactly: the optimizer, scheduler and loop state are
Lightning's; the data order is seeded by (seed, epoch) in the data module; and
dropout / span-noise randomness is re-seeded from (seed, global step, rank) at
every training step, so an interrupted run and an unbroken one take the same steps.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import torch

from videolang.backbone.losses import denoising_batch, label_smoothed_ce, sentinel_ids
from videolang.backbone.sequences import SENTENCE_STYLES, SequenceBuilder, load_tokenizer
from videolang.backbone.streams import CommonsenseOptions
from videolang.backbone.vid2seq import Vid2Seq
from videolang.core.checkpoints import read_checkpoint
from videolang.core.errors import BadInputError
from videolang.core.model_paths import is_portable, resolve, resolve_tree, search_dirs
from videolang.model.base import TaskModule, plain
from videolang.tasks import Seq2SeqTask, TaskMix, build_tasks
from videolang.training.schedule import optimizers_for

log = logging.getLogger(__name__)

DEFAULT_GENERATION = {"num_beams": 4, "no_repeat_ngram_size": 0, "repetition_penalty": 1.0, "length_penalty": 1.0}
DEFAULT_DENOISING = {"enabled": False, "weight": 1.0, "noise_density": 0.25, "mean_span": 5.0}


def tokenizer_to_tensors(tokenizer: Any) -> dict[str, torch.Tensor]:
    """Every file of `tokenizer.save_pretrained` as a uint8 tensor (weights_only-safe)."""
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        return {p.name: torch.frombuffer(bytearray(p.read_bytes()), dtype=torch.uint8).clone()
                for p in sorted(Path(tmp).iterdir()) if p.is_file()}


def tokenizer_from_tensors(files: dict[str, torch.Tensor]) -> Any:
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(bytes(data.numpy().tobytes()))
        return AutoTokenizer.from_pretrained(tmp)


class Vid2SeqModule(TaskModule):
    def __init__(self, backbone: str = "t5-base", pretrained: bool = True, num_time_tokens: int = 100,
                 visual_dim: int | None = 768, visual_layers: int = 12, visual_heads: int = 12,
                 max_frames: int = 100, dropout: float = 0.1, use_speech: bool = True, use_video: bool = True,
                 task: str = "chapter_generation", max_input_tokens: int = 1000, max_output_tokens: int = 256,
                 label_smoothing: float = 0.1, denoising: dict | None = None, generation: dict | None = None,
                 dedup_titles: bool = True, monitor: str = "val/cider", seed: int = 0,
                 optimizer: Any = None, scheduler: Any = None, t5_config: dict | None = None,
                 tokenizer: Any = None, compat_metrics: bool = False, commonsense: dict | None = None,
                 commonsense_dim: int | None = None, head: Any = None, init_from: str | None = None,
                 time_token_norm: bool = False, frame_deltas: bool = False, model_dir: str | Path | None = None,
                 visual_arch: str = "vid2seq", visual_ff_dim: int | None = None, visual_padding: str = "mask",
                 sentence_style: str = "plain"):
        super().__init__(model_dir)  # where `model_dir:` paths resolve (not a hyper-parameter)
        denoising = {**DEFAULT_DENOISING, **(plain(denoising) or {})}
        # None (a checkpoint made before the switch existed) = disabled; stored normalised in hparams
        cs = CommonsenseOptions.parse(plain(commonsense))
        commonsense = cs.as_dict()
        if cs.enabled and commonsense_dim is None:
            raise ValueError("commonsense_dim is unknown: set model.commonsense_dim or let stage=train read it "
                             "from the data")
        commonsense_dim = int(commonsense_dim) if cs.enabled else None
        generation = {**DEFAULT_GENERATION, **(plain(generation) or {})}
        t5_config = plain(t5_config)
        backbone = str(backbone)
        tasks = build_tasks(plain(head) if head is not None else task)
        if visual_dim is None:
            raise ValueError("visual_dim is unknown: set model.visual_dim or let stage=train read it from the data")
        needs_text = [t.name for t in tasks if t.needs_text_encoder]
        if not use_speech and needs_text:
            raise ValueError(f"{needs_text[0]} reads its query or question through the T5 encoder: model.use_speech "
                             "must be true (the task's own options leave the transcript out)")
        head = tasks.spec()  # plain values (saved below): checkpoints rebuild the tasks from it
        self.save_hyperparameters(ignore=["optimizer", "scheduler", "tokenizer", "t5_config", "model_dir"])
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.tasks: TaskMix = tasks
        # the backbone folder is read only when the tokenizer or T5 options are not given (a checkpoint has both)
        needs_backbone = tokenizer is None or not t5_config
        source = resolve(backbone, self.model_dir, what="the T5 backbone (model.backbone)",
                         required=needs_backbone) if is_portable(backbone) else backbone
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(source, num_time_tokens)
        self.builders: dict[str, SequenceBuilder] = {
            t.name: t.make_builder(self.tokenizer, num_time_tokens, max_input_tokens, max_output_tokens)
            for t in tasks}
        if sentence_style not in SENTENCE_STYLES:
            raise ValueError(f"sentence_style must be one of {SENTENCE_STYLES}, not {sentence_style!r}")
        for t in tasks:
            self.builders[t.name].sentence_style = sentence_style
            t.bind(dict(self.hparams))
        if t5_config:  # rebuilding from a checkpoint: architecture only, the weights follow
            t5 = Vid2Seq.load_t5(None, len(self.tokenizer), t5_config)
        elif pretrained:
            t5 = Vid2Seq.load_t5(source, len(self.tokenizer))
        else:
            t5 = Vid2Seq.load_t5(None, len(self.tokenizer), _fresh_config(source))
        self.net = Vid2Seq(t5, visual_dim, visual_layers, visual_heads, max_frames, dropout, use_speech, use_video,
                           commonsense_dim=commonsense_dim, commonsense_fusion=cs.active_fusion,
                           commonsense_layers=cs.layers, frame_deltas=frame_deltas,
                           saliency=any(t.needs_saliency_head for t in tasks), visual_arch=visual_arch,
                           visual_ff_dim=visual_ff_dim, visual_padding=visual_padding)
        self.sentinel_ids = sentinel_ids(self.tokenizer)
        self.train()  # from_pretrained leaves T5 in eval mode; Lightning keeps submodule modes as found

    # ------------------------------------------------------------- options
    @property
    def commonsense(self) -> CommonsenseOptions:
        """The common-sense switch this model was built with (disabled for checkpoints made before it)."""
        return CommonsenseOptions.parse(self.hparams.get("commonsense"))

    @property
    def generation_kwargs(self) -> dict[str, Any]:
        gen = dict(self.hparams.generation)
        gen.setdefault("max_new_tokens", self.hparams.max_output_tokens)
        return {k: v for k, v in gen.items() if v is not None}

    def configure_optimizers(self):
        return optimizers_for(self, self.optimizer_factory, self.scheduler_factory, default_lr=3e-4)

    # -------------------------------------------------------- initialisation
    def setup(self, stage: str) -> None:
        """Fitting starts from `init_from`'s weights (a pretraining checkpoint) when given. A resumed
        run (`stage.resume`) loads its own checkpoint after this, so it continues where it stopped."""
        if stage == "fit" and self.hparams.get("init_from") and self.init_report is None:
            self.init_report = self.init_weights_from(self.hparams.init_from)

    def init_weights_from(self, path: str | Path) -> dict[str, Any]:
        """Copy every tensor of a videolang Vid2Seq checkpoint whose name and shape match this model's
        (`load_matching`). The tokenizers must agree (same vocabulary and time tokens), else token rows
        would mean other tokens."""
        if is_portable(str(path)):
            path = resolve(str(path), self.model_dir, what="model.init_from")
        ckpt, extra = read_checkpoint(path)
        if "tokenizer_files" not in extra:
            raise BadInputError(f"init_from needs a Vid2Seq checkpoint (this is a {extra.get('kind', 'other')} "
                                "model)", path)
        theirs = tokenizer_from_tensors(extra["tokenizer_files"]).get_vocab()
        if theirs != self.tokenizer.get_vocab():
            raise BadInputError(f"init_from: its tokenizer differs from this model's ({len(theirs)} vs "
                                f"{len(self.tokenizer)} tokens, or other ids): same backbone and num_time_tokens "
                                "are needed", path)
        return self.load_matching(ckpt["state_dict"], path)

    # ------------------------------------------------------------ training
    def _denoising_batch(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed((int(self.hparams.seed) * 7919 + int(self.global_step)) * 17
                                            + getattr(self, "_micro_batch", 0))
        d = self.hparams.denoising
        return denoising_batch(batch["input_ids"], batch["attention_mask"], self.sentinel_ids, self.builder.pad_id,
                               self.builder.eos_id, gen, d["noise_density"], d["mean_span"])

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """The optimiser step, then with `time_token_norm` the time-token rows of the input embedding
        and of the LM head rescaled so their mean norm equals the ordinary vocabulary's (VidChapters'
        Vid2Seq port does this; the added rows otherwise start and drift at another scale). Here, not
        in a zero-grad hook: Lightning zeroes gradients before the backward pass, and changing weights
        between forward and backward breaks autograd."""
        super().optimizer_step(*args, **kwargs)
        if self.hparams.get("time_token_norm") and self.builder.time_ids:
            rescale_time_rows(self.net.t5, self.builder.time_ids, len(self.tokenizer))

    def task_groups(self, batch: dict[str, Any]) -> list[tuple[Seq2SeqTask, list[int]]]:
        """(task, batch rows) for each task present in a batch, in first-appearance order."""
        n = batch["input_ids"].shape[0]
        names = [self.tasks.get(t).name for t in (batch["meta"].get("task") or [None] * n)]
        return [(self.tasks[name], [r for r in range(n) if names[r] == name]) for name in dict.fromkeys(names)]

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        smoothing = self.hparams.label_smoothing
        bs = batch["labels"].shape[0]
        # each task's own loss on its rows (token cross-entropy, VideoQA's over candidates, pretraining's two)
        caption, logged = self.task_loss(batch)
        extras = {f"train/{k}": v for k, v in logged.items()}
        loss = caption
        if self.hparams.denoising["enabled"] and self.net.use_speech and self.sentinel_ids:
            input_ids, attention, labels = self._denoising_batch(batch)
            logits = self.net(batch, labels=labels, input_ids=input_ids, attention_mask=attention)
            denoise = label_smoothed_ce(logits, labels, smoothing)
            loss = caption + self.hparams.denoising["weight"] * denoise
            self.log("train/denoising_loss", denoise, batch_size=bs)
        for name, value in extras.items():
            self.log(name, value, batch_size=bs)
        self.log("train/caption_loss", caption, batch_size=bs)
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        return loss

    # ---------------------------------------------------- generation + eval
    def decode_batch(self, batch: dict[str, Any], **overrides: Any) -> list[dict[str, Any]]:
        """Each item's output from its own task (events, a title, ranked windows, a chosen answer).

        Items of different tasks (a multi-task batch) are run separately, each through its task's
        `infer` (generation with the task's options, or its own scoring); outputs come back in batch order.
        """
        meta = batch["meta"]
        n = len(meta["key"])
        out: list[Any] = [None] * n
        for task, rows in self.task_groups(batch):
            builder = self.builders[task.name]
            sub = batch if len(rows) == n else select_rows(batch, rows)
            items = [{k: v[r] for k, v in meta.items()} for r in rows]
            for r, item in zip(rows, task.infer(self.net, sub, items, builder,
                                                {**self.generation_kwargs, **overrides})):
                item["task"] = task.name
                out[r] = item
        return out

    def task_loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        """Each task's own loss on its rows of the batch, weighted by rows, and the terms it logs."""
        bs = batch["labels"].shape[0]
        total, logged = 0.0, {}
        for task, rows in self.task_groups(batch):
            sub = batch if len(rows) == bs else select_rows(batch, rows)
            part, terms = task.loss(self.net, sub, self.hparams.label_smoothing)
            total = total + part * (len(rows) / bs)
            logged.update({k if not self.tasks.multi else f"{task.name}/{k}": v for k, v in terms.items()})
        return total, logged

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        # the training objective (VideoQA's candidate CE, pretraining's generative + denoising terms), with
        # a fixed seed per batch so the span noise of a validation batch is the same at every validation
        with torch.random.fork_rng():
            torch.manual_seed(int(self.hparams.seed) * 7 + batch_idx)
            loss, _ = self.task_loss(batch)
        self.log("val/loss", loss, batch_size=batch["labels"].shape[0], sync_dist=True)
        self._outputs += self.decode_batch(batch)

    # --------------------------------------------------------- checkpoints
    def checkpoint_extras(self) -> dict[str, Any]:
        """The T5 options and the tokenizer files (with the time tokens): the backbone folder is not needed to
        rebuild the model."""
        import json

        return {"t5_config": json.loads(self.net.t5.config.to_json_string()),
                "tokenizer_files": tokenizer_to_tensors(self.tokenizer)}

    @classmethod
    def from_checkpoint(cls, path: str | Path, map_location: str = "cpu", model_dir: str | Path | None = None,
                        **overrides: Any) -> "Vid2SeqModule":
        """Rebuild a trained model from a checkpoint file alone (no hub, no config).

        `model_dir` (`paths.model_dir`) is where the models the checkpoint names relative to it are
        looked for first, then the model folder it was saved with; without it, the saved folder (when
        it still exists), then the project's `models/` (`videolang.core.model_paths.search_dirs`).
        `feature_info`, from which predict rebuilds the extractors, is kept as stored and resolved
        there; the backbone folder is not needed (its T5 options and tokenizer are in the checkpoint)."""
        ckpt, extra = read_checkpoint(path, map_location)
        if "t5_config" not in extra or "tokenizer_files" not in extra:
            raise BadInputError(f"not a videolang Vid2Seq checkpoint (a {extra.get('kind', 'other')} model: no "
                                "stored T5 options or tokenizer)", path)
        folders = search_dirs(model_dir, extra.get("model_dir_at_save"))
        # `model_dir:` paths found: their current location; not found (not needed to rebuild): as stored
        stored = resolve_tree(dict(ckpt["hyper_parameters"]), folders, required=False, search=False)
        hparams = {**stored, **overrides}
        module = cls(**hparams, t5_config=extra["t5_config"], tokenizer=tokenizer_from_tensors(extra["tokenizer_files"]),
                     model_dir=folders[0])
        return module.finish_loading(ckpt, extra, path, folders)


def select_rows(batch: dict[str, Any], rows: list[int]) -> dict[str, Any]:
    """The sub-batch of `rows`: tensors indexed on their first dimension, meta lists picked."""
    index = torch.as_tensor(rows, dtype=torch.long)
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            out[k] = v.index_select(0, index.to(v.device))
        elif k == "meta":
            out[k] = {name: [values[r] for r in rows] for name, values in v.items()}
        else:
            out[k] = v
    return out


@torch.no_grad()
def rescale_time_rows(t5: Any, time_ids: list[int], vocab_size: int) -> None:
    """Time-token rows of the (possibly tied) embedding and LM head scaled to the ordinary rows' mean norm."""
    ids = torch.as_tensor(time_ids, dtype=torch.long)
    seen = set()
    for weight in (t5.get_input_embeddings().weight, t5.get_output_embeddings().weight):
        if weight.data_ptr() in seen:
            continue
        seen.add(weight.data_ptr())
        ordinary = torch.ones(min(vocab_size, weight.shape[0]), dtype=torch.bool, device=weight.device)
        ordinary[ids[ids < len(ordinary)].to(weight.device)] = False
        target = weight[: len(ordinary)][ordinary].norm(dim=1).mean()
        current = weight[ids.to(weight.device)].norm(dim=1).mean()
        if current > 0:
            weight[ids.to(weight.device)] *= target / current


def _fresh_config(backbone: str) -> dict:
    """The backbone's config without its weights (training from scratch)."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(backbone).to_dict()
