"""Reading and checking evaluation inputs: nothing is dropped without being counted.

References define the benchmark, so a malformed reference file stops the run
with a `BadInputError` naming the video. Predictions come from models and
users: a malformed *file* (not JSON, wrong layout) stops the run, while single
bad events (missing fields, NaN times, end < start) are dropped and counted,
videos nobody asked about are ignored and counted, and reference videos without
predictions are counted (the protocol decides whether they score zero).
Everything counted ends up in `InputReport`, which the stage writes out.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.ids import validate_video_id
from videolang.core.io import read_json, read_jsonl
from videolang.evaluate.validation import json_number, parse_span, predicted_span

_EXAMPLES = 5


@dataclass
class InputReport:
    """Counts of everything dropped, clipped or missing, with a few examples of each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # whole-file problems the user should see first

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def add(self, reason: str, example: str | None = None, n: int = 1) -> None:
        self.counts[reason] += n
        if example is not None and len(self.examples.setdefault(reason, [])) < _EXAMPLES:
            self.examples[reason].append(example)

    def as_dict(self) -> dict[str, Any]:
        out = {"counts": dict(sorted(self.counts.items())),
               "examples": {k: v for k, v in sorted(self.examples.items()) if k in self.counts}}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

    def lines(self) -> list[str]:
        return [f"{reason}: {n}" + (f" (e.g. {'; '.join(self.examples[reason])})" if self.examples.get(reason) else "")
                for reason, n in sorted(self.counts.items())]


@dataclass
class Segments:
    """One video's timed sentences: `spans` (n, 2) seconds and n `sentences`; `duration` when known."""

    spans: np.ndarray
    sentences: list[str]
    duration: float | None = None

    @classmethod
    def empty(cls, duration: float | None = None) -> "Segments":
        return cls(np.zeros((0, 2)), [], duration)

    def __len__(self) -> int:
        return len(self.sentences)

    def take(self, index) -> "Segments":
        index = np.asarray(index, dtype=int)
        return Segments(self.spans[index].reshape(-1, 2), [self.sentences[i] for i in index], self.duration)


class JSONObject(dict):
    """A JSON object as read by `read_json_checked`: a dict that remembers the keys it had more than once
    (plain JSON readers keep the last silently; an id listed twice is an input error here)."""

    duplicates: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> JSONObject:
    out, dups = JSONObject(), []
    for k, v in pairs:
        if k in out and k not in dups:
            dups.append(k)
        out[k] = v
    out.duplicates = tuple(dups)
    return out


def read_json_checked(path: str | Path) -> Any:
    """`core.io.read_json` (every failure an error naming the file), keeping track of duplicate keys."""
    return read_json(path, object_pairs_hook=_object)


def refuse_duplicate_ids(data: Any, name: str, what: str = "video") -> None:
    """An id that is a key twice in the object holding the ids: an error naming the file and the id."""
    dups = getattr(data, "duplicates", ())
    if dups:
        more = f" (and {len(dups) - 1} more)" if len(dups) > 1 else ""
        raise BadInputError(f"{what} {dups[0]!r} is listed twice{more}: a JSON object keeps only the last "
                            f"(merge or rename them)", name)


def source_name(source: Any, what: str) -> str:
    """How messages name an input: its path, or `<predictions>` / `<references>` for a loaded object."""
    return str(source) if isinstance(source, (str, Path)) else f"<{what}>"


