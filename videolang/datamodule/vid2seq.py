"""Items, collate/masking and the Lightning data module for the Vid2Seq task modules.

The data module is task-agnostic: the task modules (`videolang.tasks`, chosen by the
`task` config group's `head:` block, or by the old `task: <name>`) say which task file
of a built dataset they read, how its entries become items (inputs, targets, frames)
and what an entry needs. Here: reading each task's split files, checking that every
video has features in the store (the others are counted in `failures` and skipped),
lazy feature loading with a small cache, collate/masking, and the samplers (one task:
`EpochSeededSampler`; several: `MixedTaskSampler` with the mix's ratios).

The optional common-sense stream (`commonsense={enabled, fusion, key}`, the model's
own `model.commonsense` block) is read only when enabled; its rows are aligned to the
frames by nearest timestamp before any frame selection, then either appended to each
frame (`concat`) or batched as `commonsense` / `commonsense_mask` (`stream`).
"""
from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from videolang.backbone.sequences import Segment, SequenceBuilder, load_tokenizer
from videolang.backbone.sources import FeatureSource, StoreFeatures, VideoFeatures
from videolang.backbone.streams import CommonsenseOptions
from videolang.builder.media_ids import media_ids
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.failures import FailureLog
from videolang.tasks import DataReport, Entry, Seq2SeqTask, TaskMix, build_task, build_tasks
from videolang.training.samplers import EpochSeededSampler, MixedTaskSampler

log = logging.getLogger(__name__)

META_FIELDS = ("key", "video_id", "duration", "offset", "span", "references", "task", "query", "answers", "category",
               "frame_times")


def build_item(key: str, video_id: str, feats: VideoFeatures, duration: float, events: list[Segment],
               builder: SequenceBuilder, task: str | Seq2SeqTask, max_frames: int, use_speech: bool = True,
               segment_index: int | None = None, commonsense: str | None = None) -> dict[str, Any]:
    """One model input/target pair of an events / titles task (a task name, an old mode name or a task).

    Kept for callers of the former API; the task modules' own `build_item(entry, ...)` is the
    general form (a grounding item needs a query: `GroundingTask.query_entry`).
    """
    entry = Entry(key, video_id, float(duration), tuple(events), segment_index)
    return build_task(task).build_item(entry, feats, builder, max_frames, use_speech, commonsense)


class Vid2SeqDataset(Dataset):
    """Items of one split, (task, entry) pairs; features are read lazily (in the workers) through a source."""

    def __init__(self, entries: list[tuple[Seq2SeqTask, Entry]], features: FeatureSource,
                 builders: dict[str, SequenceBuilder], max_frames: int = 100, use_speech: bool = True,
                 cache_size: int = 32, commonsense: str | None = None, media: dict[str, str] | None = None):
        self.entries, self.features, self.builders = entries, features, builders
        self.media = dict(media or {})  # entry video id -> the id its features are stored under, when not its own
        self.max_frames, self.use_speech = int(max_frames), bool(use_speech)
        self.commonsense = commonsense  # the fusion, or None
        self._cache: OrderedDict[str, VideoFeatures] = OrderedDict()
        self._cache_size = cache_size

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def video_ids(self) -> list[str]:
        """The split's videos, in entry order."""
        return list(dict.fromkeys(e.vid for _, e in self.entries))

    def groups(self) -> dict[str, list[int]]:
        """Dataset indices per task name (for the mixed-task sampler)."""
        out: dict[str, list[int]] = {}
        for i, (task, _) in enumerate(self.entries):
            out.setdefault(task.name, []).append(i)
        return out

    def _features(self, vid: str) -> VideoFeatures:
        vid = self.media.get(vid, vid)
        if vid in self._cache:
            self._cache.move_to_end(vid)
            return self._cache[vid]
        feats = self.features.get(vid)
        self._cache[vid] = feats
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return feats

    def __getitem__(self, i: int) -> dict[str, Any]:
        task, entry = self.entries[i]
        return task.build_item(entry, self._features(entry.vid), self.builders[task.name], self.max_frames,
                               self.use_speech, self.commonsense)


