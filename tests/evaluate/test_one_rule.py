"""One rule for bad predicted scores and windows across the evaluators (issue 21, item 6), through their APIs:
a NaN or non-numeric score drops the window and is counted (it is never ranked first by R@1 and last by mAP,
nor replaced by the list order); negative and reversed windows are dropped and counted by grounding and dense
captioning alike; references must be their documented shape."""
from __future__ import annotations

import json

import pytest

from videolang.core.errors import BadInputError
from videolang.evaluate import GroundingEvaluator
from videolang.evaluate.grounding import load_grounding_predictions
from videolang.evaluate.inputs import InputReport, load_dense_predictions

REFS = [{"qid": "q", "query": "the middle", "vid": "v", "duration": 30.0, "relevant_windows": [[10, 20]]}]


def test_a_bad_score_drops_its_window_for_every_metric():
    # the NaN-scored window is the one that would hit: kept, R@1 ranked it first and mAP last
    preds = [{"qid": "q", "pred_relevant_windows": [[0, 5, 0.5], [10, 20, float("nan")], [10, 20, "0.9"]]}]
    result = GroundingEvaluator(protocols=["corrected"]).evaluate(preds, REFS)
    assert result.report.counts["predicted_windows_dropped_bad_score"] == 2
    assert result.primary["r1@0.5"] == 0.0 and result.primary["map"] == 0.0
    unscored = [{"qid": "q", "pred_relevant_windows": [[10, 20], [0, 5]]}]  # no scores at all: the list order
    assert GroundingEvaluator(protocols=["corrected"]).evaluate(unscored, REFS).primary["r1@0.5"] == 1.0


def test_negative_and_reversed_windows_are_dropped_and_counted_by_both_evaluators():
    report = InputReport()
    grounding = load_grounding_predictions([{"qid": "q", "pred_relevant_windows": [[-1, 5, 0.9], [9, 3, 0.8],
                                                                                   [1, 5, 0.7]]}], report)
    assert grounding["q"].windows.tolist() == [[1.0, 5.0]]
    dense = load_dense_predictions({"v": [{"timestamp": [-1, 5], "sentence": "a"}, {"timestamp": [9, 3],
                                          "sentence": "b"}, {"timestamp": [1, 5], "sentence": "c"}]}, report)
    assert dense["v"].spans.tolist() == [[1.0, 5.0]]
    assert {k: v for k, v in report.counts.items() if "dropped" in k} == {
        "predicted_windows_dropped_negative_time": 1, "predicted_windows_dropped_end_before_start": 1,
        "predicted_events_dropped_negative_time": 1, "predicted_events_dropped_end_before_start": 1}


def test_grounding_references_must_be_json_lines(tmp_path):
    as_list = tmp_path / "refs.json"
    as_list.write_text(json.dumps(REFS))
    with pytest.raises(BadInputError, match=r"refs.json: grounding references must be a JSON Lines file"):
        GroundingEvaluator().evaluate([], as_list)
    as_rows = tmp_path / "refs.jsonl"
    as_rows.write_text("".join(json.dumps(r) + "\n" for r in REFS))
    assert GroundingEvaluator().evaluate([], as_rows).report.counts["queries_without_predictions"] == 1
