"""Chapter-grounding baselines of VidChapters (`zs_vcgr.py`), for benchmarks/bench_grounding.py.

- `random_windows`: a uniformly random [s, e] inside the video (the "random" row).
- `clip_zero_shot_window`: the zero-shot CLIP baseline: the query's text embedding against the
  per-second frame embeddings (both from the same CLIP), `sim = row-normalised (text @ frames^T)`;
  start = the best frame; the window grows to the right while `sim >= sim[start] - delta`
  (delta 0.05); end = the time of the first frame that breaks it, or the duration if none does.
  `clip_zero_shot_saliency`: the same similarity per clip, as a highlight baseline.
- `transcript_match` (`TranscriptIndex`): the query against the video's timed ASR sentences with BM25;
  the best sentence's span grown over the contiguous neighbouring sentences whose score stays within
  `margin` of it; per-clip saliency = the score of the sentence covering the clip (a highlight
  baseline too). `transcript_match_rows` does a whole references file.

All return Moment-DETR-style `[[start, end, score], ...]` lists, best first.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from videolang.evaluate.saliency import DERIVED_CLIP_LENGTH, clip_count


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


def clip_zero_shot_saliency(text: np.ndarray, frames: np.ndarray, timestamps: np.ndarray, duration: float,
                            clip_length: float = DERIVED_CLIP_LENGTH) -> list[float]:
    """Per clip [c L, (c + 1) L) the zero-shot similarity of its frames (their mean; the nearest frame's when
    none falls inside): the CLIP baseline as a highlight detector. Not in VidChapters, which has no saliency."""
    n = clip_count(duration, clip_length)
    if not n or not len(frames):
        return [0.0] * n
    sim = row_normalised_similarity(text, frames)
    times = np.asarray(timestamps, dtype=np.float64)
    out = []
    for c in range(n):
        inside = (times >= c * clip_length) & (times < (c + 1) * clip_length)
        out.append(float(sim[inside].mean()) if inside.any()
                   else float(sim[np.argmin(np.abs(times - (c + 0.5) * clip_length))]))
    return out


# -- transcript match (BM25) ---------------------------------------------------------------------
TRANSCRIPT_MATCH_MARGIN = 0.5  # a neighbour joins while its score >= (1 - margin) x the seed sentence's
BM25_K1, BM25_B = 1.5, 0.75    # bm25s' defaults (Lucene's BM25)


def _sentence(item: Any) -> tuple[float, float, str]:
    """(start, end, text) from a `backbone.sequences.Segment` (or anything with start / end / text) or a tuple."""
    if hasattr(item, "text"):
        return float(item.start), float(item.end), str(item.text)
    start, end, text = item
    return float(start), float(end), str(text)


def _tokenize(texts: list[str]) -> list[list[str]]:
    """bm25s' tokenizer: lower case, words of 2+ characters, English stop words out, Snowball English stems."""
    import bm25s  # heavy import (numba); only this baseline needs it
    import Stemmer

    return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False,
                          show_progress=False)


@dataclass
class TranscriptMatch:
    """One query's answer: ranked windows and per-clip saliency (clips of `clip_length` s, as the evaluator counts)."""

    windows: list[list[float]]
    saliency: list[float]
    clip_length: float
    sentence_scores: np.ndarray

    def row(self, qid: Any, vid: str = "", query: str = "") -> dict[str, Any]:
        """A Moment-DETR JSONL row (`stage=evaluate task=grounding` reads it)."""
        return {"qid": qid, "query": query, "vid": vid, "pred_relevant_windows": self.windows,
                "pred_saliency_scores": self.saliency, "clip_length": self.clip_length}