class Vid2SeqCollator:
    """Pad a list of items into a batch: speech and labels right-padded, frames zero-padded and masked.

    - `input_ids` / `attention_mask` (B, L): pad id / 0 on padding;
    - `labels` (B, L_out): -100 on padding (ignored by the loss);
    - `frames` (B, K, D) and `frame_mask` (B, K): 0 on padding, K = the most frames in the batch (>= 1);
      D includes the common-sense width in `concat` fusion;
    - `commonsense` (B, K, D_cs) and `commonsense_mask` (B, K), only when the items carry them
      (`stream` fusion): 0 on padding and on frames without regions;
    - `candidates` (B, A, L_ans), `candidate_mask` (B, A) and `answer_idx` (B,), only when items carry
      candidate answers (multiple-choice VideoQA): -100 / 0 on padding, answer -1 when unknown;
    - `frame_targets` (B, K) and `query_length` (B,), only when items carry them (a grounding head with a
      saliency objective): 1 on frames inside a relevant window, 0 elsewhere and on padding; the number of
      leading input tokens that are the query;
    - `meta`: the per-item keys, durations, offsets, spans, references, task names and queries, as lists.

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
        meta = {name: [it.get(name) for it in items] for name in META_FIELDS}
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, "frames": frames,
                 "frame_mask": frame_mask, "meta": meta}
        if any("commonsense" in it for it in items):
            batch["commonsense"], batch["commonsense_mask"] = self._pad_rows(items, "commonsense",
                                                                             self.commonsense_dim)
        if any("candidates" in it for it in items):
            batch["candidates"], batch["candidate_mask"], batch["answer_idx"] = self._pad_candidates(items)
        if any("frame_targets" in it for it in items):
            targets = torch.zeros((b, k), dtype=torch.float32)
            for r, it in enumerate(items):
                row = np.asarray(it.get("frame_targets", ()), dtype=np.float32)
                targets[r, :len(row)] = torch.from_numpy(row)
            batch["frame_targets"] = targets
            batch["query_length"] = torch.as_tensor([int(it.get("query_length", 0)) for it in items],
                                                    dtype=torch.long)
        return batch

    @staticmethod
    def _pad_candidates(items: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Candidate answers of each item, padded to the most answers and the longest answer of the batch."""
        cands = [it.get("candidates") or [] for it in items]
        a = max(1, max(map(len, cands)))
        length = max(1, max((len(c) for cs in cands for c in cs), default=1))
        ids = torch.full((len(items), a, length), -100, dtype=torch.long)
        mask = torch.zeros((len(items), a), dtype=torch.long)
        for r, cs in enumerate(cands):
            for j, c in enumerate(cs):
                ids[r, j, :len(c)] = torch.as_tensor(c, dtype=torch.long)
                mask[r, j] = 1
        answer = torch.as_tensor([int(it.get("answer_idx", -1)) for it in items], dtype=torch.long)
        return ids, mask, answer

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