def read_source(source: Any, what: str) -> tuple[Any, str]:
    """A path (JSON, or JSON Lines for .jsonl) or an already-loaded object -> (object, name for messages).

    A zero-byte or blank `.json` file is not JSON (an error naming it); a `.jsonl` file without rows is
    a valid empty list (the evaluators then warn that nothing was predicted)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        return (read_jsonl(path) if path.suffix == ".jsonl" else read_json_checked(path)), str(path)
    return source, f"<{what}>"


def unwrap_results(data: Any) -> Any:
    """ActivityNet's `{"results": ...}` wrapper, also accepted around the grounding and VideoQA layouts when
    what it wraps is an object or a list of rows (not one query's windows or one question's answer)."""
    if isinstance(data, Mapping) and "results" in data:
        inner = data["results"]
        if isinstance(inner, Mapping) or (isinstance(inner, list) and all(isinstance(r, Mapping) for r in inner)):
            return inner
    return data


def warn_if_nothing_predicted(report: InputReport, name: str, n_entries: int, n_matched: int, unit: str,
                              n_usable: int | None = None) -> None:
    """The whole predictions file scores 0: say so, naming the file (the run still scores it, see
    docs/evaluate.md). `n_entries` entries in the file, `n_matched` of them for a reference `unit`
    (videos / queries / questions / items), `n_usable` of those holding anything usable (events)."""
    one = {"queries": "query"}.get(unit, unit[:-1])
    tail = f"every reference {one} scores 0 - is this the right file?"
    if n_entries == 0:
        report.warn(f"{name}: no predictions at all: {tail}")
    elif n_matched == 0:
        report.warn(f"{name}: none of its {n_entries} predicted {unit} is in the references: {tail}")
    elif n_usable == 0:
        report.warn(f"{name}: no usable prediction for any reference {one} (every one is empty, was "
                    f"dropped or starts past the end; see the counts): {tail}")


def reference_sources(source: Any) -> list[Any]:
    """Dense-captioning references: one source, or several (ActivityNet's val_1 + val_2) as a list / tuple /
    Hydra ListConfig of paths or loaded objects."""
    if isinstance(source, (str, Path)):
        return [source]
    if isinstance(source, Mapping):
        return [source]
    try:
        from omegaconf import ListConfig
    except ImportError:  # pragma: no cover
        ListConfig = ()  # noqa: N806
    if isinstance(source, (list, tuple, ListConfig)):
        if not len(source):
            raise ConfigError("references=[] is an empty list of reference files: give one file or several")
        return list(source)
    return [source]


# -- dense captioning ---------------------------------------------------------------------
def load_dense_references(source: Any) -> dict[str, Segments]:
    """`{video: {"duration", "timestamps", "sentences"}}` (ActivityNet / YouCook2 / our task files)."""
    data, name = read_source(source, "references")
    if not isinstance(data, Mapping) or not data:
        raise BadInputError("references must be a non-empty JSON object {video_id: {duration, timestamps, sentences}}", name)
    refuse_duplicate_ids(data, name)
    refs = {}
    for vid, entry in data.items():
        vid = validate_video_id(vid, name)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("timestamps"), list) \
                or not isinstance(entry.get("sentences"), list):
            raise BadInputError(f"video {vid!r}: expected {{duration, timestamps: [...], sentences: [...]}}", name)
        times, sentences = entry["timestamps"], entry["sentences"]
        if len(times) != len(sentences):
            raise BadInputError(f"video {vid!r}: {len(times)} timestamps but {len(sentences)} sentences", name)
        spans = []
        for i, (t, s) in enumerate(zip(times, sentences)):
            span = parse_span(t)
            if isinstance(span, str) or not isinstance(s, str):
                raise BadInputError(f"video {vid!r}, segment {i}: bad reference {t!r} {s!r} "
                                    f"({span if isinstance(span, str) else 'sentence is not a string'})", name)
            spans.append(span)
        duration = json_number(entry.get("duration"))
        refs[vid] = Segments(np.array(spans, dtype=np.float64).reshape(-1, 2), list(sentences), duration)
    return refs


def _event_rows(vid: str, entry: Any, name: str) -> list[Any]:
    """The events of one video in any accepted layout, as a list of (timestamp, sentence) or raw items."""
    if isinstance(entry, list):
        return entry
    if isinstance(entry, Mapping) and isinstance(entry.get("timestamps"), list):
        sentences = entry.get("sentences")
        if not isinstance(sentences, list) or len(sentences) != len(entry["timestamps"]):
            raise BadInputError(f"video {vid!r}: 'timestamps' and 'sentences' must be lists of equal length", name)
        return [{"timestamp": t, "sentence": s} for t, s in zip(entry["timestamps"], sentences)]
    raise BadInputError(f"video {vid!r}: expected a list of events or {{timestamps, sentences}}, "
                        f"got {type(entry).__name__}", name)


def load_dense_predictions(source: Any, report: InputReport) -> dict[str, Segments]:
    """ActivityNet-style `{"results": {video: [{"timestamp": [s, e], "sentence": str}]}}`, the same without
    the "results" wrapper, our chapters `{video: [{"start", "end", "title"}]}`, or the reference layout."""
    data, name = read_source(source, "predictions")
    if isinstance(data, Mapping) and "results" in data:
        data = data["results"]
    if isinstance(data, list) and not data:  # `[]` or a .jsonl file without rows: no predictions at all
        data = {}
    if not isinstance(data, Mapping):
        raise BadInputError("predictions must be a JSON object {video_id: [events]} "
                            "(optionally inside {\"results\": ...})", name)
    refuse_duplicate_ids(data, name)
    preds = {}
    for vid, entry in data.items():
        vid = validate_video_id(vid, name)
        spans, sentences = [], []
        for i, event in enumerate(_event_rows(vid, entry, name)):
            span, sentence = _parse_event(event)
            if isinstance(span, str):
                report.add(f"predicted_events_dropped_{span}", f"{vid}[{i}]: {str(event)[:80]}")
                continue
            if not sentence.strip():
                report.add("predicted_events_with_empty_sentence", f"{vid}[{i}]")
            spans.append(span)
            sentences.append(sentence)
        preds[vid] = Segments(np.array(spans, dtype=np.float64).reshape(-1, 2), sentences)
    return preds


def _parse_event(event: Any) -> tuple[tuple[float, float] | str, str]:
    if not isinstance(event, Mapping):
        return "malformed_event", ""
    if "timestamp" in event:
        span = predicted_span(event["timestamp"])
    elif "start" in event and "end" in event:
        span = predicted_span([event["start"], event["end"]])
    else:
        return "malformed_event", ""
    sentence = event.get("sentence", event.get("title", event.get("caption")))
    if not isinstance(sentence, str):
        return "missing_sentence", ""
    return span, sentence


def align_videos(preds: dict[str, Any], ref_ids: list[str], report: InputReport, unit: str = "videos") -> None:
    """Count predictions nobody asked about and references nobody predicted (the caller decides the scoring)."""
    known = set(ref_ids)
    for vid in preds:
        if vid not in known:
            report.add(f"predictions_for_unknown_{unit}", vid)
    for vid in ref_ids:
        if vid not in preds:
            report.add(f"{unit}_without_predictions", vid)


def check_durations(preds: dict[str, Segments], refs: dict[str, Segments], report: InputReport) -> None:
    """Count predicted events outside [0, duration] of their video (the protocol decides what to do)."""
    for vid, p in preds.items():
        duration = refs[vid].duration if vid in refs else None
        if not len(p):
            continue
        if duration is not None:  # (events starting before 0 were dropped when read: evaluate.validation)
            late = p.spans[:, 0] > duration
            over = (p.spans[:, 1] > duration) & ~late
            if late.any():
                report.add("predicted_events_starting_past_duration", vid, int(late.sum()))
            if over.any():
                report.add("predicted_events_ending_past_duration", vid, int(over.sum()))


def clip_to_duration(p: Segments, duration: float | None) -> Segments:
    """Corrected protocol: drop events that start past the end, clip the rest to [0, duration]."""
    if duration is None or not len(p):
        return Segments(np.clip(p.spans, 0.0, None), p.sentences, p.duration)
    keep = np.flatnonzero(p.spans[:, 0] <= duration)
    kept = p.take(keep)
    return Segments(np.clip(kept.spans, 0.0, duration), kept.sentences, duration)
