"""Items, collate/masking and the Lightning data module for the Vid2Seq tasks.

Two item layouts cover the three task configs:
- `events` (chapter generation, dense captioning): one item per video, the whole
  video's frames (uniformly subsampled to `max_frames`) and transcript in, every
  event `<start><end> title` out.
- `titles` (chapter titles with ground-truth boundaries): one item per chapter,
  only the frames and ASR sentences inside the chapter in, its title out, no time tokens.

Both read the builder's DVC task files `tasks/dense_captioning_<split>.json`
(`{video_id: {duration, timestamps, sentences}}`), so any dataset in that format
(VidChapters, YouCook2, ViTT, ActivityNet) trains the same way.

The optional common-sense stream (`commonsense={enabled, fusion, key}`, the model's
own `model.commonsense` block) is read only when enabled; its rows are aligned to the
frames by nearest timestamp before any frame selection, then either appended to each
frame (`concat`) or batched as `commonsense` / `commonsense_mask` (`stream`).
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.failures import FailureLog
from videolang.core.io import read_json
from videolang.datamodule.sources import FeatureSource, StoreFeatures, VideoFeatures
from videolang.datamodule.streams import align_to_frames
from videolang.model.sequences import TASK_MODES, Segment, SequenceBuilder, load_tokenizer
from videolang.model.streams import CommonsenseOptions
from videolang.model.visual import uniform_indices

log = logging.getLogger(__name__)



def events_of(annotation: dict[str, Any]) -> list[Segment]:
    """A DVC entry -> its events as Segments (in file order)."""
    return [Segment(float(s), float(e), str(t)) for (s, e), t in zip(annotation["timestamps"], annotation["sentences"])]


def build_item(key: str, video_id: str, feats: VideoFeatures, duration: float, events: list[Segment],
               builder: SequenceBuilder, mode: str, max_frames: int, use_speech: bool = True,
               segment_index: int | None = None, commonsense: str | None = None) -> dict[str, Any]:
    """One model input/target pair. `events` are the references (empty at prediction time).

    `commonsense` is the fusion (None, "concat" or "stream"): the rows are aligned to all
    frames first, then the same frame indices (chapter, then uniform subsampling) pick both.
    """
    if mode == "events":
        rows = np.arange(len(feats.frames))
        input_ids = builder.transcript_ids(feats.speech, duration) if use_speech else [builder.eos_id]
        labels = builder.target_ids(events, duration)
        offset, span = 0.0, (0.0, duration)
    else:
        seg = events[segment_index]
        offset, span = seg.start, (seg.start, seg.end)
        ts = np.asarray(feats.timestamps)
        rows = np.flatnonzero((ts >= seg.start) & (ts < seg.end))
        if len(rows) == 0 and len(ts):  # a chapter shorter than the frame spacing: its nearest frame
            rows = np.array([int(np.argmin(np.abs(ts - (seg.start + seg.end) / 2)))])
        speech = [s for s in feats.speech if s.end > seg.start and s.start < seg.end]
        input_ids = builder.transcript_ids(speech, max(seg.end - seg.start, 1e-3), offset) if use_speech \
            else [builder.eos_id]
        labels = builder.title_ids(seg.text)
    rows = rows[uniform_indices(len(rows), max_frames)]
    frames = np.asarray(np.asarray(feats.frames)[rows], dtype=np.float32)
    item = {"key": key, "video_id": video_id, "duration": float(duration), "offset": float(offset),
            "span": span, "input_ids": input_ids, "labels": labels, "frames": frames,
            "references": [(e.start, e.end, e.text) for e in events]}
    if commonsense:
        if feats.commonsense is None:
            raise BadInputError(f"no common-sense rows for video {video_id!r} (the model reads them)")
        cs_rows, cs_mask = align_to_frames(feats.commonsense, feats.timestamps)
        cs_rows, cs_mask = cs_rows[rows], cs_mask[rows]
        if commonsense == "concat":
            item["frames"] = np.concatenate([frames, cs_rows], axis=1)
        else:
            item["commonsense"], item["commonsense_mask"] = cs_rows, cs_mask
    return item


class Vid2SeqDataset(Dataset):
    """Items of one split; features are read lazily (in the workers) through a `FeatureSource`."""

    def __init__(self, annotations: dict[str, dict], features: FeatureSource, builder: SequenceBuilder,
                 mode: str = "events", max_frames: int = 100, use_speech: bool = True, cache_size: int = 32,
                 commonsense: str | None = None):
        if mode not in ("events", "titles"):
            raise ConfigError(f"unknown item mode {mode!r} (events or titles)")
        self.annotations, self.features, self.builder = annotations, features, builder
        self.mode, self.max_frames, self.use_speech = mode, int(max_frames), bool(use_speech)
        self.commonsense = commonsense  # the fusion, or None
        self.index: list[tuple[str, int | None]] = []
        for vid, ann in annotations.items():
            if mode == "events":
                self.index.append((vid, None))
            else:
                self.index += [(vid, k) for k in range(len(ann["sentences"]))]
        self._cache: OrderedDict[str, VideoFeatures] = OrderedDict()
        self._cache_size = cache_size

    def __len__(self) -> int:
        return len(self.index)

    def _features(self, vid: str) -> VideoFeatures:
        if vid in self._cache:
            self._cache.move_to_end(vid)
            return self._cache[vid]
        feats = self.features.get(vid)
        self._cache[vid] = feats
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return feats

    def __getitem__(self, i: int) -> dict[str, Any]:
        vid, k = self.index[i]
        ann = self.annotations[vid]
        key = vid if k is None else f"{vid}#{k}"
        return build_item(key, vid, self._features(vid), float(ann["duration"]), events_of(ann), self.builder,
                          self.mode, self.max_frames, self.use_speech, k, self.commonsense)


class Vid2SeqCollator:
    """Pad a list of items into a batch: speech and labels right-padded, frames zero-padded and masked.

    - `input_ids` / `attention_mask` (B, L): pad id / 0 on padding;
    - `labels` (B, L_out): -100 on padding (ignored by the loss);
    - `frames` (B, K, D) and `frame_mask` (B, K): 0 on padding, K = the most frames in the batch (>= 1);
      D includes the common-sense width in `concat` fusion;
    - `commonsense` (B, K, D_cs) and `commonsense_mask` (B, K), only when the items carry them
      (`stream` fusion): 0 on padding and on frames without regions;
    - `meta`: the per-item keys, durations, offsets, spans and references, as lists.

    `visual_dim` / `commonsense_dim` are the widths used when no item of a batch has a row.
    """

    def __init__(self, pad_id: int, visual_dim: int | None = None, commonsense_dim: int | None = None):
        self.pad_id, self.visual_dim, self.commonsense_dim = int(pad_id), visual_dim, commonsense_dim

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        b = len(items)
        li = max(len(it["input_ids"]) for it in items)
        lo = max(len(it["labels"]) for it in items)
        k = max(1, max(len(it["frames"]) for it in items))
        d = next((it["frames"].shape[1] for it in items if it["frames"].ndim == 2 and len(it["frames"])),
                 self.visual_dim or 1)
        input_ids = torch.full((b, li), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((b, li), dtype=torch.long)
        labels = torch.full((b, lo), -100, dtype=torch.long)
        frames = torch.zeros((b, k, d), dtype=torch.float32)
        frame_mask = torch.zeros((b, k), dtype=torch.long)
        for r, it in enumerate(items):
            n = len(it["input_ids"])
            input_ids[r, :n] = torch.as_tensor(it["input_ids"], dtype=torch.long)
            attention_mask[r, :n] = 1
            m = len(it["labels"])
            labels[r, :m] = torch.as_tensor(it["labels"], dtype=torch.long)
            f = len(it["frames"])
            if f:
                frames[r, :f] = torch.from_numpy(np.ascontiguousarray(it["frames"]))
                frame_mask[r, :f] = 1
        meta = {name: [it[name] for it in items] for name in ("key", "video_id", "duration", "offset", "span",
                                                              "references")}
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, "frames": frames,
                 "frame_mask": frame_mask, "meta": meta}
        if any("commonsense" in it for it in items):
            batch["commonsense"], batch["commonsense_mask"] = self._pad_rows(items, "commonsense",
                                                                             self.commonsense_dim)
        return batch

    @staticmethod
    def _pad_rows(items: Sequence[dict[str, Any]], name: str, dim: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, K, D) rows and (B, K) mask of a per-frame stream, zero-padded, the item's own mask kept."""
        k = max(1, max(len(it[name]) for it in items))
        d = next((it[name].shape[1] for it in items if it[name].ndim == 2), dim or 1)
        rows = torch.zeros((len(items), k, d), dtype=torch.float32)
        mask = torch.zeros((len(items), k), dtype=torch.long)
        for r, it in enumerate(items):
            n = len(it[name])
            if n:
                rows[r, :n] = torch.from_numpy(np.ascontiguousarray(it[name], dtype=np.float32))
                mask[r, :n] = torch.as_tensor(np.asarray(it[f"{name}_mask"]), dtype=torch.long)
        return rows, mask


