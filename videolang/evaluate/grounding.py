"""Moment retrieval / chapter grounding and highlight detection as Moment-DETR's standalone evaluation computes them.

- R@1 at IoU >= t: the top-1 predicted window against the ground-truth window it overlaps
  most (first one on ties); R@1 within N s: |start difference| <= N for that same pair.
  Reported at the configured thresholds and at every mAP threshold (the reference's MR-R1).
- mAP: per query, the first 10 predicted windows ranked by score, greedy matching to the
  ground truth at each IoU threshold (0.5:0.05:0.95), VOC-2011 interpolated AP; averaged
  over queries, then over thresholds (`map@<t>` for each threshold, `map` their mean).
- By ground-truth window length (`get_data_by_range`): per bucket (lo, hi] seconds, only the
  ground-truth windows in the bucket are kept and only the queries left with one are scored
  (`map@<bucket>`, `map@<t>@<bucket>`, `r1@<t>@<bucket>`, `queries_evaluated@<bucket>`). An empty
  bucket is reported as null with `queries_evaluated@<bucket>` = 0 (the reference crashes there).
- Highlight detection (`eval_highlight`), only when the references carry `saliency_scores`:
  per query the full-video score table (int(duration / 2) clips x annotators, 0 outside
  `relevant_clip_ids`), binarised at >= 2 (fair), >= 3 (good), >= 4 (very_good); HIT@1 = the
  best annotator's label of the clip with the highest predicted saliency (first on ties, 0 past
  the table); mAP = `get_ap` (sklearn's precision-recall curve, interpolated, mean precision at
  each new recall level; all-0 labels score 0, all-1 labels 1) per annotator, averaged. References
  without saliency get tables derived from their windows when the predictions carry saliency
  (`derive_reference_saliency`, videolang.evaluate.saliency); the clip length is 2 s unless a row
  or the evaluator says otherwise.
IoU has no epsilon here (an IoU of exactly 0.5 passes 0.5).
compat reproduces the reference run on VidChapters: the top-1 window is the first in the list
whatever its score, only ground-truth windows of length in (0, 3600] s are kept (the "full"
length range), queries left without one being dropped, reference windows are used as given
(past the duration included) and queries without predicted saliency are left out of the
highlight metrics. The corrected default ranks by score, clips reference windows to
[0, duration] and scores a query without predicted saliency 0. Queries without predicted
windows score 0 in both (the reference refuses such a submission).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from videolang.core.errors import BadInputError
from videolang.core.spans import tiou_matrix
from videolang.evaluate.inputs import (InputReport, align_videos, parse_span, read_source, refuse_duplicate_ids,
                                       unwrap_results)
from videolang.evaluate.saliency import (DERIVED_CLIP_LENGTH, QVHIGHLIGHTS_CLIP_LENGTH, clip_count,
                                         derived_saliency_table, parse_predicted_saliency, valid_clip_length)

R1_TIOUS = (0.3, 0.5, 0.7)
R1_DISTANCES = (1, 3, 5, 10)
MAP_TIOUS = tuple(float(f"{t:.2f}") for t in np.linspace(0.5, 0.95, 10))
MAX_PRED_WINDOWS = 10
COMPAT_LENGTH_RANGE = (0.0, 3600.0)
# Moment-DETR's `eval_moment_retrieval` buckets, (lo, hi] seconds; its "long" stops at 150 s, the
# QVHighlights video length, ours at infinity (None).
LENGTH_BUCKETS = {"short": (0.0, 10.0), "middle": (10.0, 30.0), "long": (30.0, None)}
SALIENCY_THRESHOLDS = {"fair": 2, "good": 3, "very_good": 4}


@dataclass
class Query:
    qid: str
    vid: str
    windows: np.ndarray  # (n, 2)
    scores: np.ndarray | None = None  # predictions only
    duration: float | None = None
    query: str = ""
    saliency: np.ndarray | None = None  # references: (clips, annotators) full-video table; predictions: (clips,)
    clip_length: float | None = None  # seconds per saliency clip (a row's `clip_length`, or the table's)


def key(t: float) -> str:
    return f"{t:g}"


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
    """(row number, qid as a string, row) for rows `{qid, <field>: [[start, end, ...], ...]}`; a qid twice is an error."""
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or "qid" not in row or not isinstance(row.get(field), list):
            raise BadInputError(f"row {n}: expected {{qid, {field}: [[start, end, ...], ...]}}", name)
        qid = str(row["qid"])
        if qid in seen:
            raise BadInputError(f"row {n}: duplicate qid {qid!r}", name)
        seen.add(qid)
        yield n, qid, row


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _saliency_table(row: dict, qid: str, name: str, clip_length: float) -> np.ndarray:
    """Moment-DETR's `mk_gt_scores`: (int(duration / clip_length) clips, annotators), the scores at
    `relevant_clip_ids`."""
    ids, scores, duration = row.get("relevant_clip_ids"), row.get("saliency_scores"), row.get("duration")
    where = f"qid {qid!r}"
    if not _is_number(duration) or duration < 0:
        raise BadInputError(f"{where}: saliency scores need a duration, got {duration!r}", name)
    if not isinstance(ids, list) or not isinstance(scores, list) or len(ids) != len(scores):
        raise BadInputError(f"{where}: relevant_clip_ids and saliency_scores must be lists of equal length", name)
    n_clips = clip_count(duration, clip_length)
    widths = {len(s) if isinstance(s, list) else -1 for s in scores}
    if len(widths) > 1 or -1 in widths or 0 in widths:
        raise BadInputError(f"{where}: saliency_scores must be one list of annotator scores per clip, "
                            "all of the same length", name)
    table = np.zeros((n_clips, widths.pop() if widths else 3))
    for c, s in zip(ids, scores):
        if not isinstance(c, int) or isinstance(c, bool) or not 0 <= c < n_clips:
            raise BadInputError(f"{where}: relevant clip id {c!r} outside the video's {n_clips} clips "
                                f"of {clip_length:g} s", name)
        if not all(_is_number(v) for v in s):
            raise BadInputError(f"{where}: saliency scores {s!r} are not numbers", name)
        table[c] = s
    return table


def load_grounding_references(source: Any, clip_length: float | None = None) -> dict[str, Query]:
    """JSONL rows `{qid, query, vid, duration, relevant_windows: [[s, e], ...]}` (+ QVHighlights'
    `relevant_clip_ids` and `saliency_scores`, on clips of `clip_length` s: the argument, else the row's
    `clip_length`, else 2 s as QVHighlights). A qid twice, a malformed window or a window that starts
    at or past the video's duration is an error naming the file and the qid."""
    rows, name = read_source(source, "references")
    if not isinstance(rows, list) or not rows:
        raise BadInputError("grounding references must be JSON Lines rows {qid, vid, relevant_windows}", name)
    out = {}
    for n, qid, row in _query_rows(rows, "relevant_windows", name):
        windows, _ = _windows(row["relevant_windows"], f"{name} row {n} (qid {qid!r})", None, False)
        duration = float(row["duration"]) if _is_number(row.get("duration")) else None
        if duration is not None and duration > 0 and len(windows) and (windows[:, 0] >= duration).any():
            bad = windows[windows[:, 0] >= duration][0].tolist()
            raise BadInputError(f"row {n}: qid {qid!r}: reference window {bad} starts at or past the "
                                f"video's duration {duration:g} s", name)
        length = clip_length or valid_clip_length(row.get("clip_length")) or QVHIGHLIGHTS_CLIP_LENGTH
        saliency = _saliency_table(row, qid, name, length) if "saliency_scores" in row else None
        out[qid] = Query(qid, str(row.get("vid", "")), windows, duration=duration,
                         query=str(row.get("query", "")), saliency=saliency,
                         clip_length=length if saliency is not None else None)
    with_saliency = [q.saliency is not None for q in out.values()]
    if any(with_saliency) and not all(with_saliency):
        missing = next(q for q in out.values() if q.saliency is None).qid
        raise BadInputError(f"some queries have saliency_scores and some do not (e.g. qid {missing!r})", name)
    return out


