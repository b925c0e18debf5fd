"""The `Seq2SeqTask` interface: what one task adds to the shared Vid2Seq backbone.

A task module owns everything task-specific, so the LightningModule and the data
module stay task-agnostic:

- which task file of a built dataset it reads and how its entries become `Entry`s
  (`task_file`, `read_entries`: bad entries skipped and counted, or a named error);
- how an entry becomes a model item: token ids in, token ids out, which frames
  (`build_item`, through `frame_item` for the frames and the common-sense stream);
- its training loss (`loss`: teacher-forced token cross-entropy unless the task says otherwise);
- how a batch becomes outputs (`infer`: `generate` then `decode`, or the task's own scoring,
  such as VideoQA's candidate likelihoods);
- how a list of decoded outputs is scored with `videolang.evaluate` (`score`);
- which prediction file it writes (`write_predictions`).

The backbone's token budgets and time-token grid are the model's; a task may
override the budgets (`max_input_tokens` / `max_output_tokens`, null = the model's).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videolang.backbone.losses import label_smoothed_ce
from videolang.backbone.sequences import Segment, SequenceBuilder
from videolang.backbone.sources import VideoFeatures
from videolang.backbone.streams import align_to_frames
from videolang.backbone.visual import uniform_indices
from videolang.core.errors import BadInputError
from videolang.core.failures import FailureLog


def finite_number(value: Any) -> float | None:
    """A task file's number as a float, or None for anything else: text, booleans, NaN/inf, and integers too
    large for a float (JSON allows 1e400 written out in digits; `float()` raises OverflowError on it)."""
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None

@dataclass(frozen=True)
class Entry:
    """One unit of a task file: a video (events), a chapter (titles) or a query (grounding).

    `key` is the item key (video id, `<vid>#<k>`, qid); `events` the video's reference
    events (events / titles); `index` the chapter of a titles item; `query`, `query_ids`
    (tokenized, truncated) and `windows` a grounding query's text and relevant windows, or a
    VideoQA question and its `ts` span; `answers`, `answer_idx` (None: unknown), `category`
    and `subtitles` (None: use the ASR transcript) the rest of a VideoQA question.
    """

    key: str
    vid: str
    duration: float
    events: tuple[Segment, ...] = ()
    index: int | None = None
    query: str = ""
    query_ids: tuple[int, ...] = ()
    windows: tuple[tuple[float, float], ...] = ()
    answers: tuple[str, ...] = ()
    answer_idx: int | None = None
    category: str = ""
    subtitles: tuple[Segment, ...] | None = None


@dataclass
class DataReport:
    """What reading a task file skipped or changed: failures (per video, exit code 3) and counts."""

    failures: "FailureLog"
    counts: Counter = field(default_factory=Counter)

    def fail(self, item: str, reason: str) -> None:
        self.failures.record(item, reason)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n


class Seq2SeqTask:
    """Base class of the task modules (`videolang.tasks.events`, `.titles`, `.grounding`)."""

    name = "task"                 # the metric prefix in a mix and `item["task"]`
    produces = "?"                # what decode returns per item: "events", "title" or "windows"
    file_pattern = "{split}"      # the task file under <dataset>/tasks/
    use_time_tokens = True        # time tokens in inputs and targets
    needs_text_encoder = False    # the input must go through the T5 encoder (model.use_speech=true)
    needs_meteor = False          # scoring uses METEOR (one JVM per run, started lazily)
    needs_saliency_head = False   # the backbone builds its per-frame query saliency head (backbone.saliency)
    malformed_key: str | None = "malformed_events"  # the metric counting dropped outputs (None: none)
    log_keys: tuple[str, ...] = ()  # evaluate metrics logged at validation (all of them at test)

    def __init__(self, name: str | None = None, max_input_tokens: int | None = None,
                 max_output_tokens: int | None = None):
        self.name = str(name or type(self).name)
        self.max_input_tokens = None if max_input_tokens is None else int(max_input_tokens)
        self.max_output_tokens = None if max_output_tokens is None else int(max_output_tokens)

    # ---------------------------------------------------------------- options
    def options(self) -> dict[str, Any]:
        """Constructor arguments (plain values): stored in checkpoints, rebuilt with `build_task`."""
        return {"name": self.name, "max_input_tokens": self.max_input_tokens,
                "max_output_tokens": self.max_output_tokens}

    def spec(self) -> dict[str, Any]:
        return {"_target_": f"{type(self).__module__}.{type(self).__qualname__}", **self.options()}

    def bind(self, model_options: dict[str, Any]) -> None:
        """Read model-level options the task uses (e.g. `dedup_titles`); called by the module."""

    def make_builder(self, tokenizer: Any, num_time_tokens: int, max_input_tokens: int,
                     max_output_tokens: int) -> SequenceBuilder:
        return SequenceBuilder(tokenizer, num_time_tokens, self.max_input_tokens or max_input_tokens,
                               self.max_output_tokens or max_output_tokens, use_time_tokens=self.use_time_tokens)

    # ------------------------------------------------------------------- data
    def task_file(self, dataset_dir: Path, split: str) -> Path:
        return Path(dataset_dir) / "tasks" / self.file_pattern.format(split=split)

    def read_file(self, path: Path) -> Any:
        raise NotImplementedError

    def read_entries(self, data: Any, where: str, builder: SequenceBuilder, report: DataReport) -> list[Entry]:
        """A task file's content -> entries, in file order; bad entries are skipped and reported."""
        raise NotImplementedError

    def build_item(self, entry: Entry, feats: "VideoFeatures", builder: SequenceBuilder, max_frames: int,
                   use_speech: bool = True, commonsense: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def has_reference(self, entry: Entry) -> bool:
        """False for an entry a split ships without its answer (a leaderboard's test split): it can be
        predicted, not learned from or scored. The data module keeps such entries for the test split only."""
        return True

    # ----------------------------------------------------------- loss / infer
    def loss(self, net: Any, batch: dict[str, Any], smoothing: float) -> tuple[Any, dict[str, Any]]:
        """(loss, {name: extra logged term}) of a batch of this task's items."""
        return label_smoothed_ce(net(batch), batch["labels"], smoothing), {}

    def infer(self, net: Any, batch: dict[str, Any], meta: Sequence[dict[str, Any]], builder: SequenceBuilder,
              generation: dict[str, Any]) -> list[dict]:
        """Outputs of a batch of this task's items: `generate` with the task's options, then `decode`."""
        return self.decode(net.generate(batch, **self.generation_kwargs(generation, builder)), meta, builder)

    # --------------------------------------------------------------- decoding
    def generation_kwargs(self, base: dict[str, Any], builder: SequenceBuilder) -> dict[str, Any]:
        """`generate` options for this task on top of the model's (`model.generation`)."""
        return dict(base)

    def decode(self, generated: Any, meta: Sequence[dict[str, Any]], builder: SequenceBuilder) -> list[dict]:
        """`generate`'s output for len(meta) items -> one output dict per item (key, task, ...)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- scoring
    def score(self, outputs: list[dict[str, Any]], compat: bool = False, full: bool = False,
              meteor: Any = None) -> dict[str, float]:
        raise NotImplementedError

    def write_predictions(self, outputs: list[dict[str, Any]], stem: Path) -> Path:
        """Write the prediction file that `stage=evaluate task=<this task>` reads; `stem` has no suffix."""
        raise NotImplementedError

    def write_submission(self, outputs: list[dict[str, Any]], stem: Path) -> Path | None:
        """The benchmark's leaderboard submission file, for tasks that have one (None: the predictions are it)."""
        return None

    # ---------------------------------------------------------------- helpers
    def selected(self, metrics: dict[str, Any], full: bool) -> dict[str, float]:
        chosen = metrics if full else {k: metrics[k] for k in self.log_keys if k in metrics}
        return {log_name(k): float(v) for k, v in chosen.items() if isinstance(v, (int, float))}


def log_name(metric: str) -> str:
    """Evaluate metric names for loggers: `@` spelled `_` (`f1@0.5` -> `f1_0.5`)."""
    return metric.replace("@", "_")


def output_base(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta.get(k) for k in ("key", "video_id", "duration", "offset", "span", "task", "references")}


def frame_item(entry: Entry, feats: "VideoFeatures", rows: np.ndarray, max_frames: int, input_ids: list[int],
               labels: list[int], task: str, commonsense: str | None = None, offset: float = 0.0,
               span: tuple[float, float] | None = None, references: Any = None, **extra: Any) -> dict[str, Any]:
    """An item from the chosen frame `rows` (uniformly subsampled to `max_frames`) and token ids.

    `commonsense` is the fusion (None, "concat" or "stream"): the rows are aligned to all
    frames first, then the same frame indices pick both streams.
    """
    rows = np.asarray(rows, dtype=np.int64)
    rows = rows[uniform_indices(len(rows), max_frames)]
    frames = np.asarray(np.asarray(feats.frames)[rows], dtype=np.float32)
    item = {"key": entry.key, "video_id": entry.vid, "duration": float(entry.duration), "offset": float(offset),
            "span": span if span is not None else (0.0, float(entry.duration)), "input_ids": input_ids,
            "labels": labels, "frames": frames, "task": task,
            "references": [(e.start, e.end, e.text) for e in entry.events] if references is None else references,
            **extra}
    if commonsense:
        if feats.commonsense is None:
            raise BadInputError(f"no common-sense rows for video {entry.vid!r} (the model reads them)")
        cs_rows, cs_mask = align_to_frames(feats.commonsense, feats.timestamps)
        cs_rows, cs_mask = cs_rows[rows], cs_mask[rows]
        if commonsense == "concat":
            item["frames"] = np.concatenate([frames, cs_rows], axis=1)
        else:
            item["commonsense"], item["commonsense_mask"] = cs_rows, cs_mask
    return item
