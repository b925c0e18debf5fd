"""SODA_c: the order-preserving assignment by hand, the argument swap, equality with the reference code."""
from __future__ import annotations

import random

import numpy as np
import pytest

from tests.evaluate.reference_tools import chased_dp_assignment, reference_soda_c
from videolang.evaluate import soda_c
from videolang.evaluate.soda import chased_dp_max


def test_assignment_is_order_preserving_by_hand():
    # best unconstrained matching: (2,0) 4 + (0,1) 2 + (1,2) 1 = 7; order-preserving: diagonal 1 + 3 + 1 = 5
    s = np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 1.0], [4.0, 0.0, 1.0]])
    assert chased_dp_max(s[None])[0] == 5.0
    # crossing pairs cannot both be taken
    assert chased_dp_max(np.array([[[0.0, 0.4], [2 / 3, 0.0]]]))[0] == pytest.approx(2 / 3)
    # rectangular, and zero padding changes nothing
    r = np.array([[0.5, 0.0, 0.9, 0.1]])
    assert chased_dp_max(r[None])[0] == 0.9
    assert chased_dp_max(np.pad(s, ((0, 2), (0, 1)))[None])[0] == 5.0


def test_vectorised_dp_equals_the_recursive_one():
    rng = np.random.default_rng(0)
    for m, n in [(1, 1), (1, 7), (6, 1), (5, 8), (9, 4)]:
        stack = rng.random((6, m, n)) * (rng.random((6, m, n)) > 0.4)
        assert chased_dp_max(stack).tolist() == [chased_dp_assignment(x) for x in stack]


REFS = {"v": {"duration": 30.0, "timestamps": [[0, 10], [10, 20]], "sentences": ["alpha bravo", "charlie delta"]}}
# sorted by start: p1 [5, 20] says ref 2's words, p2 [6, 10] says ref 1's words (they cross)
PREDS = {"v": [{"timestamp": [6, 10], "sentence": "alpha bravo"}, {"timestamp": [5, 20], "sentence": "charlie delta"}]}


def test_soda_c_by_hand(meteor):
    assert meteor.segment_scores([("alpha bravo", ["alpha bravo"]), ("alpha bravo", ["charlie delta"])]) == [1.0, 0.0]
    # score matrix (refs x preds sorted by start) = IoU x METEOR = [[0, 0.4], [10/15, 0]]: the best
    # order-preserving assignment keeps one crossing pair, 10/15; precision = recall = (2/3) / 2.
    out = soda_c(PREDS, REFS, meteor=meteor)
    assert out["soda_c_precision"] == pytest.approx(1 / 3, abs=1e-8)
    assert out["soda_c_recall"] == pytest.approx(1 / 3, abs=1e-8)
    assert out["soda_c"] == pytest.approx(1 / 3, abs=1e-8)


def test_argument_swap_under_compat(meteor):
    """METEOR is asymmetric: compat scores the reference sentence as the hypothesis."""
    refs = {"v": {"duration": 10.0, "timestamps": [[0, 10]], "sentences": ["the onion"]}}
    preds = {"v": [{"timestamp": [0, 10], "sentence": "the onion is chopped finely"}]}
    forward, backward = meteor.segment_scores([("the onion is chopped finely", ["the onion"]),
                                              ("the onion", ["the onion is chopped finely"])])
    assert forward != backward
    iou = 10 / (10 + 1e-8)
    assert soda_c(preds, refs, meteor=meteor)["soda_c"] == pytest.approx(iou * forward, rel=1e-12)
    assert soda_c(preds, refs, compat=True, meteor=meteor)["soda_c"] == pytest.approx(iou * backward, rel=1e-12)


def test_equals_the_reference_soda(meteor, oracle_meteor):
    rng = random.Random(11)
    words = "chop fry onion garlic pan oil boil water salt add stir serve plate the a".split()
    refs, preds = {}, {}
    for v in range(6):
        starts = sorted(rng.uniform(0, 80) for _ in range(rng.randint(1, 5)))
        refs[f"v{v}"] = {"duration": 100.0, "timestamps": [[s, s + rng.uniform(3, 25)] for s in starts],
                         "sentences": [" ".join(rng.choices(words, k=rng.randint(2, 6))) for _ in starts]}
        preds[f"v{v}"] = [{"timestamp": [s, s + rng.uniform(3, 25)], "sentence": " ".join(rng.choices(words, k=4))}
                          for s in (rng.uniform(0, 80) for _ in range(rng.randint(1, 5)))]
    for compat in (True, False):
        p, r, f = reference_soda_c(preds, refs, oracle_meteor, swap=compat)
        ours = soda_c(preds, refs, compat=compat, meteor=meteor)
        assert ours["soda_c"] == pytest.approx(f, rel=1e-12)
        assert ours["soda_c_precision"] == pytest.approx(p, rel=1e-12)
        assert ours["soda_c_recall"] == pytest.approx(r, rel=1e-12)
