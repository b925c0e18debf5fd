"""Titles: chapter captioning with ground-truth boundaries (one chapter in, its title out).

Reads the same DVC task files as `events`; one item per chapter (key `<vid>#<k>`):
only the frames with timestamps inside the chapter (the nearest one for a chapter
shorter than the frame spacing) and the ASR sentences overlapping it, on the
chapter's own clock, no time tokens; the title is the target. Scored with the COCO
caption metrics (`videolang.evaluate.evaluate_captions`); predictions `{key: title}`.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videolang.backbone.sequences import SequenceBuilder
from videolang.core.io import atomic_write_json
from videolang.evaluate import evaluate_captions
from videolang.tasks.base import DataReport, Entry, Seq2SeqTask, frame_item, output_base
from videolang.tasks.events import dvc_videos, read_dvc


def caption_pairs(outputs: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Decoded title items -> ({key: predicted title}, {key: [reference title]})."""
    preds, refs = {}, {}
    for o in outputs:
        k = int(o["key"].rsplit("#", 1)[1])
        preds[o["key"]] = o["title"]
        refs[o["key"]] = [o["references"][k][2]]
    return preds, refs


class TitlesTask(Seq2SeqTask):
    """A chapter's title from its own frames and speech (no time tokens)."""

    name = "titles"
    produces = "title"
    file_pattern = "dense_captioning_{split}.json"
    use_time_tokens = False
    needs_meteor = True
    log_keys = ("cider", "meteor", "bleu_4", "rouge_l")

    def read_file(self, path: Path) -> dict[str, dict]:
        return read_dvc(path)

    def read_entries(self, data: Any, where: str, builder: SequenceBuilder, report: DataReport) -> list[Entry]:
        return [Entry(f"{vid}#{k}", vid, duration, events, k)
                for vid, duration, events in dvc_videos(data, where, report) for k in range(len(events))]

    def build_item(self, entry: Entry, feats, builder: SequenceBuilder, max_frames: int, use_speech: bool = True,
                   commonsense: str | None = None) -> dict[str, Any]:
        seg = entry.events[entry.index]
        ts = np.asarray(feats.timestamps)
        rows = np.flatnonzero((ts >= seg.start) & (ts < seg.end))
        if len(rows) == 0 and len(ts):  # a chapter shorter than the frame spacing: its nearest frame
            rows = np.array([int(np.argmin(np.abs(ts - (seg.start + seg.end) / 2)))])
        speech = [s for s in feats.speech if s.end > seg.start and s.start < seg.end]
        input_ids = builder.transcript_ids(speech, max(seg.end - seg.start, 1e-3), seg.start) if use_speech \
            else [builder.eos_id]
        return frame_item(entry, feats, rows, max_frames, input_ids, builder.title_ids(seg.text), self.name,
                          commonsense, offset=seg.start, span=(seg.start, seg.end))

    def decode(self, generated: Any, meta: Sequence[dict[str, Any]], builder: SequenceBuilder) -> list[dict]:
        out = []
        for m, seq in zip(meta, generated.tolist()):
            item = output_base(m)
            item["title"] = builder.tokenizer.decode(seq, skip_special_tokens=True).strip()
            out.append(item)
        return out

    def score(self, outputs: list[dict[str, Any]], compat: bool = False, full: bool = False,
              meteor: Any = None) -> dict[str, float]:
        preds, refs = caption_pairs(outputs)
        return self.selected(evaluate_captions(preds, refs, compat=compat, meteor=meteor), full)

    def write_predictions(self, outputs: list[dict[str, Any]], stem: Path) -> Path:
        return atomic_write_json(Path(f"{stem}.json"), {o["key"]: o["title"] for o in outputs})