def load_grounding_predictions(source: Any, report: InputReport) -> dict[str, Query]:
    """Moment-DETR JSONL rows `{qid, pred_relevant_windows: [[s, e, score], ...], pred_saliency_scores: [...]}`
    (or a JSON list of them, or `{qid: [[s, e, score], ...]}`); a row may say how long its saliency clips are
    (`clip_length`, seconds). A qid twice is an error naming the file; saliency scores that are not one finite
    number per clip are dropped and counted (`predicted_saliency_scores_dropped_<reason>`)."""
    data, name = read_source(source, "predictions")
    data = unwrap_results(data)
    refuse_duplicate_ids(data, name, "qid")
    if isinstance(data, Mapping):
        data = [{"qid": k, "pred_relevant_windows": v} for k, v in data.items()]
    if not isinstance(data, list):
        raise BadInputError("grounding predictions must be JSON Lines rows {qid, pred_relevant_windows}", name)
    out = {}
    for _, qid, row in _query_rows(data, "pred_relevant_windows", name):
        windows, scores = _windows(row["pred_relevant_windows"], f"qid {qid}", report, True)
        saliency = None
        if row.get("pred_saliency_scores") is not None:
            saliency, problem = parse_predicted_saliency(row["pred_saliency_scores"])
            if problem:
                report.add(f"predicted_saliency_scores_dropped_{problem}", qid)
        out[qid] = Query(qid, str(row.get("vid", "")), windows, scores, saliency=saliency,
                         clip_length=valid_clip_length(row.get("clip_length")))
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


