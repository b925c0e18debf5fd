"""Query sensitivity of grounding predictions (videolang.evaluate.query_sensitivity): a predictor that ignores the
query scores 0 on the change share and the same R@1 shuffled; one that reads it scores 1 and far less shuffled."""
from __future__ import annotations

import pytest

from videolang.evaluate import GroundingEvaluator, evaluate_grounding
from videolang.stages.evaluate import grounding_lines

CHAPTERS = [[0, 10], [10, 25], [25, 40]]


def _refs() -> list[dict]:
    rows = [{"qid": f"{v}-{c}", "query": f"step {c} of video {v}", "vid": f"v{v}", "duration": 40.0,
             "relevant_windows": [w]} for v in range(6) for c, w in enumerate(CHAPTERS)]
    rows.append({"qid": "solo", "query": "the only query", "vid": "v-solo", "duration": 40.0,
                 "relevant_windows": [[5, 15]]})  # one query: left out of the qs_* figures
    return rows


def _preds(window_of) -> list[dict]:
    return [{"qid": r["qid"], "pred_relevant_windows": [[*window_of(r), 0.9], [0, 40, 0.1]]} for r in _refs()]


def test_one_window_per_video_scores_zero_and_the_same_shuffled():
    m = evaluate_grounding(_preds(lambda r: CHAPTERS[1]), _refs())  # always the middle chapter
    assert m["qs_videos_evaluated"] == 6 and m["qs_queries_evaluated"] == 18
    assert m["qs_top1_changed"] == 0.0
    assert m["qs_r1@0.5"] == pytest.approx(1 / 3)
    for t in ("0.3", "0.5", "0.7"):
        assert m[f"qs_shuffled_r1@{t}"] == m[f"qs_r1@{t}"]


def test_a_query_reading_predictor_scores_one_and_far_less_shuffled():
    m = evaluate_grounding(_preds(lambda r: r["relevant_windows"][0]), _refs())
    assert m["qs_top1_changed"] == 1.0
    assert m["qs_r1@0.5"] == 1.0 and m["r1@0.5"] == 1.0
    assert m["qs_shuffled_r1@0.5"] == 0.0  # each partner's chapter is disjoint from the query's own


def test_protocols_missing_predictions_repeated_texts_and_the_printed_lines():
    refs = _refs()[:3] + [dict(_refs()[3], query="STEP 0 of video 1 "), dict(_refs()[4], query="step 0 of video 1")]
    # video v1 has two queries but one distinct text: left out; in v0 only two of three queries are predicted,
    # each listing the middle chapter first with the lower score
    preds = [{"qid": f"0-{c}", "pred_relevant_windows": [CHAPTERS[1] + [0.1], CHAPTERS[c] + [0.9]]} for c in (0, 2)]
    result = GroundingEvaluator().evaluate(preds, refs)
    corrected, compat = result.metrics["corrected"], result.metrics["compat"]
    assert corrected["qs_videos_evaluated"] == 1 and corrected["qs_queries_evaluated"] == 3
    assert corrected["qs_top1_changed"] == 1.0  # best-scored windows differ
    assert compat["qs_top1_changed"] == 0.0  # compat's top-1 is the first window: the same for both
    # corrected: 0-0 and 0-2 right, 0-1 unpredicted -> 2/3; shuffled 0-0 vs [10, 25], 0-2 vs [0, 10]: 0
    assert corrected["qs_r1@0.5"] == pytest.approx(2 / 3) and corrected["qs_shuffled_r1@0.5"] == 0.0
    assert compat["qs_shuffled_r1@0.5"] == pytest.approx(1 / 3)  # 0-0's [10, 25] is 0-1's window
    assert list(result.per_item.set_index("qid").loc[["0-0", "0-1", "0-2"], "qs_partner"]) == ["0-1", "0-2", "0-0"]
    qs_line, = grounding_lines(corrected)
    assert "changes with the query on 100.0% of 1 videos" in qs_line and "R@1@0.5 66.67" in qs_line
    one_query = [r for r in _refs() if r["qid"] in ("solo", "0-0")]
    one_query[1]["vid"] = "v-other"
    assert not any(k.startswith("qs_") for k in evaluate_grounding(_preds(lambda r: [0, 10]), one_query))
