"""Highlight detection (HIT@1, mAP at Fair / Good / Very Good) on a hand-made QVHighlights example, saliency
references derived from windows, and bad predicted saliency lists."""
from __future__ import annotations

import json

import numpy as np
import pytest

from videolang.evaluate import GroundingEvaluator
from videolang.evaluate.saliency import derived_saliency_table

# Three queries on 2 s clips. Full tables (clips x annotators, mk_gt_scores):
#   a (10 s, 5 clips): [0,0,0] [4,3,2] [2,2,1] [0,4,4] [0,0,0]
#   b ( 9 s, 4 clips): [1,1,2] [0,0,0] [0,0,0] [3,4,4]
#   c ( 8 s, 4 clips): [2,2,2] [3,3,3] [4,4,4] [2,3,4]
HAND_REFS = [
    {"qid": "a", "vid": "v", "duration": 10, "relevant_windows": [[2, 8]], "relevant_clip_ids": [1, 2, 3],
     "saliency_scores": [[4, 3, 2], [2, 2, 1], [0, 4, 4]]},
    {"qid": "b", "vid": "v", "duration": 9, "relevant_windows": [[0, 2]], "relevant_clip_ids": [0, 3],
     "saliency_scores": [[1, 1, 2], [3, 4, 4]]},
    {"qid": "c", "vid": "w", "duration": 8, "relevant_windows": [[0, 8]], "relevant_clip_ids": [0, 1, 2, 3],
     "saliency_scores": [[2, 2, 2], [3, 3, 3], [4, 4, 4], [2, 3, 4]]},
]
HAND_PREDS = [
    {"qid": "a", "pred_relevant_windows": [[2, 8, 0.9]], "pred_saliency_scores": [0.1, 0.9, 0.5, 0.7, 0.2]},
    {"qid": "b", "pred_relevant_windows": [[0, 2, 0.9]], "pred_saliency_scores": [0.3, 0.3, 0.8, 0.1, 5.0]},  # 1 long
    {"qid": "c", "pred_relevant_windows": [[0, 8, 0.9]], "pred_saliency_scores": [0.2, 0.4, 0.4]},  # 1 short
]


def test_hand_made_example_matches_moment_detr_eval_highlight():
    """Numbers of jayleicn/moment_detr standalone_eval/eval.py `eval_highlight` (run on this example with
    scikit-learn 1.9.1: Fair mAP 75.93 HIT@1 66.67, Good 66.67 / 66.67, VeryGood 44.44 / 33.33), by hand:
    a: top clip 1 = [4,3,2]: a hit at every level; Very Good AP per annotator: clip 1 first (1.0), clip 3
       second (0.5, 0.5) -> 2/3. Fair, annotator 0: labels of the ranking 1,0,1,0,0 -> (1 + 2/3) / 2.
    b: argmax of the *uncut* list is clip 4, past the 4-clip table: no hit; scores cut to 4: Very Good AP
       0 (annotator 0 has no positive), 1/4, 1/4 (clip 3 ranked last) -> 1/6.
    c: scores zero-padded to 4, argmax clip 1 (first of the tie) = [3,3,3]: a hit at Fair / Good only;
       Very Good AP 1/2 for each annotator."""
    result = GroundingEvaluator().evaluate(HAND_PREDS, HAND_REFS)
    m = result.primary
    ap_a_fair = ((1 + 2 / 3) / 2 + 1 + 1) / 3
    assert m["hl_hit1@fair"] == pytest.approx(2 / 3) and m["hl_hit1@good"] == pytest.approx(2 / 3)
    assert m["hl_hit1@very_good"] == pytest.approx(1 / 3)
    assert m["hl_map@very_good"] == pytest.approx((2 / 3 + 1 / 6 + 1 / 2) / 3)
    frame = result.per_item.set_index("qid")
    assert frame.loc["a", "hl_ap@fair"] == pytest.approx(ap_a_fair)
    for ours, theirs in (("fair", 75.93), ("good", 66.67), ("very_good", 44.44)):
        assert round(100 * m[f"hl_map@{ours}"], 2) == theirs
    assert result.report.counts["predicted_saliency_scores_wrong_length"] == 2
    assert result.report.examples["predicted_saliency_scores_wrong_length"] == [
        "b (5 scores for 4 clips of 2 s)", "c (3 scores for 4 clips of 2 s)"]