def saliency_ap(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Moment-DETR's `get_ap(y_true, y_predict)` (interpolated, not 11-point) for binary labels.

    The precision-recall curve is sklearn's (one point per distinct score, from the highest);
    precision is interpolated as the best precision at this or a higher recall, and the AP is
    the mean of the interpolated precisions at the points where recall changes (the reference
    compares recalls as float32). All-0 labels score 0, all-1 labels 1 (as the reference)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_score = np.asarray(y_score, dtype=np.float64)
    if not len(y_true):  # a video shorter than one clip (the reference fails an assertion)
        return 0.0
    if (y_true == y_true[0]).all():
        return 0.0 if y_true[0] == 0 else 1.0
    order = np.argsort(y_score, kind="mergesort")[::-1]
    s, t = y_score[order], y_true[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last item of each distinct score
    tps = np.cumsum(t)[last]
    fps = 1 + last - tps
    precision = np.r_[(tps / (tps + fps))[::-1], 1.0]  # sklearn's order: decreasing recall, then (1, 0)
    recall = np.r_[(tps / tps[-1])[::-1], 0.0].astype(np.float32)
    precision = np.maximum.accumulate(precision)
    return float(np.mean(precision[np.flatnonzero(np.diff(recall))]))


def _clip_gt(ref: Query, compat: bool) -> np.ndarray:
    if compat or ref.duration is None:
        return ref.windows
    return np.clip(ref.windows, 0.0, ref.duration)


def protocol_gt(ref: Query, compat: bool) -> np.ndarray:
    gt = _clip_gt(ref, compat)
    if compat:
        length = gt[:, 1] - gt[:, 0]
        gt = gt[(length > COMPAT_LENGTH_RANGE[0]) & (length <= COMPAT_LENGTH_RANGE[1])]
    return gt


def score_query(pred: Query | None, gt: np.ndarray, compat: bool, r1_tious: Sequence[float],
                r1_distances: Sequence[float], map_tious: Sequence[float]) -> dict[str, float]:
    if pred is None or not len(pred.windows):
        return {**{f"r1@{key(t)}": 0.0 for t in r1_tious}, **{f"r1@{key(d)}s": 0.0 for d in r1_distances},
                **{f"ap@{key(t)}": 0.0 for t in map_tious}, "top1_start": np.nan, "top1_end": np.nan,
                "top1_iou": 0.0}
    top = 0 if compat else int(np.argmax(pred.scores))
    top1 = pred.windows[top:top + 1]
    gt1 = gt[int(np.argmax(tiou_matrix(top1, gt)[0]))]
    iou1 = float(tiou_matrix(top1, gt1[None])[0, 0])
    row = {f"r1@{key(t)}": float(iou1 >= t) for t in r1_tious}
    row.update({f"r1@{key(d)}s": float(abs(top1[0, 0] - gt1[0]) <= d) for d in r1_distances})
    first = np.arange(min(MAX_PRED_WINDOWS, len(pred.windows)))
    ranked = first[np.argsort(-pred.scores[first], kind="stable")]
    ap = average_precision(tiou_matrix(pred.windows[ranked], gt), map_tious)
    row.update({f"ap@{key(t)}": float(a) for t, a in zip(map_tious, ap)})
    row.update(top1_start=float(top1[0, 0]), top1_end=float(top1[0, 1]), top1_iou=iou1)
    return row


def _summary(frame: pd.DataFrame, r1_tious, r1_distances, map_tious, suffix: str = "") -> dict[str, float | None]:
    names = ([f"r1@{key(t)}" for t in r1_tious] + [f"r1@{key(d)}s" for d in r1_distances]
             + [f"map@{key(t)}" for t in map_tious] + ["map"])
    if not len(frame):
        return {**{n + suffix: None for n in names}, "queries_evaluated" + suffix: 0.0}
    out: dict[str, float | None] = {}
    out.update({f"r1@{key(t)}{suffix}": float(frame[f"r1@{key(t)}"].mean()) for t in r1_tious})
    out.update({f"r1@{key(d)}s{suffix}": float(frame[f"r1@{key(d)}s"].mean()) for d in r1_distances})
    per_t = [float(frame[f"ap@{key(t)}"].to_numpy().mean()) for t in map_tious]
    out.update({f"map@{key(t)}{suffix}": v for t, v in zip(map_tious, per_t)})
    out["map" + suffix] = float(np.mean(per_t))
    out["queries_evaluated" + suffix] = float(len(frame))
    return out


def length_buckets(buckets: Mapping[str, Sequence[float | None]] | None) -> dict[str, tuple[float, float]]:
    """{name: (lo, hi)} with hi None / null meaning no upper bound."""
    out = {}
    for name, bounds in (LENGTH_BUCKETS if buckets is None else buckets).items():
        lo, hi = list(bounds)
        out[str(name)] = (float(lo), math.inf if hi is None else float(hi))
    return out


def grounding_metrics(preds: dict[str, Query], refs: dict[str, Query], report: InputReport, *,
                      compat: bool = False, r1_tious: Sequence[float] = R1_TIOUS,
                      r1_distances: Sequence[float] = R1_DISTANCES,
                      map_tious: Sequence[float] = MAP_TIOUS,
                      buckets: Mapping[str, Sequence[float | None]] | None = None,
                      ) -> tuple[dict[str, float | None], pd.DataFrame]:
    r1_all = sorted(set(r1_tious) | set(map_tious))
    rows = []
    for qid, ref in refs.items():
        gt = protocol_gt(ref, compat)
        if not len(gt):
            if compat and len(ref.windows):
                report.add("compat_queries_dropped_by_length_range", qid)
            continue
        pred = preds.get(qid)
        row = {"qid": qid, "vid": ref.vid, "status": "scored" if pred is not None else "no_predictions",
               "n_predictions": 0 if pred is None else len(pred.windows), "n_references": len(gt)}
        row.update(score_query(pred, gt, compat, r1_all, r1_distances, map_tious))
        rows.append(row)
    # no query left (compat's length range dropped them all; the evaluator refuses references without a
    # window): the moment-retrieval metrics are null, `queries_evaluated` 0
    frame = pd.DataFrame(rows)
    out = _summary(frame, r1_all, r1_distances, map_tious)
    if len(frame):
        frame["ap"] = frame[[f"ap@{key(t)}" for t in map_tious]].mean(axis=1)
    for name, (lo, hi) in length_buckets(buckets).items():
        bucket_rows = []
        for qid, ref in refs.items():
            gt = protocol_gt(ref, compat)
            length = gt[:, 1] - gt[:, 0]
            gt = gt[(length > lo) & (length <= hi)]
            if len(gt):
                bucket_rows.append(score_query(preds.get(qid), gt, compat, r1_all, r1_distances, map_tious))
        out.update(_summary(pd.DataFrame(bucket_rows), r1_all, r1_distances, map_tious, f"@{name}"))
    if any(r.saliency is not None for r in refs.values()):
        hl, hl_frame = highlight_metrics(preds, refs, compat=compat)
        out.update(hl)
        if len(hl_frame):
            frame = hl_frame if not len(frame) else frame.merge(hl_frame, on="qid", how="outer")
    return out, frame


def highlight_metrics(preds: dict[str, Query], refs: dict[str, Query], *, compat: bool = False,
                      thresholds: Mapping[str, float] = SALIENCY_THRESHOLDS
                      ) -> tuple[dict[str, float | None], pd.DataFrame]:
    """HIT@1 and mAP of the predicted clip saliency at each label threshold (Moment-DETR's `eval_highlight`)."""
    qids = [q for q, r in refs.items() if r.saliency is not None
            and (not compat or (q in preds and preds[q].saliency is not None))]
    rows = []
    for qid in qids:
        table, pred = refs[qid].saliency, preds.get(qid)
        scores = None if pred is None else pred.saliency
        row: dict[str, Any] = {"qid": qid}
        for name, thr in thresholds.items():
            binary = (table >= thr).astype(np.float64)
            if scores is None or not len(scores):
                row[f"hl_hit1@{name}"], row[f"hl_ap@{name}"] = 0.0, 0.0
                row[f"_hl_ap@{name}"] = np.zeros(binary.shape[1])
                continue
            top = int(np.argmax(scores))
            row[f"hl_hit1@{name}"] = float(binary[top].max()) if top < len(binary) else 0.0
            y = np.zeros(len(binary))
            y[:min(len(y), len(scores))] = scores[:len(y)]
            aps = np.array([saliency_ap(binary[:, a], y) for a in range(binary.shape[1])])
            row[f"_hl_ap@{name}"] = aps
            row[f"hl_ap@{name}"] = float(aps.mean())
        rows.append(row)
    out: dict[str, float | None] = {}
    for name in thresholds:
        if not rows:
            out[f"hl_map@{name}"] = out[f"hl_hit1@{name}"] = None
            continue
        aps = [r[f"_hl_ap@{name}"] for r in rows]
        same_width = len({len(a) for a in aps}) == 1
        out[f"hl_map@{name}"] = float(np.mean(np.stack(aps)) if same_width else np.mean([a.mean() for a in aps]))
        out[f"hl_hit1@{name}"] = float(np.mean([r[f"hl_hit1@{name}"] for r in rows]))
    out["hl_queries_evaluated"] = float(len(rows))
    frame = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    return out, frame


def count_grounding_inputs(preds: dict[str, Query], refs: dict[str, Query], report: InputReport) -> None:
    align_videos(preds, list(refs), report, unit="queries")
    for qid, ref in refs.items():
        if not len(ref.windows):
            report.add("queries_without_reference_windows_skipped", qid)
        elif ref.duration is not None:
            outside = int(((ref.windows[:, 0] < 0) | (ref.windows[:, 1] > ref.duration)).sum())
            if outside:
                report.add("reference_windows_outside_duration", qid, outside)
    dropped = sum(max(0, len(p.windows) - MAX_PRED_WINDOWS) for q, p in preds.items() if q in refs)
    if dropped:
        report.add("predicted_windows_beyond_first_10_not_used_for_map", n=dropped)
    if any(r.saliency is not None for r in refs.values()):
        for qid, ref in refs.items():
            pred = preds.get(qid)
            if pred is None or ref.saliency is None:
                continue
            if pred.saliency is None:
                report.add("queries_without_predicted_saliency", qid)
            elif len(pred.saliency) != len(ref.saliency):
                report.add("predicted_saliency_scores_wrong_length", f"{qid} ({len(pred.saliency)} scores for "
                           f"{len(ref.saliency)} clips of {ref.clip_length:g} s)")
            if pred.clip_length is not None and ref.clip_length is not None and pred.clip_length != ref.clip_length:
                report.add("predicted_saliency_clip_length_differs_from_references",
                           f"{qid} ({pred.clip_length:g} s, references {ref.clip_length:g} s)")


def derive_reference_saliency(preds: dict[str, Query], refs: dict[str, Query], report: InputReport,
                              clip_length: float | None = None) -> bool:
    """Saliency tables from the relevant windows (`saliency.derived_saliency_table`) for references without
    annotated saliency, when some prediction has `pred_saliency_scores`; True when it derived them. Clip length:
    `clip_length`, else the prediction row's `clip_length`, else 1 s."""
    if any(r.saliency is not None for r in refs.values()) or not any(p.saliency is not None for p in preds.values()):
        return False
    for qid, ref in refs.items():
        if ref.duration is None or ref.duration <= 0:
            report.add("queries_without_duration_no_derived_saliency", qid)
            continue
        pred = preds.get(qid)
        length = clip_length or (pred.clip_length if pred is not None else None) or DERIVED_CLIP_LENGTH
        ref.saliency = derived_saliency_table(np.clip(ref.windows, 0.0, ref.duration), ref.duration, length)
        ref.clip_length = length
    report.add("reference_saliency_derived_from_windows", n=sum(r.saliency is not None for r in refs.values()))
    return True
