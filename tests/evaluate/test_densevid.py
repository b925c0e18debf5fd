"""densevid_eval: tIoU edge cases, P/R and R@Ns by hand, and equality with the reference algorithm."""
from __future__ import annotations

import random

import numpy as np
import pytest

from tests.evaluate.reference_tools import reference_eval_dvc
from videolang.core.spans import tiou, tiou_matrix
from videolang.evaluate import DenseCaptioningEvaluator, evaluate_dense_captioning
from videolang.evaluate.densevid import random_caption


# -- tIoU -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("a, b, expected", [
    ((0, 10), (0, 10), 1.0),          # identical
    ((0, 10), (10, 20), 0.0),         # touching: no intersection, union is not the hull
    ((0, 10), (20, 30), 0.0),         # disjoint
    ((2, 4), (0, 10), 0.2),           # contained
    ((0, 10), (0, 20), 0.5),          # exactly one half
    ((5, 15), (0, 10), 5 / 15),       # partial overlap
    ((3, 3), (0, 10), 0.0),           # zero length inside a span
    ((3, 3), (3, 3), 0.0),            # two identical points: union 0 -> 0, not NaN
])
def test_tiou_edge_cases(a, b, expected):
    assert tiou(a, b) == pytest.approx(expected, abs=1e-12)
    assert tiou_matrix(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected, abs=1e-12)


def test_densevid_epsilon_makes_exact_thresholds_fail():
    """densevid_eval divides by union + 1e-8: an IoU of exactly 0.5 is 0.49999999 there, so it misses >= 0.5."""
    exact = tiou((0, 10), (0, 20), eps=1e-8)
    assert exact < 0.5 and exact == pytest.approx(0.5, abs=1e-9)
    assert tiou_matrix(np.array([[0, 10]]), np.array([[0, 20]]), eps=1e-8)[0, 0] == exact
    assert tiou((3, 3), (3, 3), eps=1e-8) == 0.0


# -- a case worked on paper -----------------------------------------------------------------------
REFS = {
    "v1": {"duration": 60.0, "timestamps": [[0, 10], [10, 30]], "sentences": ["chop the onion", "fry the onion in oil"]},
    "v2": {"duration": 100.0, "timestamps": [[0, 100]], "sentences": ["serve the soup"]},
}
PREDS = {"results": {"v1": [
    {"timestamp": [0, 10], "sentence": "chop the onion"},          # IoU with ref 1: 1 - 1e-9
    {"timestamp": [10, 20], "sentence": "fry the onion in oil"},   # IoU with ref 2: exactly 0.5 (minus eps)
    {"timestamp": [40, 50], "sentence": "serve the soup"},         # overlaps nothing; starts 30 s after ref 2
]}}  # v2 has no prediction


@pytest.fixture(scope="module")
def worked(meteor):
    return DenseCaptioningEvaluator().evaluate(PREDS, REFS, meteor=meteor)


def test_precision_recall_by_hand(worked):
    compat, corrected = worked.metrics["compat"], worked.metrics["corrected"]
    # v1 alone (compat skips the video without predictions)
    assert compat["precision@0.3"] == pytest.approx(2 / 3) and compat["recall@0.3"] == 1.0
    assert compat["precision@0.5"] == pytest.approx(1 / 3) and compat["recall@0.5"] == 0.5  # 0.5 - eps misses
    assert compat["precision@0.9"] == pytest.approx(1 / 3) and compat["recall@0.9"] == 0.5
    assert compat["f1@0.5"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert compat["recall"] == pytest.approx((1 + 0.5 + 0.5 + 0.5) / 4)
    # corrected: v2 counts, with zeros
    assert corrected["precision@0.3"] == pytest.approx(1 / 3) and corrected["recall@0.3"] == 0.5
    assert corrected["videos_evaluated"] == 2 and compat["videos_evaluated"] == 1
    assert worked.report.counts["videos_without_predictions"] == 1


def test_r_at_n_seconds_is_strict_by_hand(worked):
    m = worked.metrics["compat"]
    # starts 0 and 10 match exactly; the third prediction starts 30 s after ref 2 (and 40 s after ref 1)
    assert m["precision@1s"] == pytest.approx(2 / 3) and m["recall@1s"] == 1.0
    assert m["precision@30s"] == pytest.approx(2 / 3)  # |40 - 10| = 30 is not < 30
    assert m["precision@60s"] == 1.0


def test_missing_video_scores_zero_in_every_caption_metric(worked):
    row = worked.per_item.set_index("video_id").loc["v2"]
    assert row["status"] == "no_predictions"
    assert all(row[m] == 0.0 for m in ("meteor", "cider", "bleu_4", "rouge_l", "soda_c", "recall"))
    v1 = worked.per_item.set_index("video_id").loc["v1"]
    assert worked.metrics["corrected"]["meteor"] == pytest.approx(v1["meteor"] / 2)
    assert worked.metrics["compat"]["meteor"] == pytest.approx(v1["meteor"])


def test_caption_pairs_by_hand(worked, oracle_meteor):
    """At tIoU 0.9 the pairs are (p1, ref 1), (p2, random), (p3, random): METEOR of exactly that group."""
    junk = random_caption(0, "v1")
    gts = {0: ["chop the onion"], 1: [junk], 2: [junk]}
    res = {0: ["chop the onion"], 1: ["fry the onion in oil"], 2: ["serve the soup"]}
    expected, _ = oracle_meteor.compute_score(gts, res)
    assert worked.metrics["compat"]["meteor@0.9"] == expected


# -- the reference algorithm ----------------------------------------------------------------------
def _random_set(rng: random.Random, n_videos: int):
    words = "chop fry onion garlic the a pan oil boil water salt add stir serve plate".split()
    refs, preds = {}, {}
    for v in range(n_videos):
        duration = rng.uniform(40, 120)
        starts = sorted(rng.uniform(0, duration - 5) for _ in range(rng.randint(1, 5)))
        refs[f"vid{v}"] = {"duration": duration,
                           "timestamps": [[s, min(duration, s + rng.uniform(2, 30))] for s in starts],
                           "sentences": [" ".join(rng.choices(words, k=rng.randint(2, 7))) for _ in starts]}
        if v % 5 == 4:
            continue  # no prediction for this one
        events = []
        for _ in range(rng.randint(0, 5)):
            s = rng.choice([rng.uniform(0, duration - 5), rng.choice(starts)])  # some exact starts
            e = s + rng.choice([rng.uniform(1, 30), 10.0])
            events.append({"timestamp": [s, min(e, duration)], "sentence": " ".join(rng.choices(words, k=rng.randint(1, 7)))})
        preds[f"vid{v}"] = events
    return preds, refs


def test_equals_the_reference_densevid_eval(meteor, oracle_meteor):
    rng = random.Random(7)
    preds, refs = _random_set(rng, 10)
    expected = reference_eval_dvc(preds, refs, oracle_meteor, lambda vid: random_caption(0, vid))
    ours = evaluate_dense_captioning({"results": preds}, refs, compat=True, soda=False, meteor=meteor)
    names = {"METEOR": "meteor", "CIDEr": "cider", "Rouge-L": "rouge_l", "Bleu_1": "bleu_1", "Bleu_2": "bleu_2",
             "Bleu_3": "bleu_3", "Bleu_4": "bleu_4", "Recall": "recall", "Precision": "precision", "F1": "f1"}
    for key, value in expected.items():
        base, _, at = key.partition("@")
        mine = names[base] + (f"@{at}" if at else "")
        assert ours[mine] == pytest.approx(value, rel=1e-12, abs=1e-15), key
