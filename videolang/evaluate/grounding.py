"""Moment retrieval / chapter grounding metrics as Moment-DETR's standalone evaluation computes them.

- R@1 at IoU >= t: the top-1 predicted window against the ground-truth window it overlaps
  most (first one on ties); R@1 within N s: |start difference| <= N for that same pair.
- mAP: per query, the first 10 predicted windows ranked by score, greedy matching to the
  ground truth at each IoU threshold (0.5:0.05:0.95), VOC-2011 interpolated AP; averaged
  over queries, then over thresholds.
IoU has no epsilon here (an IoU of exactly 0.5 passes 0.5).
compat reproduces two behaviours of the reference run on VidChapters: the top-1 window
is the first in the list whatever its score, and only ground-truth windows of length in
(0, 3600] s are kept (the "full" length range), queries left without one being dropped.
The corrected default ranks by score and keeps every window. Queries without predictions
score 0 in both (the reference refuses such a submission).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from videolang.core.errors import BadInputError
from videolang.core.spans import tiou_matrix
from videolang.evaluate.inputs import InputReport, align_videos, parse_span, read_source

R1_TIOUS = (0.3, 0.5, 0.7)
R1_DISTANCES = (1, 3, 5, 10)
MAP_TIOUS = tuple(float(f"{t:.2f}") for t in np.linspace(0.5, 0.95, 10))
MAX_PRED_WINDOWS = 10
COMPAT_LENGTH_RANGE = (0.0, 3600.0)


@dataclass
class Query:
    qid: str
    vid: str
    windows: np.ndarray  # (n, 2)
    scores: np.ndarray | None = None  # predictions only
    duration: float | None = None
    query: str = ""


def _windows(raw: Any, where: str, report: InputReport | None, with_scores: bool) -> tuple[np.ndarray, np.ndarray]:
    spans, scores = [], []
    for i, w in enumerate(raw if isinstance(raw, list) else []):
        span = parse_span(w)
        if isinstance(span, str):
            if report is None:
                raise BadInputError(f"{where}: bad window {w!r} ({span})")
            report.add(f"predicted_windows_dropped_{span}", f"{where}[{i}]")
            continue
        spans.append(span)
        score = w[2] if with_scores and len(w) > 2 else None
        scores.append(float(score) if isinstance(score, (int, float)) and not isinstance(score, bool)
                      else -float(i))  # no score: keep the list order
    return np.array(spans, dtype=np.float64).reshape(-1, 2), np.array(scores, dtype=np.float64)


def _query_rows(rows: list, field: str, name: str):
    """(row number, qid as a string, row) for rows `{qid, <field>: [[start, end, ...], ...]}`."""
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or "qid" not in row or not isinstance(row.get(field), list):
            raise BadInputError(f"row {n}: expected {{qid, {field}: [[start, end, ...], ...]}}", name)
        yield n, str(row["qid"]), row


def load_grounding_references(source: Any) -> dict[str, Query]:
    """JSONL rows `{qid, query, vid, duration, relevant_windows: [[s, e], ...]}`."""
    rows, name = read_source(source, "references")
    if not isinstance(rows, list) or not rows:
        raise BadInputError("grounding references must be JSON Lines rows {qid, vid, relevant_windows}", name)
    out = {}
    for n, qid, row in _query_rows(rows, "relevant_windows", name):
        if qid in out:
            raise BadInputError(f"row {n}: duplicate qid {qid!r}", name)
        windows, _ = _windows(row["relevant_windows"], f"{name} row {n}", None, False)
        out[qid] = Query(qid, str(row.get("vid", "")), windows, duration=row.get("duration"),
                         query=str(row.get("query", "")))
    return out


def load_grounding_predictions(source: Any, report: InputReport) -> dict[str, Query]:
    """Moment-DETR JSONL rows `{qid, pred_relevant_windows: [[s, e, score], ...]}` (or a JSON list of them,
    or `{qid: [[s, e, score], ...]}`)."""
    data, name = read_source(source, "predictions")
    if isinstance(data, dict):
        data = [{"qid": k, "pred_relevant_windows": v} for k, v in data.items()]
    if not isinstance(data, list):
        raise BadInputError("grounding predictions must be JSON Lines rows {qid, pred_relevant_windows}", name)
    out = {}
    for _, qid, row in _query_rows(data, "pred_relevant_windows", name):
        if qid in out:
            report.add("duplicate_prediction_rows_ignored", qid)
            continue
        windows, scores = _windows(row["pred_relevant_windows"], f"qid {qid}", report, True)
        out[qid] = Query(qid, str(row.get("vid", "")), windows, scores)
    return out


def average_precision(iou: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """AP per threshold for one query; `iou` is (predictions in rank order, ground truths)."""
    n_pred, n_gt = iou.shape
    ap = np.zeros(len(thresholds))
    if n_pred == 0 or n_gt == 0:
        return ap
    tp = np.zeros((len(thresholds), n_pred))
    fp = np.zeros((len(thresholds), n_pred))
    for t_idx, thr in enumerate(thresholds):
        locked = np.zeros(n_gt, dtype=bool)
        for idx in range(n_pred):
            for j in iou[idx].argsort()[::-1]:  # the reference's order, ties included
                if iou[idx, j] < thr:
                    break
                if locked[j]:
                    continue
                tp[t_idx, idx] = 1
                locked[j] = True
                break
            if tp[t_idx, idx] == 0:
                fp[t_idx, idx] = 1
    tp_c, fp_c = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
    recall, precision = tp_c / float(n_gt), tp_c / (tp_c + fp_c)
    for t_idx in range(len(thresholds)):
        mprec = np.hstack([[0], precision[t_idx], [0]])
        mrec = np.hstack([[0], recall[t_idx], [1]])
        for i in range(len(mprec) - 1)[::-1]:
            mprec[i] = max(mprec[i], mprec[i + 1])
        idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
        ap[t_idx] = np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx])
    return ap


def grounding_metrics(preds: dict[str, Query], refs: dict[str, Query], report: InputReport, *,
                      compat: bool = False, r1_tious: Sequence[float] = R1_TIOUS,
                      r1_distances: Sequence[float] = R1_DISTANCES,
                      map_tious: Sequence[float] = MAP_TIOUS) -> tuple[dict[str, float], pd.DataFrame]:
    rows = []
    for qid, ref in refs.items():
        gt = ref.windows
        if compat:
            length = gt[:, 1] - gt[:, 0]
            gt = gt[(length > COMPAT_LENGTH_RANGE[0]) & (length <= COMPAT_LENGTH_RANGE[1])]
        if not len(gt):
            if compat and len(ref.windows):
                report.add("compat_queries_dropped_by_length_range", qid)
            continue
        pred = preds.get(qid)
        row = {"qid": qid, "vid": ref.vid, "status": "scored" if pred is not None else "no_predictions",
               "n_predictions": 0 if pred is None else len(pred.windows), "n_references": len(gt)}
        if pred is None or not len(pred.windows):
            row.update({f"r1@{t:g}": 0.0 for t in r1_tious}, **{f"r1@{d:g}s": 0.0 for d in r1_distances},
                       **{f"ap@{t:g}": 0.0 for t in map_tious}, top1_start=np.nan, top1_end=np.nan, top1_iou=0.0)
            rows.append(row)
            continue
        top = 0 if compat else int(np.argmax(pred.scores))
        top1 = pred.windows[top:top + 1]
        gt1 = gt[int(np.argmax(tiou_matrix(top1, gt)[0]))]
        iou1 = float(tiou_matrix(top1, gt1[None])[0, 0])
        row.update({f"r1@{t:g}": float(iou1 >= t) for t in r1_tious})
        row.update({f"r1@{d:g}s": float(abs(top1[0, 0] - gt1[0]) <= d) for d in r1_distances})
        first = np.arange(min(MAX_PRED_WINDOWS, len(pred.windows)))
        ranked = first[np.argsort(-pred.scores[first], kind="stable")]
        ap = average_precision(tiou_matrix(pred.windows[ranked], gt), map_tious)
        row.update({f"ap@{t:g}": float(a) for t, a in zip(map_tious, ap)})
        row.update(top1_start=float(top1[0, 0]), top1_end=float(top1[0, 1]), top1_iou=iou1)
        rows.append(row)
    if not rows:
        raise BadInputError("no query left to evaluate")
    frame = pd.DataFrame(rows)
    frame["ap"] = frame[[f"ap@{t:g}" for t in map_tious]].mean(axis=1)
    out = {f"r1@{t:g}": float(frame[f"r1@{t:g}"].mean()) for t in r1_tious}
    out.update({f"r1@{d:g}s": float(frame[f"r1@{d:g}s"].mean()) for d in r1_distances})
    per_t = {t: float(frame[f"ap@{t:g}"].to_numpy().mean()) for t in map_tious}
    out.update({f"map@{t:g}": v for t, v in per_t.items() if t in (0.5, 0.75)})
    out["map"] = float(np.mean(list(per_t.values())))
    out["queries_evaluated"] = float(len(frame))
    return out, frame


def count_grounding_inputs(preds: dict[str, Query], refs: dict[str, Query], report: InputReport) -> None:
    align_videos(preds, list(refs), report, unit="queries")
    for qid, ref in refs.items():
        if not len(ref.windows):
            report.add("queries_without_reference_windows_skipped", qid)
    dropped = sum(max(0, len(p.windows) - MAX_PRED_WINDOWS) for q, p in preds.items() if q in refs)
    if dropped:
        report.add("predicted_windows_beyond_first_10_not_used_for_map", n=dropped)