def collator_for(pad_id: int, visual_dim: int | None, commonsense_dim: int | None = None,
                 commonsense: str | None = None) -> Vid2SeqCollator:
    """The collator of a model's inputs (training and predict): in `concat` fusion a frame is
    `visual_dim + commonsense_dim` wide."""
    frame_dim = None if visual_dim is None else int(visual_dim) + (
        int(commonsense_dim or 0) if commonsense == "concat" else 0)
    return Vid2SeqCollator(pad_id, frame_dim, commonsense_dim if commonsense == "stream" else None)


class EpochSeededSampler(Sampler[int]):
    """Shuffles with a generator seeded by (seed, epoch): a resumed run sees the same order as an unbroken one.

    Lightning calls `set_epoch` at the start of every training epoch.
    """

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True):
        self.size, self.seed, self.shuffle, self.epoch = size, int(seed), shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.size))
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=gen).tolist())

    def __len__(self) -> int:
        return self.size


class Vid2SeqDataModule(L.LightningDataModule):
    """Train / val / test loaders over `<dataset_dir>/tasks/dense_captioning_<split>.json` and a feature store.

    `tokenizer` is the backbone name or folder (the same one the model loads) or a
    tokenizer object; time tokens are added to it here exactly as in the model.
    `features` overrides the feature store with any `FeatureSource` (tests, benchmarks).
    `commonsense` is the model's `model.commonsense` block (enabled, fusion, key, layers):
    disabled (the default) reads no common-sense features at all; enabled, a video without
    them is counted in `failures` and skipped, like a video without frames.
    """

    def __init__(self, dataset_dir: str | Path | None = None, feature_dir: str | Path | None = None,
                 tokenizer: Any = "t5-base", task: str = "chapter_generation",
                 splits: dict[str, str] | None = None, num_time_tokens: int = 100, max_input_tokens: int = 1000,
                 max_output_tokens: int = 256, max_frames: int = 100, batch_size: int = 8,
                 eval_batch_size: int | None = None, num_workers: int = 0, use_speech: bool = True,
                 visual_key: str = "visual", speech_key: str = "speech", fingerprints: dict | None = None,
                 seed: int = 0, limit_videos: dict[str, int] | None = None, features: FeatureSource | None = None,
                 annotations: dict[str, dict] | None = None, pin_memory: bool = False,
                 commonsense: dict | CommonsenseOptions | None = None):
        super().__init__()
        if task not in TASK_MODES:
            raise ConfigError(f"unknown task {task!r}; one of {sorted(TASK_MODES)}")
        self.task, self.mode = task, TASK_MODES[task]
        self.dataset_dir = None if dataset_dir is None else Path(dataset_dir)
        self.feature_dir = None if feature_dir is None else Path(feature_dir)
        self.tokenizer_spec, self.tokenizer = tokenizer, None
        self.splits = dict(splits or {"train": "train", "val": "val", "test": "test"})
        self.num_time_tokens, self.max_frames = int(num_time_tokens), int(max_frames)
        self.max_input_tokens, self.max_output_tokens = int(max_input_tokens), int(max_output_tokens)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size or batch_size)
        self.num_workers, self.pin_memory = int(num_workers), bool(pin_memory)
        self.use_speech, self.seed = bool(use_speech), int(seed)
        self.visual_key, self.speech_key, self.fingerprints = visual_key, speech_key, dict(fingerprints or {})
        self.limit_videos = dict(limit_videos or {})
        self.features, self.annotations = features, dict(annotations or {})
        self.datasets: dict[str, Vid2SeqDataset] = {}
        self.failures = FailureLog("datamodule")
        self.builder: SequenceBuilder | None = None
        self.commonsense = CommonsenseOptions.parse(commonsense)
        self.visual_dim: int | None = None
        self.commonsense_dim: int | None = None

    # ------------------------------------------------------------------ setup
    def task_file(self, split: str) -> Path:
        if self.dataset_dir is None:
            raise ConfigError("no dataset_dir given for the task files")
        return self.dataset_dir / "tasks" / f"dense_captioning_{split}.json"

    def load_split(self, split: str) -> dict[str, dict]:
        if split in self.annotations:
            return self.annotations[split]
        data = read_json(self.task_file(split))
        if not isinstance(data, dict):
            raise BadInputError("expected {video_id: {duration, timestamps, sentences}}", self.task_file(split))
        return data

    def _source(self) -> FeatureSource:
        if self.features is None:
            if self.feature_dir is None:
                raise ConfigError("no feature_dir given (run stage=extract and set paths.feature_dir)")
            self.features = StoreFeatures(self.feature_dir, self.visual_key,
                                          self.speech_key if self.use_speech else None, self.fingerprints,
                                          commonsense_key=self.commonsense.key if self.commonsense.enabled else None)
        return self.features

    def inferred_model_options(self) -> dict[str, int]:
        """The model widths read from the data (after `setup`): `visual_dim`, and `commonsense_dim` when the
        stream is on. `stage=train` fills the model's null options of the same names from it."""
        out = {} if self.visual_dim is None else {"visual_dim": int(self.visual_dim)}
        if self.commonsense.enabled and self.commonsense_dim is not None:
            out["commonsense_dim"] = int(self.commonsense_dim)
        return out

    def _usable(self, split: str, annotations: dict[str, dict]) -> dict[str, dict]:
        """Videos with sane annotations and frames in the store; the rest are counted in `failures`.

        Only the first video's features are read here (for the frame width); the others are
        checked against the store's listing, so setup stays fast on large corpora.
        """
        source, kept = self._source(), {}
        available = source.available() if hasattr(source, "available") else None
        cs_key = self.commonsense.key if self.commonsense.enabled else None
        cs_available = source.available("commonsense") if cs_key and available is not None else None
        limit = self.limit_videos.get(split)
        for vid, ann in annotations.items():
            if limit is not None and len(kept) >= limit:
                break
            try:
                if float(ann["duration"]) <= 0 or len(ann["timestamps"]) != len(ann["sentences"]):
                    raise BadInputError("bad duration, or timestamps and sentences differ in length")
                if not ann["sentences"]:
                    raise BadInputError("no events")
                if available is not None and vid not in available:
                    raise BadInputError(f"no '{self.visual_key}' features in the store")
                if cs_available is not None and vid not in cs_available:
                    raise BadInputError(f"no '{cs_key}' features in the store")
                if self.visual_dim is None or available is None:
                    self._check_widths(source.get(vid))
            except (BadInputError, KeyError, TypeError, ValueError) as e:
                self.failures.record(f"{split}/{vid}", str(e))
                continue
            kept[vid] = ann
        if not kept:
            raise BadInputError(f"no usable video in split '{split}' ({len(annotations)} listed, "
                                f"{len(self.failures)} skipped so far; see the log)",
                                self.task_file(split) if self.dataset_dir else None)
        return kept

    def _check_widths(self, feats: VideoFeatures) -> None:
        """Read (first video) or check the frame and common-sense widths; the first readable video sets them."""
        width = int(feats.frames.shape[1])
        if self.visual_dim is not None and width != self.visual_dim:
            raise BadInputError(f"frame width {width} != {self.visual_dim}")
        cs_width = None
        if self.commonsense.enabled:
            if feats.commonsense is None:
                raise BadInputError(f"no '{self.commonsense.key}' features")
            cs_width = feats.commonsense.dim
            if self.commonsense_dim is not None and cs_width != self.commonsense_dim:
                raise BadInputError(f"'{self.commonsense.key}' width {cs_width} != {self.commonsense_dim}")
        self.visual_dim = width
        self.commonsense_dim = cs_width if cs_width is not None else self.commonsense_dim

    def setup(self, stage: str | None = None) -> None:
        if self.builder is None:
            self.tokenizer = load_tokenizer(self.tokenizer_spec, self.num_time_tokens) \
                if isinstance(self.tokenizer_spec, (str, Path)) else self.tokenizer_spec
            self.builder = SequenceBuilder(self.tokenizer, self.num_time_tokens, self.max_input_tokens,
                                           self.max_output_tokens, use_time_tokens=self.mode == "events")
        wanted = {"fit": ["train", "val"], "validate": ["val"], "test": ["test"], "predict": ["test"]}
        for part in wanted.get(stage, ["train", "val", "test"]) if stage else ["train", "val"]:
            split = self.splits.get(part)
            if not split or part in self.datasets:
                continue
            anns = self._usable(split, self.load_split(split))
            self.datasets[part] = Vid2SeqDataset(anns, self._source(), self.builder, self.mode, self.max_frames,
                                                 self.use_speech, commonsense=self.commonsense.active_fusion)
            log.info("%s split '%s': %d videos, %d items", part, split, len(anns), len(self.datasets[part]))

    def feature_info(self) -> dict[str, dict]:
        """The extractor description of each feature key used (empty for in-memory sources)."""
        source = self._source()
        return source.describe() if hasattr(source, "describe") else {}

    # ---------------------------------------------------------------- loaders
    def collator(self) -> Vid2SeqCollator:
        return collator_for(self.builder.pad_id, self.visual_dim, self.commonsense_dim,
                            self.commonsense.active_fusion)

    def _loader(self, part: str, train: bool) -> DataLoader:
        ds = self.datasets[part]
        return DataLoader(ds, batch_size=self.batch_size if train else self.eval_batch_size,
                          sampler=EpochSeededSampler(len(ds), self.seed, shuffle=train),
                          num_workers=self.num_workers, collate_fn=self.collator(), pin_memory=self.pin_memory,
                          persistent_workers=self.num_workers > 0, drop_last=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", False)
