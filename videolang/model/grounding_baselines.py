"""Chapter-grounding baselines of VidChapters (`zs_vcgr.py`), for benchmarks/bench_grounding.py.

- `random_windows`: a uniformly random [s, e] inside the video (the "random" row).
- `clip_zero_shot_window`: the zero-shot CLIP baseline: the query's text embedding against the
  per-second frame embeddings (both from the same CLIP), `sim = row-normalised (text @ frames^T)`;
  start = the best frame; the window grows to the right while `sim >= sim[start] - delta`
  (delta 0.05); end = the time of the first frame that breaks it, or the duration if none does.

Both return Moment-DETR-style `[[start, end, score], ...]` lists, best first.
"""
from __future__ import annotations

import numpy as np


def random_windows(duration: float, rng: np.random.Generator, k: int = 1) -> list[list[float]]:
    """k random windows (start < end, inside [0, duration]), scores descending so the order is the ranking."""
    out = []
    for rank in range(k):
        s, e = np.sort(rng.uniform(0.0, duration, size=2))
        out.append([float(s), float(max(e, s + 1e-3)), float(1.0 - rank / max(k, 1))])
    return out


def row_normalised_similarity(text: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """VidChapters' similarity: the text @ frames^T row (one query), divided by its L2 norm."""
    sim = np.asarray(frames, dtype=np.float64) @ np.asarray(text, dtype=np.float64).reshape(-1)
    norm = np.linalg.norm(sim)
    return sim / norm if norm > 0 else sim


def clip_zero_shot_window(text: np.ndarray, frames: np.ndarray, timestamps: np.ndarray, duration: float,
                          delta: float = 0.05) -> list[list[float]]:
    """The one window of the zero-shot CLIP baseline, with its start similarity as the score."""
    if len(frames) == 0:
        return [[0.0, float(duration), 0.0]]
    sim = row_normalised_similarity(text, frames)
    start = int(np.argmax(sim))
    end = start + 1
    while end < len(sim) and sim[end] >= sim[start] - delta:
        end += 1
    end_time = float(timestamps[end]) if end < len(sim) else float(duration)
    return [[float(timestamps[start]), end_time, float(sim[start])]]