class TranscriptIndex:
    """BM25 over one video's timed sentences (the feature store's `speech` record): index once, ask many queries.

    The corpus is the video's own sentences, so the IDF says how rare a word is *in this video*
    (a word every sentence says weighs little)."""

    def __init__(self, sentences: Iterable[Any]):
        rows = sorted((_sentence(s) for s in sentences), key=lambda r: (r[0], r[1]))
        self.spans = np.array([[s, max(e, s)] for s, e, _ in rows], dtype=np.float64).reshape(-1, 2)
        self.texts = [t for _, _, t in rows]
        self.retriever = None
        tokens = _tokenize(self.texts) if self.texts else []
        if any(tokens):
            import bm25s

            self.retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B)
            self.retriever.index(tokens, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every sentence (time order) for `query`; all 0 when no query word is said."""
        if self.retriever is None:
            return np.zeros(len(self.texts))
        words = _tokenize([query])[0]
        return np.asarray(self.retriever.get_scores(words), dtype=np.float64) if words else np.zeros(len(self.texts))

    def match(self, query: str, duration: float, *, margin: float = TRANSCRIPT_MATCH_MARGIN, k: int = 5,
              clip_length: float = DERIVED_CLIP_LENGTH) -> TranscriptMatch:
        """Up to `k` windows: the best-scoring sentence not yet in a window, grown over its contiguous neighbours
        whose score is >= (1 - margin) x its own, scored with the seed's score; clipped to [0, duration].
        No sentence with a query word (or no transcript): one window, the whole video, score 0."""
        if not 0.0 <= margin <= 1.0:
            raise ValueError(f"margin must be in [0, 1], got {margin}")
        scores = self.scores(query)
        windows: list[list[float]] = []
        used = np.zeros(len(scores), dtype=bool)
        for seed in np.argsort(-scores, kind="stable"):
            if len(windows) >= k or scores[seed] <= 0:
                break
            if used[seed]:
                continue
            floor = (1.0 - margin) * scores[seed]
            lo = hi = int(seed)
            while lo > 0 and not used[lo - 1] and scores[lo - 1] > 0 and scores[lo - 1] >= floor:
                lo -= 1
            while hi + 1 < len(scores) and not used[hi + 1] and scores[hi + 1] > 0 and scores[hi + 1] >= floor:
                hi += 1
            used[lo:hi + 1] = True
            start = float(np.clip(self.spans[lo, 0], 0.0, duration))
            end = float(np.clip(self.spans[hi, 1], 0.0, duration))
            windows.append([start, max(end, min(start + 1e-3, duration)), float(scores[seed])])
        if not windows:
            windows = [[0.0, float(duration), 0.0]]
        return TranscriptMatch(windows, self.clip_saliency(scores, duration, clip_length), clip_length, scores)

    def clip_saliency(self, scores: np.ndarray, duration: float, clip_length: float) -> list[float]:
        """Per clip [c L, (c + 1) L): the score of the sentence overlapping it most (the higher score on a tie),
        0 where no sentence is said."""
        n = clip_count(duration, clip_length)
        if not n:
            return []
        if not len(scores):
            return [0.0] * n
        starts = np.arange(n)[:, None] * clip_length
        overlap = np.minimum(starts + clip_length, self.spans[None, :, 1]) - np.maximum(starts, self.spans[None, :, 0])
        covering = (overlap > 0) & (overlap == overlap.max(axis=1, keepdims=True))
        return np.where(covering, scores[None, :], -np.inf).max(axis=1).clip(min=0.0).tolist()


def transcript_match(query: str, sentences: Iterable[Any], duration: float, *, margin: float = TRANSCRIPT_MATCH_MARGIN,
                     k: int = 5, clip_length: float = DERIVED_CLIP_LENGTH) -> TranscriptMatch:
    """The transcript-match baseline for one query: `sentences` are the video's timed ASR sentences
    (`Segment`s, or `(start, end, text)`), `duration` in seconds. See `TranscriptIndex.match`."""
    return TranscriptIndex(sentences).match(query, duration, margin=margin, k=k, clip_length=clip_length)


def transcript_match_rows(references: Sequence[Mapping[str, Any]], transcripts: Mapping[str, Iterable[Any]], *,
                          margin: float = TRANSCRIPT_MATCH_MARGIN, k: int = 5,
                          clip_length: float = DERIVED_CLIP_LENGTH) -> list[dict[str, Any]]:
    """Moment-DETR rows for every reference row `{qid, query, vid, duration}`; `transcripts[vid]` = its sentences
    (a video missing there has no transcript: the whole-video answer)."""
    indexes: dict[str, TranscriptIndex] = {}
    rows = []
    for ref in references:
        vid = str(ref["vid"])
        if vid not in indexes:
            indexes[vid] = TranscriptIndex(transcripts.get(vid, ()))
        answer = indexes[vid].match(str(ref.get("query", "")), float(ref["duration"]), margin=margin, k=k,
                                    clip_length=clip_length)
        rows.append(answer.row(ref["qid"], vid, str(ref.get("query", ""))))
    return rows
