"""Trivial chapter baselines the model has to beat (benchmarks/bench_learning.py).

(a) `uniform_baseline`: the video split into the training set's average number of
    chapters, every chapter titled with the training set's most frequent title.
(b) `scene_change_baseline`: boundaries where consecutive frame features change
    most, each segment titled with the first transcript sentence inside it.
Both return ActivityNet-style predictions `{vid: [{"timestamp": [s, e], "sentence": t}]}`.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from videolang.backbone.sources import VideoFeatures


def training_statistics(train: dict[str, dict]) -> tuple[int, str]:
    """(rounded average number of chapters, most frequent title) of a DVC training split."""
    counts = [len(v["sentences"]) for v in train.values()]
    titles = Counter(t.strip() for v in train.values() for t in v["sentences"])
    return max(1, int(round(float(np.mean(counts))))), titles.most_common(1)[0][0]


def uniform_baseline(durations: dict[str, float], num_chapters: int, title: str) -> dict[str, list[dict]]:
    out = {}
    for vid, duration in durations.items():
        edges = np.linspace(0.0, duration, num_chapters + 1)
        out[vid] = [{"timestamp": [float(s), float(e)], "sentence": title} for s, e in zip(edges[:-1], edges[1:])]
    return out


def scene_changes(frames: np.ndarray, timestamps: np.ndarray, min_gap: float = 5.0, z: float = 3.0) -> list[float]:
    """Times where the cosine distance between consecutive frames is an outlier (> mean + z * std)."""
    if len(frames) < 3:
        return []
    f = frames / (np.linalg.norm(frames, axis=1, keepdims=True) + 1e-8)
    dist = 1.0 - np.sum(f[1:] * f[:-1], axis=1)
    threshold = dist.mean() + z * dist.std()
    cuts: list[float] = []
    for i in np.argsort(-dist):
        if dist[i] <= threshold:
            break
        t = float(timestamps[i + 1])
        if all(abs(t - c) >= min_gap for c in cuts) and t >= min_gap:
            cuts.append(t)
    return sorted(cuts)


def scene_change_baseline(videos: dict[str, VideoFeatures], durations: dict[str, float],
                          fallback_title: str = "") -> dict[str, list[dict]]:
    out = {}
    for vid, feats in videos.items():
        duration = durations[vid]
        edges = [0.0, *scene_changes(feats.frames, feats.timestamps), duration]
        events = []
        for s, e in zip(edges[:-1], edges[1:]):
            inside = [seg.text for seg in feats.speech if s <= seg.start < e]
            events.append({"timestamp": [s, e], "sentence": inside[0] if inside else fallback_title})
        out[vid] = events
    return out
