"""Multiple-choice VideoQA accuracy (TVQA: 5 answers, `answer_idx`), overall and per category.

Accuracy is over every reference question: a question without a prediction counts
as wrong (and is counted in the report). The category is a reference field such
as TVQA's `show_name`; `category=None` picks the first of CATEGORY_FIELDS present.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from videolang.core.errors import BadInputError
from videolang.evaluate.inputs import InputReport, align_videos, read_source, refuse_duplicate_ids, unwrap_results

CATEGORY_FIELDS = ("show_name", "category", "type", "question_type")
_ANSWER_KEYS = ("answer_idx", "pred", "prediction", "answer")


def _answer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def load_qa_references(source: Any, category: str | None = None) -> pd.DataFrame:
    """Rows `{qid, answer_idx[, show_name | category ...]}` (TVQA JSONL) -> qid, answer, category."""
    rows, name = read_source(source, "references")
    refuse_duplicate_ids(rows, name, "qid")
    if isinstance(rows, Mapping):
        rows = [dict(v, qid=k) if isinstance(v, Mapping) else {"qid": k, "answer_idx": v} for k, v in rows.items()]
    if not isinstance(rows, list) or not rows:
        raise BadInputError("VideoQA references must be rows {qid, answer_idx}", name)
    field = category or next((f for f in CATEGORY_FIELDS if isinstance(rows[0], Mapping) and f in rows[0]), None)
    out = []
    for n, row in enumerate(rows, start=1):
        answer = _answer(row.get("answer_idx")) if isinstance(row, Mapping) else None
        if answer is None or "qid" not in row:
            raise BadInputError(f"row {n}: expected {{qid, answer_idx: int}} (a test-public file has no answers), "
                                f"got {str(row)[:80]}", name)
        out.append({"qid": str(row["qid"]), "answer": answer,
                    "category": str(row.get(field, "")) if field else ""})
    frame = pd.DataFrame(out)
    if frame["qid"].duplicated().any():
        raise BadInputError(f"duplicate qid {frame.loc[frame['qid'].duplicated(), 'qid'].iloc[0]!r}", name)
    frame.attrs["category_field"] = field
    return frame


def load_qa_predictions(source: Any, report: InputReport) -> dict[str, int]:
    """`{qid: answer_idx}` JSON, or rows `{qid, answer_idx | pred | prediction | answer}`."""
    data, name = read_source(source, "predictions")
    data = unwrap_results(data)
    refuse_duplicate_ids(data, name, "qid")
    if isinstance(data, Mapping):
        items = list(data.items())
    elif isinstance(data, list):
        items, seen = [], set()
        for n, row in enumerate(data, start=1):
            if not isinstance(row, Mapping) or "qid" not in row:
                raise BadInputError(f"row {n}: expected {{qid, answer_idx}}", name)
            if str(row["qid"]) in seen:
                raise BadInputError(f"row {n}: duplicate qid {str(row['qid'])!r}", name)
            seen.add(str(row["qid"]))
            items.append((row["qid"], next((row[k] for k in _ANSWER_KEYS if k in row), None)))
    else:
        raise BadInputError("VideoQA predictions must be {qid: answer_idx} or rows {qid, answer_idx}", name)
    preds = {}
    for qid, value in items:
        answer = _answer(value)
        if answer is None:
            report.add("predictions_dropped_not_an_answer_index", f"{qid}: {value!r}")
        else:
            preds[str(qid)] = answer
    return preds


def videoqa_metrics(preds: Mapping[str, int], refs: pd.DataFrame, report: InputReport
                    ) -> tuple[dict[str, float], pd.DataFrame]:
    align_videos(dict(preds), refs["qid"].tolist(), report, unit="questions")
    frame = refs.copy()
    frame["prediction"] = [preds.get(q, -1) for q in frame["qid"]]
    frame["status"] = ["scored" if q in preds else "no_prediction" for q in frame["qid"]]
    frame["correct"] = (frame["prediction"] == frame["answer"]).astype(float)
    out = {"accuracy": float(frame["correct"].mean()), "questions_evaluated": float(len(frame))}
    if refs.attrs.get("category_field"):
        for cat, acc in frame.groupby("category", sort=True)["correct"].mean().items():
            out[f"accuracy/{cat}"] = float(acc)
    return out, frame
