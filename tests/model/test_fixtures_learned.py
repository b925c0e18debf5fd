"""Each head trained on the sample corpus (the shared fixtures of tests/fixtures/model.py) learned something:
its score on the videos it was trained on beats a trivial baseline computed here on the same references.

The fixtures train briefly on four videos, so these are memorisation checks, not generalisation claims
(held-out figures live in `make demo` and benchmarks/). Their purpose: a head that learned nothing, or a
pipeline that feeds it the wrong inputs, fails here instead of passing every format test.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from videolang.core.spans import tiou, tiou_matrix


def fixture_metrics(run: Path) -> dict[str, float]:
    """What the fixture's training run scored on its test split (the videos it trained on)."""
    return json.loads((run / "metrics_test.json").read_text())


def uniform_chapters(dvc: dict[str, dict], k: int) -> dict[str, list[dict]]:
    """The uniform baseline: each video cut into `k` equal chapters."""
    out = {}
    for vid, ann in dvc.items():
        edges = np.linspace(0.0, float(ann["duration"]), k + 1)
        out[vid] = [{"timestamp": [float(s), float(e)], "sentence": "chapter"} for s, e in zip(edges, edges[1:])]
    return out


def f1_at(predictions: dict[str, list[dict]], refs: dict[str, dict], threshold: float = 0.5) -> float:
    """densevid_eval's F1 at one tIoU (per-video precision and recall averaged over videos, then the harmonic
    mean), on spans alone: the text metrics, and so the Java METEOR they start, play no part in it."""
    precision, recall = [], []
    for vid, ann in refs.items():
        pred = np.array([p["timestamp"] for p in predictions.get(vid, [])], dtype=float).reshape(-1, 2)
        hits = tiou_matrix(pred, np.array(ann["timestamps"], dtype=float)) > threshold
        precision.append(hits.any(axis=1).mean() if len(pred) else 0.0)
        recall.append(hits.any(axis=0).mean() if len(pred) else 0.0)
    p, r = float(np.mean(precision)), float(np.mean(recall))
    return 2 * p * r / (p + r) if p + r else 0.0


def test_chapter_head_beats_uniform_chapters(trained_on_sample):
    refs = json.loads((trained_on_sample["root"] / "data" / "built" / "sample" / "tasks"
                       / "dense_captioning_test.json").read_text())
    predictions = json.loads((trained_on_sample["run"] / "predictions_test.json").read_text())["results"]
    learned = f1_at(predictions, refs)
    assert learned == pytest.approx(fixture_metrics(trained_on_sample["run"])["test/f1_0.5"], abs=1e-6)
    mean_count = round(np.mean([len(a["timestamps"]) for a in refs.values()]))
    baseline = f1_at(uniform_chapters(refs, mean_count), refs)
    assert learned > baseline + 0.1, (learned, baseline)


def test_videoqa_head_beats_the_most_frequent_answer_position(videoqa_ckpt):
    rows = videoqa_ckpt["rows"]
    prior = Counter(r["answer_idx"] for r in rows).most_common(1)[0][1] / len(rows)
    accuracy = fixture_metrics(videoqa_ckpt["run"])["test/accuracy"]
    assert accuracy >= min(1.0, prior + 0.3), (accuracy, prior)


def best_single_window_recall(references: list[dict], threshold: float = 0.5) -> float:
    """R@1 of the positional prior: per video, the one window (among its true windows) that answers the most
    of its queries, given to every query of that video."""
    by_video: dict[str, list[list[float]]] = defaultdict(list)
    for r in references:
        by_video[r["vid"]].append(r["relevant_windows"][0])
    hits = 0
    for windows in by_video.values():
        hits += max(sum(tiou(w, other) >= threshold for other in windows) for w in windows)
    return hits / len(references)


def test_grounding_head_beats_a_positional_prior_and_reads_the_query(grounding_ckpt):
    references = [json.loads(line) for line in grounding_ckpt["references"].read_text().splitlines()]
    predictions = [json.loads(line) for line in (grounding_ckpt["run"] / "predictions_test.jsonl")
                   .read_text().splitlines()]
    prior = best_single_window_recall(references)
    recall = fixture_metrics(grounding_ckpt["run"])["test/r1_0.5"]
    assert recall > prior + 0.1, (recall, prior)
    top = defaultdict(set)
    for p in predictions:
        top[p["vid"]].add(tuple(p["pred_relevant_windows"][0][:2]))
    changing = np.mean([len(t) > 1 for t in top.values()])
    assert changing >= 0.75, dict(top)  # the top window depends on the query in (nearly) every video
