"""Clip saliency for highlight detection: the clip grid, checks of predicted scores, references from windows.

Moment-DETR's `mk_gt_scores` lays a video out as int(duration / clip_length) clips (2 s on
QVHighlights) with one score per annotator (0-4). Our grounding task files have relevant windows
but no saliency annotation, so a reference table can be *derived* from the windows: a clip whose
centre lies in a relevant window [start, end) scores `DERIVED_SCORE` (4, "very good") for each of
`DERIVED_ANNOTATORS` (3) annotators, every other clip 0. With such a table the three levels (fair
>= 2, good >= 3, very good >= 4) coincide: HIT@1 is "the top clip is inside the window" and mAP the
per-query AP of the scores against inside / outside.

Predicted scores come from models and users: a list that is not one finite number per clip is
dropped and counted by reason (`parse_predicted_saliency`); a list of the wrong length is kept and
cut or zero-padded to the table, as the reference does, and counted.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

QVHIGHLIGHTS_CLIP_LENGTH = 2.0  # the reference's `mk_gt_scores(clip_length=2)`
DERIVED_CLIP_LENGTH = 1.0       # per-second saliency: our features are at 1 fps
DERIVED_SCORE = 4
DERIVED_ANNOTATORS = 3


def clip_count(duration: float, clip_length: float) -> int:
    """Clips of a video as `mk_gt_scores` counts them: int(duration / clip_length) (a partial last clip is dropped)."""
    return int(duration / clip_length)


def valid_clip_length(value: Any) -> float | None:
    """A positive finite number of seconds, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def parse_predicted_saliency(raw: Any) -> tuple[np.ndarray | None, str | None]:
    """(scores, None) for a list of finite numbers, else (None, reason): `not_a_list`, `not_numbers`, `nan`
    (NaN or infinite). An empty list is kept (it scores 0)."""
    if not isinstance(raw, list):
        return None, "not_a_list"
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
        return None, "not_numbers"
    scores = np.array(raw, dtype=np.float64)
    if not np.isfinite(scores).all():
        return None, "nan"
    return scores, None


def derived_saliency_table(windows: np.ndarray, duration: float, clip_length: float) -> np.ndarray:
    """(clips, DERIVED_ANNOTATORS): DERIVED_SCORE where the clip's centre is inside a relevant window, else 0."""
    n = clip_count(duration, clip_length)
    centres = (np.arange(n) + 0.5) * clip_length
    windows = np.asarray(windows, dtype=np.float64).reshape(-1, 2)
    inside = ((centres[:, None] >= windows[None, :, 0]) & (centres[:, None] < windows[None, :, 1])).any(axis=1)
    return np.repeat((inside * DERIVED_SCORE).astype(np.float64)[:, None], DERIVED_ANNOTATORS, axis=1)
