"""Events: chapter generation and dense captioning (whole video in, `<s><e> title` events out).

Reads the builder's DVC task files `tasks/dense_captioning_<split>.json`
(`{video_id: {duration, timestamps, sentences}}`), so any dataset in that layout
(VidChapters, YouCook2, ViTT, ActivityNet) trains the same way. One item per video:
all its frames (uniformly subsampled to `max_frames`) and its transcript with time
tokens in, every event out. Scored with densevid_eval + SODA_c
(`videolang.evaluate.evaluate_dense_captioning`); predictions in the ActivityNet
submission layout `{"version", "results": {video_id: [{"timestamp": [s, e], "sentence": t}]},
"external_data"}`, the file VidChapters' `dvc_eval/eval_dvc.py` reads.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videolang.backbone.parsing import parse_events
from videolang.backbone.sequences import Segment, SequenceBuilder
from videolang.core.errors import BadInputError
from videolang.core.io import atomic_write_json
from videolang.evaluate import evaluate_dense_captioning
from videolang.evaluate.inputs import read_json_checked, refuse_duplicate_ids
from videolang.tasks.base import DataReport, Entry, Seq2SeqTask, finite_number, frame_item, output_base


def events_of(annotation: dict[str, Any]) -> list[Segment]:
    """A DVC entry -> its events as Segments (in file order)."""
    return [Segment(float(s), float(e), str(t)) for (s, e), t in zip(annotation["timestamps"], annotation["sentences"])]


def read_dvc(path: Path) -> dict[str, dict]:
    """A DVC task file; not JSON, not an object, or a video listed twice: an error naming the file."""
    data = read_json_checked(path)
    if not isinstance(data, dict):
        raise BadInputError(f"expected {{video_id: {{duration, timestamps, sentences}}}}, got a JSON "
                            f"{type(data).__name__}", path)
    refuse_duplicate_ids(data, str(path))
    return data



def checked_events(ann: Any, report: DataReport) -> tuple[float, tuple[Segment, ...]]:
    """(duration, events) of one DVC entry. A bad entry (not an object, no finite positive duration, lists
    of different lengths, no usable event) raises BadInputError; single bad events are dropped and
    counted (`events_dropped_bad_time`: not two finite numbers or end before start;
    `events_past_end_dropped`: starting at or after the end; `events_dropped_bad_sentence`), events
    reaching outside [0, duration] are clipped (`events_clipped`), as grounding windows are."""
    if not isinstance(ann, dict):
        raise BadInputError(f"expected {{duration, timestamps, sentences}}, got {type(ann).__name__}")
    duration = finite_number(ann.get("duration"))
    if duration is None or duration <= 0:
        raise BadInputError(f"bad duration {ann.get('duration')!r} (a finite number of seconds > 0)")
    times, sentences = ann.get("timestamps"), ann.get("sentences")
    if not isinstance(times, list) or not isinstance(sentences, list):
        raise BadInputError("timestamps and sentences must be lists")
    if len(times) != len(sentences):
        raise BadInputError(f"{len(times)} timestamps but {len(sentences)} sentences")
    if not sentences:
        raise BadInputError("no events")
    events = []
    for t, title in zip(times, sentences):
        span = [finite_number(x) for x in t] if isinstance(t, (list, tuple)) and len(t) == 2 else [None]
        if None in span or span[1] < span[0]:
            report.count("events_dropped_bad_time")
            continue
        if not isinstance(title, str):
            report.count("events_dropped_bad_sentence")
            continue
        start, end = span
        if start >= duration:
            report.count("events_past_end_dropped")
            continue
        if start < 0 or end > duration:
            report.count("events_clipped")
        events.append(Segment(max(0.0, start), min(end, duration), title))
    if not events:
        raise BadInputError(f"no usable event: all {len(sentences)} were dropped (see the counts)")
    return duration, tuple(events)


def dvc_videos(data: dict[str, dict], where: str, report: DataReport) -> list[tuple[str, float, tuple[Segment, ...]]]:
    """(video id, duration, events) of each sane DVC entry; the others are recorded as failures."""
    if not isinstance(data, dict):
        raise BadInputError("expected {video_id: {duration, timestamps, sentences}}", where)
    out = []
    for vid, ann in data.items():
        try:
            duration, events = checked_events(ann, report)
            out.append((str(vid), duration, events))
        except BadInputError as e:
            report.fail(f"{where}/{vid}", e.problem)
    return out


def dvc_predictions(outputs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Decoded items -> ActivityNet-style results `{video_id: [{"timestamp": [s, e], "sentence": t}]}`."""
    return {o["video_id"]: [{"timestamp": [float(s), float(e)], "sentence": t} for s, e, t in o["events"]]
            for o in outputs}