class Vid2SeqDataModule(L.LightningDataModule):
    """Train / val / test loaders over a built dataset's task files and a feature store.

    `task` is a task name (`chapter_generation`, `dense_captioning`, `chapter_captioning`,
    `grounding`) or `head` a task head (the task config's `head:` block, a task object or a
    `TaskMix`); each task reads its own files (`tasks/dense_captioning_<split>.json`,
    `tasks/grounding_<split>.jsonl`, ...). `tokenizer` is the backbone name or folder (the
    same one the model loads) or a tokenizer object; time tokens are added to it here exactly
    as in the model. `features` overrides the feature store with any `FeatureSource` (tests,
    benchmarks); `annotations` overrides a split's task-file content (`{split: data}`, or
    `{split: {task name: data}}` for a mix). `commonsense` is the model's `model.commonsense`
    block: disabled (the default) reads no common-sense features at all; enabled, a video
    without them is counted in `failures` and skipped, like a video without frames.
    """

    def __init__(self, dataset_dir: str | Path | None = None, feature_dir: str | Path | None = None,
                 tokenizer: Any = "t5-base", task: str = "chapter_generation",
                 splits: dict[str, str] | None = None, num_time_tokens: int = 100, max_input_tokens: int = 1000,
                 max_output_tokens: int = 256, max_frames: int = 100, batch_size: int = 8,
                 eval_batch_size: int | None = None, num_workers: int = 0, use_speech: bool = True,
                 visual_key: str = "visual", speech_key: str = "speech", fingerprints: dict | None = None,
                 seed: int = 0, limit_videos: dict[str, int] | None = None, features: FeatureSource | None = None,
                 annotations: dict[str, Any] | None = None, pin_memory: bool = False,
                 commonsense: dict | CommonsenseOptions | None = None, head: Any = None,
                 sentence_style: str = "plain"):
        super().__init__()
        self.tasks: TaskMix = build_tasks(head if head is not None else task)
        self.task = str(task)
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
        self.counts: dict[str, Counter] = {}   # per "<split>/<task>": what reading the task files skipped or changed
        self.builders: dict[str, SequenceBuilder] = {}
        self.commonsense = CommonsenseOptions.parse(commonsense)
        self.sentence_style = str(sentence_style)  # the model's: how its text was tokenized (SequenceBuilder)
        self.visual_dim: int | None = None
        self.commonsense_dim: int | None = None
        self.feature_ids: dict[str, dict[str, str]] = {}  # per split: entry video id -> its media id, when not its own

    @property
    def builder(self) -> SequenceBuilder | None:
        """The first task's sequence builder (after `setup`)."""
        return self.builders.get(self.tasks.primary.name)

    # ------------------------------------------------------------------ setup
    def task_file(self, split: str, task: Seq2SeqTask | None = None) -> Path:
        if self.dataset_dir is None:
            raise ConfigError("no dataset_dir given for the task files")
        return (task or self.tasks.primary).task_file(self.dataset_dir, split)

    def load_split(self, split: str) -> list[tuple[Seq2SeqTask, Entry]]:
        """Every task's entries of `split` (bad ones skipped and counted), in task then file order."""
        out = []
        for task in self.tasks:
            given = self.annotations.get(split)
            if given is not None and self.tasks.multi:
                given = given.get(task.name)
            where = str(self.task_file(split, task)) if given is None else f"<{task.name} {split}>"
            data = task.read_file(self.task_file(split, task)) if given is None else given
            report = DataReport(self.failures, self.counts.setdefault(f"{split}/{task.name}", Counter()))
            out += [(task, e) for e in task.read_entries(data, where, self.builders[task.name], report)]
            for name, n in sorted(report.counts.items()):
                log.warning("%s: %s: %d", where, name, n)
        return out

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

    def _with_references(self, split: str, entries: list[tuple[Seq2SeqTask, Entry]]
                         ) -> list[tuple[Seq2SeqTask, Entry]]:
        kept = []
        for task, entry in entries:
            if task.has_reference(entry):
                kept.append((task, entry))
            else:
                self.failures.record(f"{split}/{entry.key}", "no answer_idx (nothing to learn or score)",
                                     str(self.task_file(split, task)) if self.dataset_dir else None)
        return kept

    def _usable(self, split: str, entries: list[tuple[Seq2SeqTask, Entry]]) -> list[tuple[Seq2SeqTask, Entry]]:
        """Entries whose video has frames in the store; the other videos are counted in `failures`.

        Features are looked up by the entry's media id (`videos.parquet`, `videolang.builder.media_ids`): ViTT's
        entries `<k>_<id>` all read `<id>`'s features (a store holding them under the entry id, as made before
        media ids, is read as it is). Only the first video's features are read here (for the frame width); the
        others are checked against the store's listing, so setup stays fast on large corpora.
        `limit_videos[split]` keeps the entries of the first that many videos.
        """
        source, kept, verdict = self._source(), [], {}
        media = media_ids(self.dataset_dir).get(split, {}) if self.dataset_dir is not None else {}
        resolved = self.feature_ids.setdefault(split, {})
        available = source.available() if hasattr(source, "available") else None
        cs_key = self.commonsense.key if self.commonsense.enabled else None
        cs_available = source.available("commonsense") if cs_key and available is not None else None
        limit = self.limit_videos.get(split)
        for task, entry in entries:
            vid = entry.vid
            if vid not in verdict:
                if limit is not None and sum(verdict.values()) >= limit:
                    verdict[vid] = False
                    continue
                fid = media.get(vid, vid)
                if available is not None and fid not in available and vid in available:
                    fid = vid
                if fid != vid:
                    resolved[vid] = fid
                try:
                    named = "" if fid == vid else f" (media {fid!r})"
                    if available is not None and fid not in available:
                        raise BadInputError(f"no '{self.visual_key}' features in the store{named}")
                    if cs_available is not None and fid not in cs_available:
                        raise BadInputError(f"no '{cs_key}' features in the store{named}")
                    if self.visual_dim is None or available is None:
                        self._check_widths(source.get(fid))
                    verdict[vid] = True
                except (BadInputError, KeyError, TypeError, ValueError) as e:
                    self.failures.record(f"{split}/{vid}", str(e),
                                         str(self.feature_dir) if self.feature_dir is not None else None)
                    verdict[vid] = False
            if verdict[vid]:
                kept.append((task, entry))
        if not kept:
            where = self.task_file(split) if self.dataset_dir else None
            if not entries:
                raise BadInputError(f"split '{split}' has no usable entry (the file lists none, or every entry "
                                    f"was skipped: see the log)", where)
            store = f" in the feature store {self.feature_dir}" if self.feature_dir is not None else ""
            raise BadInputError(f"no usable video in split '{split}': none of its {len(verdict)} videos has usable "
                                f"features{store} ({len(entries)} entries listed; the log names each)", where)
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
        if not self.builders:
            self.tokenizer = load_tokenizer(self.tokenizer_spec, self.num_time_tokens) \
                if isinstance(self.tokenizer_spec, (str, Path)) else self.tokenizer_spec
            self.builders = {t.name: t.make_builder(self.tokenizer, self.num_time_tokens, self.max_input_tokens,
                                                    self.max_output_tokens) for t in self.tasks}
            for builder in self.builders.values():
                builder.sentence_style = self.sentence_style
        wanted = {"fit": ["train", "val"], "validate": ["val"], "test": ["test"], "predict": ["test"]}
        for part in wanted.get(stage, ["train", "val", "test"]) if stage else ["train", "val"]:
            split = self.splits.get(part)
            if not split or part in self.datasets:
                continue
            entries = self.load_split(split)
            if part != "test":  # an entry without its answer can be predicted, not learned from or selected on
                entries = self._with_references(split, entries)
            entries = self._usable(split, entries)
            self.datasets[part] = Vid2SeqDataset(entries, self._source(), self.builders, self.max_frames,
                                                 self.use_speech, commonsense=self.commonsense.active_fusion,
                                                 media=self.feature_ids.get(split))
            per_task = Counter(t.name for t, _ in entries)
            log.info("%s split '%s': %d videos, %d items (%s)", part, split, len({e.vid for _, e in entries}),
                     len(entries), ", ".join(f"{n}: {c}" for n, c in per_task.items()))

    def summary(self) -> dict[str, Any]:
        """What reading the task files skipped, clipped or truncated, per split and task; and, per split, the
        entries that read another id's features (`shared_media`: ViTT's `<k>_<id>` read `<id>`'s)."""
        out = {"entries": {k: dict(v) for k, v in self.counts.items() if v},
               "items": {part: len(ds) for part, ds in self.datasets.items()}}
        shared = {split: len(ids) for split, ids in self.feature_ids.items() if ids}
        if shared:
            out["shared_media"] = shared
        return out

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
        if train and self.tasks.multi:
            sampler = MixedTaskSampler(ds.groups(), self.tasks.ratio, self.seed, self.tasks.epoch_size)
        else:
            sampler = EpochSeededSampler(len(ds), self.seed, shuffle=train)
        return DataLoader(ds, batch_size=self.batch_size if train else self.eval_batch_size, sampler=sampler,
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
