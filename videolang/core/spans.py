"""Time spans and chapters: the one definition of temporal IoU used everywhere.

tIoU follows the ActivityNet densevid_eval definition: the union is the smaller
of the hull and the sum of lengths, so disjoint spans get 0 and touching spans
do not get a spurious union. densevid_eval and SODA also add 1e-8 to the union
before dividing (so an IoU of exactly 0.5 reads as 0.49999999 there): pass
`eps=1e-8` to reproduce them; Moment-DETR's evaluation adds nothing (`eps=0`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from videolang.core.errors import BadInputError


@dataclass(frozen=True, order=True)
class Span:
    """A half-open time interval [start, end) in seconds."""

    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start

    def validate(self, duration: float | None = None, source: str | None = None) -> "Span":
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise BadInputError(f"span {self.start}-{self.end} has a non-finite time", source)
        if self.start < 0:
            raise BadInputError(f"span {self.start}-{self.end} starts before 0", source)
        if self.end < self.start:
            raise BadInputError(f"span {self.start}-{self.end} ends before it starts", source)
        if duration is not None and self.start >= duration:
            raise BadInputError(f"span {self.start}-{self.end} starts past the duration {duration}", source)
        return self


@dataclass(frozen=True)
class Chapter:
    """A titled span; chapter i of a video spans [t_i, t_{i+1})."""

    start: float
    end: float
    title: str

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "title": self.title}


def chapters_from_starts(starts: list[float], titles: list[str], duration: float) -> list[Chapter]:
    """Close each chapter at the next start; the last one at the video duration."""
    ends = list(starts[1:]) + [duration]
    return [Chapter(float(s), float(e), t) for s, e, t in zip(starts, ends, titles)]


def tiou(a: tuple[float, float], b: tuple[float, float], eps: float = 0.0) -> float:
    """Temporal IoU of two [start, end] pairs (densevid_eval definition; `eps` is added to the union)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = min(max(a[1], b[1]) - min(a[0], b[0]), (a[1] - a[0]) + (b[1] - b[0])) + eps
    return inter / union if union > 0 else 0.0


def tiou_matrix(pred: np.ndarray, ref: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """Pairwise tIoU between (N, 2) and (M, 2) arrays of [start, end] -> (N, M); `eps` as in `tiou`."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 2)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1, 2)
    ps, pe = pred[:, 0:1], pred[:, 1:2]
    rs, re_ = ref[None, :, 0], ref[None, :, 1]
    inter = np.clip(np.minimum(pe, re_) - np.maximum(ps, rs), 0.0, None)
    union = np.minimum(np.maximum(pe, re_) - np.minimum(ps, rs), (pe - ps) + (re_ - rs)) + eps
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out