def test_references_derived_from_windows_clip_length_and_switch():
    assert derived_saliency_table(np.array([[2.0, 4.0]]), 6.0, 1.0)[:, 0].tolist() == [0, 0, 4, 4, 0, 0]
    refs = [{"qid": "x", "vid": "v", "duration": 6.0, "relevant_windows": [[2, 4]]},
            {"qid": "y", "vid": "v", "duration": 7.5, "relevant_windows": [[4, 7.5]]},
            {"qid": "z", "vid": "v", "relevant_windows": [[0, 3]]}]  # no duration: no table to derive
    preds = [{"qid": "x", "pred_relevant_windows": [[2, 4, 1]], "pred_saliency_scores": [0, .1, .9, .2, .8, 0]},
             {"qid": "y", "pred_relevant_windows": [[4, 7, 1]], "pred_saliency_scores": [.5, .1, .2], "clip_length": 2},
             {"qid": "z", "pred_relevant_windows": [[0, 3, 1]]}]
    result = GroundingEvaluator().evaluate(preds, refs)
    m, frame = result.primary, result.per_item.set_index("qid")
    # x: 1 s clips 2, 3 inside [2, 4); ranking .9 (in) .8 (out) .2 (in): AP (1 + 2/3) / 2, top clip in
    # y: the row's 2 s clips, only clip 2 (centre 5 s) inside; top clip 0 is out; AP 1/2
    assert frame.loc["x", "hl_ap@fair"] == pytest.approx(5 / 6) and frame.loc["x", "hl_hit1@fair"] == 1
    assert frame.loc["y", "hl_ap@fair"] == pytest.approx(1 / 2) and frame.loc["y", "hl_hit1@fair"] == 0
    assert m["hl_queries_evaluated"] == 2 and m["hl_map@fair"] == m["hl_map@very_good"] == pytest.approx(2 / 3)
    assert result.report.counts["reference_saliency_derived_from_windows"] == 2
    assert result.report.counts["queries_without_duration_no_derived_saliency"] == 1
    # the option wins over the row: y on 1 s clips, 4, 5, 6 inside, scores zero-padded (counted): AP 3/7
    forced = GroundingEvaluator(saliency_clip_length=1).evaluate(preds, refs)
    assert forced.per_item.set_index("qid").loc["y", "hl_ap@fair"] == pytest.approx(3 / 7)
    assert forced.report.counts["predicted_saliency_scores_wrong_length"] == 1
    assert not any(k.startswith("hl_") for k in GroundingEvaluator(derive_saliency=False).evaluate(preds, refs).primary)


def test_bad_predicted_saliency_is_counted_and_the_warning_names_the_file(tmp_path):
    refs = [dict(r, relevant_windows=[[0, 2]]) for r in HAND_REFS[:1]] + [
        {"qid": q, "vid": "v", "duration": 10, "relevant_windows": [[0, 2]], "relevant_clip_ids": [0],
         "saliency_scores": [[4, 4, 4]]} for q in ("n", "s", "d")]
    path = tmp_path / "preds.jsonl"
    rows = [dict(HAND_PREDS[0], pred_saliency_scores=[0.1, float("nan"), 0, 0, 0]),
            {"qid": "n", "pred_relevant_windows": [[0, 2, 1]], "pred_saliency_scores": [1, "high", 0, 0, 0]},
            {"qid": "s", "pred_relevant_windows": [[0, 2, 1]], "pred_saliency_scores": {"0": 1}},
            {"qid": "d", "pred_relevant_windows": [[0, 2, 1]], "pred_saliency_scores": [5, 0, 0, 0, 0, 0, 0]}]
    path.write_text("".join(json.dumps(r, allow_nan=True) + "\n" for r in rows))
    result = GroundingEvaluator().evaluate(path, refs)
    c = result.report.counts
    assert (c["predicted_saliency_scores_dropped_nan"], c["predicted_saliency_scores_dropped_not_numbers"],
            c["predicted_saliency_scores_dropped_not_a_list"], c["predicted_saliency_scores_wrong_length"]) == (1, 1, 1, 1)
    warning, = result.report.warnings
    assert warning.startswith(f"{path}: 3 queries' pred_saliency_scores dropped (nan: 1, not_a_list: 1, not_numbers: 1")
    assert "1 queries' pred_saliency_scores have a length other than" in warning
    # dropped lists score 0; the long one is cut to the 5 clips and its top clip 0 is relevant
    assert result.primary["hl_hit1@very_good"] == 0.25 and result.primary["hl_queries_evaluated"] == 4
