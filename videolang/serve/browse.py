"""A predictions file against its references, one row per video with that video's own scores.

The scores are the evaluators' (`videolang.evaluate`, the `corrected` protocol, the per-item frames
`stage=evaluate` writes to per_item.parquet); this module only groups them by video and keeps what
each video's row shows in the player:

- chapters / dense captions: SODA_c, F1@0.5 (from that video's precision and recall at tIoU 0.5, as the
  set's F1 is made from the averages), precision and recall at 0.5, METEOR and CIDEr-D (mean over tIoUs);
- grounding: the mean over the video's queries of R@1 at IoU 0.5 and 0.7 and of AP (mAP);
- VideoQA: the share of the video's questions answered right.

The task is read from the references: a `.json` object of videos is dense captioning (chapters), JSON Lines
rows with `relevant_windows` grounding, rows with `answers` VideoQA.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from videolang.core.errors import BadInputError
from videolang.core.io import read_jsonl
from videolang.evaluate import DenseCaptioningEvaluator, GroundingEvaluator, VideoQAEvaluator

# task -> (columns shown, in order, as {name: label}); the first metric is the default sort (worst first)
COLUMNS = {
    "chapters": {"soda_c": "SODA_c", "f1@0.5": "F1@0.5", "precision@0.5": "P@0.5", "recall@0.5": "R@0.5",
                 "meteor": "METEOR", "cider": "CIDEr", "n_predictions": "predicted", "n_references": "true"},
    "grounding": {"r1@0.5": "R@1@0.5", "r1@0.7": "R@1@0.7", "map": "mAP", "queries": "queries"},
    "videoqa": {"accuracy": "accuracy", "questions": "questions"},
}


@dataclass
class BrowseTable:
    """Per-video rows (`video_id` + the task's columns), and per video what the player draws."""

    task: str
    predictions: str
    references: str
    rows: list[dict[str, Any]]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # vid -> {"predicted": ..., "true": ...}

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "predictions": self.predictions, "references": self.references,
                "columns": [{"key": "video_id", "label": "video"}]
                + [{"key": k, "label": v} for k, v in COLUMNS[self.task].items()],
                "sort": next(iter(COLUMNS[self.task])), "rows": self.rows}


def reference_task(references: Path) -> str:
    """Which task a references file is for, from its layout."""
    if references.suffix != ".jsonl":
        return "chapters"
    rows = read_jsonl(references, "references")
    first = next((r for r in rows if isinstance(r, dict)), None)
    if first is None:
        raise BadInputError("no reference row", references)
    if "relevant_windows" in first:
        return "grounding"
    if "answers" in first or "answer_idx" in first:
        return "videoqa"
    raise BadInputError("rows are neither grounding ({qid, vid, relevant_windows}) nor VideoQA "
                        "({qid, vid, answers, answer_idx}) references", references)


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else float(value)


def _segments(segs: Any) -> list[dict[str, Any]]:
    if segs is None:
        return []
    return [{"start": float(s), "end": float(e), "title": t} for (s, e), t in zip(segs.spans.tolist(), segs.sentences)]


def chapter_table(predictions: Path, references: Path) -> BrowseTable:
    result = DenseCaptioningEvaluator(protocols=["corrected"]).evaluate(str(predictions), str(references))
    rows = []
    for r in result.per_item.to_dict("records"):
        p, rc = float(r["precision@0.5"]), float(r["recall@0.5"])
        row = {"video_id": str(r["video_id"]), "f1@0.5": 2 * p * rc / (p + rc) if p + rc else 0.0}
        row.update({k: _number(r.get(k)) for k in COLUMNS["chapters"] if k != "f1@0.5"})
        rows.append(row)
    items = {vid: {"predicted": _segments(result.predictions.get(vid)), "true": _segments(ref)}
             for vid, ref in result.references.items()}
    return BrowseTable("chapters", str(predictions), str(references), rows, items)


def grounding_table(predictions: Path, references: Path) -> BrowseTable:
    result = GroundingEvaluator(protocols=["corrected"]).evaluate(str(predictions), str(references))
    frame = result.per_item
    rows = []
    if len(frame):
        grouped = frame.groupby("vid", sort=True).agg(**{"r1@0.5": ("r1@0.5", "mean"), "r1@0.7": ("r1@0.7", "mean"),
                                                        "map": ("ap", "mean"), "queries": ("qid", "count")})
        rows = [{"video_id": str(vid), **{k: float(v) for k, v in row.items()}}
                for vid, row in grouped.iterrows()]
    items: dict[str, dict[str, Any]] = {}
    for qid, ref in result.references.items():
        pred = result.predictions.get(qid)
        windows = [] if pred is None else [[float(s), float(e), float(x)] for (s, e), x in
                                           zip(pred.windows.tolist(), (pred.scores if pred.scores is not None
                                                                       else np.zeros(len(pred.windows))).tolist())]
        items.setdefault(ref.vid, {"queries": []})["queries"].append(
            {"qid": qid, "query": ref.query, "true": ref.windows.tolist(), "windows": windows})
    return BrowseTable("grounding", str(predictions), str(references), rows, items)


def videoqa_table(predictions: Path, references: Path) -> BrowseTable:
    result = VideoQAEvaluator().evaluate(str(predictions), str(references))
    given = {str(r["qid"]): r for r in read_jsonl(references, "references") if isinstance(r, dict)}
    frame: pd.DataFrame = result.per_item.copy()
    frame["vid"] = [str(given.get(q, {}).get("vid", "")) for q in frame["qid"]]
    grouped = frame.groupby("vid", sort=True).agg(accuracy=("correct", "mean"), questions=("qid", "count"))
    rows = [{"video_id": vid, "accuracy": float(r["accuracy"]), "questions": float(r["questions"])}
            for vid, r in grouped.iterrows()]
    items: dict[str, dict[str, Any]] = {}
    for r in frame.to_dict("records"):
        row = given.get(r["qid"], {})
        items.setdefault(r["vid"], {"questions": []})["questions"].append(
            {"qid": r["qid"], "question": row.get("question", ""), "answers": row.get("answers", []),
             "pred": int(r["prediction"]), "answer": int(r["answer"]), "ts": row.get("ts")})
    return BrowseTable("videoqa", str(predictions), str(references), rows, items)


TABLES = {"chapters": chapter_table, "grounding": grounding_table, "videoqa": videoqa_table}


def browse_table(predictions: str | Path, references: str | Path) -> BrowseTable:
    """Score `predictions` against `references` and group the per-item scores by video."""
    predictions, references = Path(predictions), Path(references)
    for path, what in ((predictions, "predictions file"), (references, "references file")):
        if not path.is_file():
            raise BadInputError(f"{what} not found", path)
    return TABLES[reference_task(references)](predictions, references)