def dvc_submission(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """ActivityNet's submission wrapper around `dvc_predictions`: `{"version", "results", "external_data"}`."""
    return {"version": "VERSION 1.0", "results": results,
            "external_data": {"used": True, "details": "videolang Vid2Seq (features named in the checkpoint)"}}


def dvc_references(outputs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The references carried by decoded items, in the DVC task-file layout."""
    return {o["video_id"]: {"duration": o["duration"], "timestamps": [[s, e] for s, e, _ in o["references"]],
                            "sentences": [t for _, _, t in o["references"]]} for o in outputs}


class EventsTask(Seq2SeqTask):
    """`<s><e> title` per event for a whole video (chapter generation, dense captioning)."""

    name = "events"
    produces = "events"
    file_pattern = "dense_captioning_{split}.json"
    use_time_tokens = True
    needs_meteor = True
    log_keys = ("soda_c", "cider", "meteor", "f1", "f1@0.5", "precision", "recall", "bleu_4")

    def __init__(self, name: str | None = None, max_input_tokens: int | None = None,
                 max_output_tokens: int | None = None, dedup_titles: bool | None = None):
        super().__init__(name, max_input_tokens, max_output_tokens)
        self.dedup_titles = dedup_titles  # None: the model's `dedup_titles`

    def options(self) -> dict[str, Any]:
        return {**super().options(), "dedup_titles": self.dedup_titles}

    def bind(self, model_options: dict[str, Any]) -> None:
        if self.dedup_titles is None:
            self.dedup_titles = bool(model_options.get("dedup_titles", True))

    # ------------------------------------------------------------------- data
    def read_file(self, path: Path) -> dict[str, dict]:
        return read_dvc(path)

    def read_entries(self, data: Any, where: str, builder: SequenceBuilder, report: DataReport) -> list[Entry]:
        return [Entry(vid, vid, duration, events) for vid, duration, events in dvc_videos(data, where, report)]

    @staticmethod
    def video_entry(video_id: str, duration: float) -> Entry:
        """The entry of a raw video at prediction time (no references)."""
        return Entry(video_id, video_id, float(duration))

    def build_item(self, entry: Entry, feats, builder: SequenceBuilder, max_frames: int, use_speech: bool = True,
                   commonsense: str | None = None) -> dict[str, Any]:
        duration = entry.duration
        input_ids = builder.transcript_ids(feats.speech, duration) if use_speech else [builder.eos_id]
        labels = builder.target_ids(entry.events, duration)
        return frame_item(entry, feats, np.arange(len(feats.frames)), max_frames, input_ids, labels, self.name,
                          commonsense)

    # --------------------------------------------------------------- decoding
    def decode(self, generated: Any, meta: Sequence[dict[str, Any]], builder: SequenceBuilder) -> list[dict]:
        out = []
        for m, seq in zip(meta, generated.tolist()):
            item = output_base(m)
            parsed = parse_events(builder.pieces(seq), item["duration"], builder.codec,
                                  dedup_titles=bool(self.dedup_titles is None or self.dedup_titles))
            item["events"] = [(s + item["offset"], e + item["offset"], t) for s, e, t in parsed.events]
            item["dropped"] = dict(parsed.dropped)
            out.append(item)
        return out

    # ---------------------------------------------------------------- scoring
    def score(self, outputs: list[dict[str, Any]], compat: bool = False, full: bool = False,
              meteor: Any = None) -> dict[str, float]:
        metrics = evaluate_dense_captioning(dvc_predictions(outputs), dvc_references(outputs), compat=compat,
                                            meteor=meteor)
        return self.selected(metrics, full)

    def write_predictions(self, outputs: list[dict[str, Any]], stem: Path) -> Path:
        """The file VidChapters' `dvc_eval/eval_dvc.py` (and densevid_eval, SODA) read: ActivityNet's submission
        layout, the events under `results` (`eval_dvc` indexes `submission['results']`)."""
        return atomic_write_json(Path(f"{stem}.json"), dvc_submission(dvc_predictions(outputs)))
