"""Grounding and highlight detection against Moment-DETR's standalone evaluation (transcribed in
reference_tools.py): mAP at every IoU, by window length, R@1, HIT@1 / mAP of saliency; empty buckets
and bad inputs."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from tests.evaluate import reference_tools as ref
from videolang.core.errors import BadInputError
from videolang.evaluate import GroundingEvaluator, evaluate_grounding
from videolang.evaluate.grounding import MAP_TIOUS, R1_DISTANCES, R1_TIOUS, saliency_ap

R1_ALL = sorted(set(R1_TIOUS) | set(MAP_TIOUS))


def _random_queries(rng: random.Random, n: int, grid: bool, max_duration: float = 150.0, sorted_preds: bool = False):
    def t(x):
        return float(round(x)) if grid else x

    refs, preds = [], []
    for q in range(n):
        duration = t(rng.uniform(20, max_duration))
        gts = []
        for _ in range(rng.randint(1, 3)):
            s = t(rng.uniform(0, duration - 2))
            e = min(duration, t(s + rng.choice([rng.uniform(1, 8), rng.uniform(8, 25), rng.uniform(25, 120)])))
            if e > s:
                gts.append([s, e])
        gts = gts or [[0.0, min(duration, 5.0)]]
        refs.append({"qid": q, "query": f"q{q}", "vid": f"v{q % 7}", "duration": duration, "relevant_windows": gts})
        windows = []
        for _ in range(rng.randint(1, 14)):
            if rng.random() < 0.3:  # near a ground-truth window
                s0, e0 = rng.choice(gts)
                s, e = t(s0 + rng.uniform(-3, 3)), t(e0 + rng.uniform(-3, 3))
            else:
                s = t(rng.uniform(0, duration - 1))
                e = t(s + rng.uniform(0.5, 60))
            s, e = max(0.0, min(s, e)), min(duration, max(s, e))
            windows.append([s, e, round(rng.random(), 1 if rng.random() < 0.5 else 6)])  # ties in scores
        if sorted_preds:
            windows.sort(key=lambda w: -w[2])
        preds.append({"qid": q, "pred_relevant_windows": windows})
    return preds, refs


def _compare(ours: dict, expected: dict, bucket: str, suffix: str):
    for t in MAP_TIOUS:
        assert ours[f"map@{t:g}{suffix}"] == pytest.approx(expected[bucket]["MR-mAP"][str(t)], rel=1e-12, abs=1e-15)
    assert ours[f"map{suffix}"] == pytest.approx(expected[bucket]["MR-mAP"]["average"], rel=1e-12, abs=1e-15)
    for t in R1_ALL:
        assert ours[f"r1@{t:g}{suffix}"] == pytest.approx(expected[bucket]["MR-R1"][str(t)], rel=1e-12, abs=1e-15)
    for d in R1_DISTANCES:
        assert ours[f"r1@{d:g}s{suffix}"] == pytest.approx(expected[bucket]["MR-R1"][f"{d}s"], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed, grid", [(0, False), (1, True), (2, True), (3, False)])
def test_compat_equals_the_reference_with_buckets(seed, grid):
    """compat = the VidChapters run ((0, 3600] full range, first window is the top one), our buckets."""
    preds, refs = _random_queries(random.Random(seed), 60, grid, max_duration=400.0)
    expected = ref.eval_moment_retrieval(preds, refs, length_ranges=((0, 10), (10, 30), (30, 3600), (0, 3600)),
                                         full_range=(0, 150), r1_thds=np.array(R1_ALL), dists=R1_DISTANCES)
    ours = evaluate_grounding(preds, refs, compat=True)
    _compare(ours, expected, "full", "")
    for name in ("short", "middle", "long"):
        _compare(ours, expected, name, f"@{name}")
        n = len(ref.get_data_by_range(preds, refs, dict(short=(0, 10), middle=(10, 30), long=(30, 3600))[name])[1])
        assert ours[f"queries_evaluated@{name}"] == n


@pytest.mark.parametrize("seed, grid", [(4, False), (5, True)])
def test_corrected_equals_original_moment_detr_on_qvhighlights_like_data(seed, grid):
    """Predictions sorted by score, windows inside the video and <= 150 s: corrected = Moment-DETR's own
    buckets (0, 10], (10, 30], (30, 150] and its unfiltered full set."""
    preds, refs = _random_queries(random.Random(seed), 60, grid, sorted_preds=True)
    expected = ref.eval_moment_retrieval(preds, refs, r1_thds=np.array(R1_ALL), dists=R1_DISTANCES)
    ours = evaluate_grounding(preds, refs)
    _compare(ours, expected, "full", "")
    for name in ("short", "middle", "long"):
        _compare(ours, expected, name, f"@{name}")


def test_empty_bucket_is_null_where_the_reference_crashes(tmp_path):
    refs = [{"qid": i, "vid": "v", "duration": 100, "relevant_windows": [[10 * i, 10 * i + 5]]} for i in range(3)]
    preds = [{"qid": i, "pred_relevant_windows": [[10 * i, 10 * i + 5, 0.9]]} for i in range(3)]
    with pytest.raises(TypeError):  # compute_mr_ap on no query: zip over a 0-d mean
        ref.eval_moment_retrieval(preds, refs)
    result = GroundingEvaluator().evaluate(preds, refs)
    for m in result.metrics.values():
        assert m["map@short"] == 1.0 and m["queries_evaluated@short"] == 3
        assert m["map@middle"] is None and m["map@0.5@long"] is None and m["r1@0.5@long"] is None
        assert m["queries_evaluated@middle"] == 0 and m["queries_evaluated@long"] == 0
    from videolang.evaluate.report import markdown_report, write_outputs
    assert "| map@long | no queries | no queries |" in markdown_report(result, {})
    write_outputs(result, tmp_path, {}, plots=0)
    assert json.loads((tmp_path / "metrics.json").read_text())["metrics"]["corrected"]["map@long"] is None


def test_custom_buckets():
    refs = [{"qid": 1, "vid": "v", "duration": 500, "relevant_windows": [[0, 100], [200, 210]]}]
    preds = [{"qid": 1, "pred_relevant_windows": [[0, 100, 0.9], [200, 210, 0.8]]}]
    m = GroundingEvaluator(length_buckets={"short": [0, 60], "long": [60, None]}).evaluate(preds, refs).primary
    assert m["queries_evaluated@short"] == 1 and m["queries_evaluated@long"] == 1
    # in the short bucket only [200, 210] is a ground truth: the top-scored window misses it
    assert m["r1@0.5@short"] == 0.0 and m["r1@0.5@long"] == 1.0 and m["map@0.5@short"] == 0.5
    assert "map@middle" not in m


# -- highlight detection ----------------------------------------------------------------------------
def _random_saliency(rng: random.Random, n: int):
    refs, preds = [], []
    for q in range(n):
        duration = rng.choice([150, rng.randint(10, 150)])
        n_clips = int(duration / 2)
        ids = sorted(rng.sample(range(n_clips), rng.randint(1, min(n_clips, 12))))
        kind = rng.random()
        scores = [[4, 4, 4] if kind < 0.1 else [rng.randint(0, 4) for _ in range(3)] for _ in ids]
        if kind > 0.9:  # everything relevant and very good: all-1 labels
            ids, scores = list(range(n_clips)), [[4, 4, 4]] * n_clips
        refs.append({"qid": q, "vid": "v", "duration": duration, "relevant_windows": [[0, 2]],
                     "relevant_clip_ids": ids, "saliency_scores": scores})
        length = max(1, n_clips + rng.choice([0, 0, -3, 4]))
        preds.append({"qid": q, "pred_relevant_windows": [[0, 2, 1.0]],
                      "pred_saliency_scores": [round(rng.uniform(-1, 1), rng.choice([1, 6])) for _ in range(length)]})
    return preds, refs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_highlight_metrics_equal_the_reference(seed):
    preds, refs = _random_saliency(random.Random(seed), 40)
    expected = ref.eval_highlight(preds, refs)
    assert expected == ref.eval_highlight(preds, refs, curve=ref.precision_recall_curve_old)  # sklearn-version free
    result = GroundingEvaluator().evaluate(preds, refs)
    for m in result.metrics.values():
        for ours, theirs in (("fair", "Fair"), ("good", "Good"), ("very_good", "VeryGood")):
            assert m[f"hl_map@{ours}"] == pytest.approx(expected[f"HL-min-{theirs}"]["HL-mAP"], rel=1e-12, abs=1e-15)
            assert m[f"hl_hit1@{ours}"] == pytest.approx(expected[f"HL-min-{theirs}"]["HL-Hit1"], rel=1e-12, abs=1e-15)
        assert m["hl_queries_evaluated"] == 40
    assert {"hl_hit1@fair", "hl_ap@good"} <= set(result.per_item.columns)


def test_saliency_ap_by_hand_and_against_get_ap():
    # scores 0.9 (1), 0.8 (0), 0.7 (1), 0.1 (0): precision at the two recall levels 1 and 2/3 -> mean 0.8333
    assert saliency_ap(np.array([1, 0, 1, 0.]), np.array([0.9, 0.8, 0.7, 0.1])) == pytest.approx((1 + 2 / 3) / 2)
    assert saliency_ap(np.zeros(4), np.arange(4.)) == 0.0 and saliency_ap(np.ones(4), np.arange(4.)) == 1.0
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(2, 40))
        y = (rng.random(n) < rng.random()).astype(float)
        s = np.round(rng.random(n), int(rng.integers(1, 4)))
        assert saliency_ap(y, s) == pytest.approx(float(ref.get_ap(y, s.copy())), rel=1e-12, abs=1e-15)


def test_highlight_only_when_references_have_saliency_and_missing_predictions():
    plain = evaluate_grounding([{"qid": 1, "pred_relevant_windows": [[0, 2, 1]]}],
                               [{"qid": 1, "vid": "v", "duration": 10, "relevant_windows": [[0, 2]]}])
    assert not any(k.startswith("hl_") for k in plain)
    refs = [{"qid": q, "vid": "v", "duration": 10, "relevant_windows": [[0, 2]], "relevant_clip_ids": [0, 1],
             "saliency_scores": [[4, 4, 4], [1, 1, 1]]} for q in (1, 2)]
    preds = [{"qid": 1, "pred_relevant_windows": [[0, 2, 1]], "pred_saliency_scores": [1, 0, 0, 0, 0]},
             {"qid": 2, "pred_relevant_windows": [[0, 2, 1]]}]
    result = GroundingEvaluator().evaluate(preds, refs)
    assert result.metrics["corrected"]["hl_hit1@very_good"] == 0.5  # query 2 has no saliency: 0
    assert result.metrics["compat"]["hl_hit1@very_good"] == 1.0 and result.metrics["compat"]["hl_queries_evaluated"] == 1
    assert result.report.counts["queries_without_predicted_saliency"] == 1
    bad = dict(refs[0], relevant_clip_ids=[0, 5])  # clip 5 is past int(10 / 2) = 5 clips
    with pytest.raises(BadInputError, match="qid '1'.*clip id 5"):
        GroundingEvaluator().evaluate(preds[:1], [bad])


# -- bad inputs -------------------------------------------------------------------------------------
def test_reference_window_past_duration_is_clipped_in_corrected_and_counted():
    refs = [{"qid": 1, "vid": "v", "duration": 50, "relevant_windows": [[40, 60]]},
            {"qid": 2, "vid": "v", "duration": 50, "relevant_windows": [[0, 10]]}]
    preds = [{"qid": 1, "pred_relevant_windows": [[40, 50, 1.0]]}, {"qid": 2, "pred_relevant_windows": [[0, 10, 1.0]]}]
    result = GroundingEvaluator().evaluate(preds, refs)
    assert result.report.counts["reference_windows_outside_duration"] == 1
    assert result.report.examples["reference_windows_outside_duration"] == ["1"]
    assert result.metrics["corrected"]["r1@0.7"] == 1.0   # [40, 60] clipped to [40, 50]: IoU 1
    assert result.metrics["compat"]["r1@0.7"] == 0.5      # as given: IoU 0.5
    clipped = [dict(refs[0], relevant_windows=[[40, 50]]), refs[1]]
    assert evaluate_grounding(preds, clipped) == result.metrics["corrected"]


def test_reference_window_starting_past_duration_is_rejected_with_its_qid(tmp_path):
    path = tmp_path / "refs.jsonl"
    path.write_text(json.dumps({"qid": "q7", "vid": "v", "duration": 50, "relevant_windows": [[55, 60]]}) + "\n")
    with pytest.raises(BadInputError, match=r"refs\.jsonl.*|q7") as err:
        evaluate_grounding([{"qid": "q7", "pred_relevant_windows": [[0, 1, 1]]}], path)
    assert "q7" in str(err.value) and "refs.jsonl" in str(err.value)


@pytest.mark.parametrize("which", ["references", "predictions"])
def test_duplicate_qids_are_an_error_naming_file_and_qid(tmp_path, which):
    refs = [{"qid": 1, "vid": "v", "duration": 50, "relevant_windows": [[0, 10]]},
            {"qid": 2, "vid": "v", "duration": 50, "relevant_windows": [[0, 10]]}]
    preds = [{"qid": 1, "pred_relevant_windows": [[0, 10, 1.0]]}, {"qid": 2, "pred_relevant_windows": [[0, 10, 1.0]]}]
    rows = refs if which == "references" else preds
    rows.append(dict(rows[1], qid="2"))  # "2" and 2 are the same qid
    files = {}
    for name, r in (("references", refs), ("predictions", preds)):
        files[name] = tmp_path / f"{name}.jsonl"
        files[name].write_text("".join(json.dumps(x) + "\n" for x in r))
    with pytest.raises(BadInputError) as err:
        evaluate_grounding(files["predictions"], files["references"])
    assert f"{which}.jsonl" in str(err.value) and "duplicate qid '2'" in str(err.value)
