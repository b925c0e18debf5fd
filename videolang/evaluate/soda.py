"""SODA_c (Fujita et al. 2020) as VidChapters / PDVC run it, with the dynamic programme vectorised.

Per video, predictions and references are sorted by start time; the score
matrix is tIoU (densevid definition, +1e-8) times METEOR of each pair; an
order-preserving assignment maximises the summed score
(dp[i, j] = max(dp[i-1, j], dp[i, j-1], dp[i-1, j-1] + s[i, j])), and
precision = best / #predictions, recall = best / #references, F1 per video,
all three averaged over videos. Pairs with tIoU 0 contribute 0 whatever their
METEOR, so only overlapping pairs are sent to METEOR.

The reference implementation passes the predictions where METEOR expects the
references (it scores each reference sentence as the hypothesis against the
prediction); `compat=True` reproduces that swap, the default scores the
prediction against the reference.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from videolang.core.spans import tiou_matrix
from videolang.evaluate.inputs import Segments
from videolang.evaluate.meteor import Pair
from videolang.evaluate.ptb import remove_nonascii
from videolang.evaluate.text import TextScorer

DENSEVID_EPS = 1e-8


def chased_dp_max(scores: np.ndarray) -> np.ndarray:
    """Best order-preserving assignment score for each (M, N) matrix of a (V, M, N) stack.

    Row by row: a[j] = max(dp[i-1, j], dp[i-1, j-1] + s[i, j]), then dp[i, j] is the running
    maximum of a along j, which is the dp[i, j-1] term. Zero padding (extra rows or columns)
    leaves the result unchanged, so stacks may mix sizes padded to one shape."""
    scores = np.asarray(scores, dtype=np.float64)
    v, m, n = scores.shape
    prev = np.zeros((v, n + 1))
    for i in range(m):
        cand = np.maximum(prev[:, 1:], prev[:, :-1] + scores[:, i, :])
        prev[:, 1:] = np.maximum.accumulate(cand, axis=1)
    return prev[:, -1].copy()


def sorted_by_start(s: Segments) -> Segments:
    return s.take(np.argsort(s.spans[:, 0], kind="stable")) if len(s) else s


@dataclass
class SodaPlan:
    """Per video the tIoU matrix (references x predictions) and its overlapping cells; the METEOR pairs."""

    ious: list[np.ndarray]
    cells: list[tuple[np.ndarray, np.ndarray]]
    pairs: list[Pair]


def plan_soda(videos: Sequence[tuple[Segments, Segments]], text: TextScorer, compat: bool = False) -> SodaPlan:
    """Lay out (predictions, references) videos of raw sentences; `text` must have tokenised them."""
    plan = SodaPlan([], [], [])
    for pred, ref in videos:
        pred, ref = sorted_by_start(pred), sorted_by_start(ref)
        iou = tiou_matrix(ref.spans, pred.spans, eps=DENSEVID_EPS)  # rows: references, as SODA
        gi, pi = np.nonzero(iou > 0)
        for g, p in zip(gi.tolist(), pi.tolist()):
            ptok = text.tok(remove_nonascii(pred.sentences[p]))
            gtok = text.tok(remove_nonascii(ref.sentences[g]))
            plan.pairs.append((gtok, [ptok]) if compat else (ptok, [gtok]))
        plan.ious.append(iou)
        plan.cells.append((gi, pi))
    return plan


def finish_soda(plan: SodaPlan, meteor_scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-video SODA_c (precision, recall, F1) from the plan and the METEOR score of each of its pairs."""
    meteor = iter(meteor_scores)
    by_shape: dict[tuple[int, int], list[int]] = defaultdict(list)
    matrices = []
    for k, (iou, (gi, pi)) in enumerate(zip(plan.ious, plan.cells)):
        s = np.zeros_like(iou)
        s[gi, pi] = [next(meteor) for _ in range(len(gi))]
        matrices.append(iou * s)
        by_shape[iou.shape].append(k)
    best = np.zeros(len(matrices))
    for (m, n), ks in by_shape.items():
        if m and n:
            best[ks] = chased_dp_max(np.stack([matrices[k] for k in ks]))
    n_ref = np.array([m.shape[0] for m in matrices], dtype=np.float64)
    n_pred = np.array([m.shape[1] for m in matrices], dtype=np.float64)
    precision = np.where(n_pred > 0, best / np.maximum(n_pred, 1), 0.0)
    recall = np.where(n_ref > 0, best / np.maximum(n_ref, 1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1


def soda_c_scores(videos: Sequence[tuple[Segments, Segments]], text: TextScorer, compat: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-video SODA_c (precision, recall, F1); `text` must have tokenised the sentences."""
    plan = plan_soda(videos, text, compat)
    return finish_soda(plan, text.meteor.segment_scores(plan.pairs) if plan.pairs else [])
