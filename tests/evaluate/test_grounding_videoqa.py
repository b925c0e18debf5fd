"""Grounding (R@1 boundaries, mAP by hand, compat) and VideoQA accuracy."""
from __future__ import annotations

import numpy as np
import pytest

from videolang.evaluate import GroundingEvaluator, evaluate_grounding, evaluate_videoqa
from videolang.evaluate.grounding import MAP_TIOUS, average_precision

REFS = [
    {"qid": 1, "vid": "a", "query": "cut", "duration": 60, "relevant_windows": [[0, 10], [20, 30]]},
    {"qid": 2, "vid": "b", "query": "fry", "duration": 60, "relevant_windows": [[0, 20]]},
    {"qid": 3, "vid": "c", "query": "boil", "duration": 60, "relevant_windows": [[10, 20]]},
    {"qid": 4, "vid": "d", "query": "serve", "duration": 60, "relevant_windows": [[10, 20]]},
]
PREDS = [
    {"qid": 1, "pred_relevant_windows": [[0, 10, 0.9], [0, 10, 0.8], [20, 25, 0.7]]},
    {"qid": 2, "pred_relevant_windows": [[0, 10, 0.9]]},    # IoU exactly 0.5, start error 0
    {"qid": 3, "pred_relevant_windows": [[11, 20, 0.9]]},   # IoU 0.9, start error exactly 1 s
    {"qid": 4, "pred_relevant_windows": [[13, 21, 0.9]]},   # IoU 7/11, start error 3 s
]


def test_average_precision_by_hand():
    """Query 1: A hits gt 1, B duplicates A (a false positive), C has IoU 0.5 with gt 2."""
    iou = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.5]])
    ap = average_precision(iou, MAP_TIOUS)
    # at 0.5: tp 1,0,1 -> recall .5,.5,1, precision 1,.5,2/3 -> AP = .5 * 1 + .5 * 2/3
    assert ap[0] == pytest.approx(0.5 + 0.5 * 2 / 3)
    # above 0.5 only A is a hit: AP = .5
    assert ap[1:].tolist() == pytest.approx([0.5] * 9)


def test_r1_boundaries_and_map_by_hand():
    m = evaluate_grounding(PREDS, REFS)
    # IoUs of the top windows: 1, 0.5, 0.9, 7/11 (0.636); >= is inclusive, no epsilon
    assert m["r1@0.3"] == 1.0
    assert m["r1@0.5"] == 1.0
    assert m["r1@0.7"] == pytest.approx(2 / 4)
    # start errors 0, 0, 1, 3: <= is inclusive
    assert m["r1@1s"] == pytest.approx(3 / 4)
    assert m["r1@3s"] == 1.0
    ap1 = [0.5 + 0.5 * 2 / 3] + [0.5] * 9
    ap2 = [1.0] + [0.0] * 9          # IoU 0.5 passes 0.5 only
    ap3 = [1.0] * 9 + [0.0]          # IoU 0.9 passes up to 0.9
    ap4 = [1.0, 1.0, 1.0] + [0.0] * 7  # IoU 0.636 passes 0.5, 0.55, 0.6
    per_t = np.mean([ap1, ap2, ap3, ap4], axis=0)
    assert m["map@0.5"] == pytest.approx(per_t[0])
    assert m["map@0.75"] == pytest.approx(per_t[5])
    assert m["map"] == pytest.approx(per_t.mean())


def test_grounding_compat_and_missing_queries():
    refs = [{"qid": "x", "vid": "v", "relevant_windows": [[10, 20]]},
            {"qid": "long", "vid": "v", "relevant_windows": [[0, 4000]]},
            {"qid": "missing", "vid": "v", "relevant_windows": [[0, 5]]}]
    preds = [{"qid": "x", "pred_relevant_windows": [[0, 5, 0.1], [10, 20, 0.9]]},   # not sorted by score
             {"qid": "long", "pred_relevant_windows": [[0, 4000, 1.0]]},
             {"qid": "ghost", "pred_relevant_windows": [[0, 1, 1.0]]}]
    result = GroundingEvaluator().evaluate(preds, refs)
    corrected, compat = result.metrics["corrected"], result.metrics["compat"]
    assert corrected["queries_evaluated"] == 3 and corrected["r1@0.7"] == pytest.approx(2 / 3)  # best-scored window
    assert compat["queries_evaluated"] == 2 and compat["r1@0.7"] == 0.0  # first window; 4000 s window dropped
    assert result.report.counts["queries_without_predictions"] == 1
    assert result.report.counts["predictions_for_unknown_queries"] == 1


def test_videoqa_accuracy_per_category():
    refs = [{"qid": 1, "answer_idx": 0, "show_name": "Friends"}, {"qid": 2, "answer_idx": 3, "show_name": "Friends"},
            {"qid": 3, "answer_idx": 4, "show_name": "House"}, {"qid": 4, "answer_idx": 1, "show_name": "House"}]
    preds = {"1": 0, "2": 1, "3": "4", "9": 2}  # 4 has no prediction, 9 is unknown
    m = evaluate_videoqa(preds, refs)
    assert m["accuracy"] == 0.5
    assert m["accuracy/Friends"] == 0.5 and m["accuracy/House"] == 0.5
    assert m["questions_evaluated"] == 4
