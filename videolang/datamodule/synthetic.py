"""Synthetic in-memory videos for tests and benchmarks: learnable, instant, no files.

Each video is a sequence of chapters, each on one topic; a chapter's frames are
the topic's prototype vector plus noise and its ASR sentences mention the topic,
so a model can learn both boundaries (from frame changes) and titles (from
frames or speech). Not a substitute for the sample corpus: no media, no extraction.
"""
from __future__ import annotations

import numpy as np

from videolang.backbone.sequences import Segment
from videolang.backbone.sources import MemoryFeatures, VideoFeatures

TOPICS = ["intro", "cooking pasta", "baking bread", "garden tour", "bike repair", "music practice",
          "painting a wall", "outro"]


def synthetic_corpus(num_videos: int = 8, visual_dim: int = 32, seed: int = 0, min_chapters: int = 2,
                     max_chapters: int = 5, fps: float = 1.0, noise: float = 0.3,
                     silent: bool = False) -> tuple[dict[str, dict], MemoryFeatures]:
    """(DVC annotations `{vid: {duration, timestamps, sentences}}`, MemoryFeatures) for `num_videos` videos."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(len(TOPICS), visual_dim)).astype(np.float32)
    annotations, videos = {}, {}
    for v in range(num_videos):
        vid = f"syn{v:04d}"
        n = int(rng.integers(min_chapters, max_chapters + 1))
        lengths = rng.integers(8, 30, size=n).astype(float)
        starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
        duration = float(lengths.sum())
        topics = rng.choice(len(TOPICS), size=n, replace=False)
        ts = np.arange(0, duration, 1.0 / fps)
        frames = np.empty((len(ts), visual_dim), dtype=np.float32)
        speech = []
        for s, length, t in zip(starts, lengths, topics):
            inside = (ts >= s) & (ts < s + length)
            frames[inside] = protos[t] + noise * rng.normal(size=(int(inside.sum()), visual_dim))
            if not silent:
                speech.append(Segment(float(s + 1), float(s + min(length, 6)), f"now {TOPICS[t]} begins here"))
        annotations[vid] = {"duration": duration,
                            "timestamps": [[float(s), float(s + l)] for s, l in zip(starts, lengths)],
                            "sentences": [TOPICS[t] for t in topics]}
        videos[vid] = VideoFeatures(frames, ts, speech, duration)
    return annotations, MemoryFeatures(videos)
