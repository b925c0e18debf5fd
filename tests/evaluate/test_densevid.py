"""densevid_eval: tIoU edge cases, P/R and R@Ns by hand, and equality with the reference algorithm."""
from __future__ import annotations

import json
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


# -- several reference files (ActivityNet val_1 + val_2) --------------------------------------------
def _second_file(rng: random.Random, refs):
    """Another annotation of most of the videos (other segments and words) plus one video of its own."""
    words = "cut slice onion garlic the a pot oil heat water pepper mix stir serve bowl".split()
    out = {}
    for vid, r in refs.items():
        if rng.random() < 0.2:
            continue
        d = r["duration"]
        starts = sorted(rng.uniform(0, d - 5) for _ in range(rng.randint(1, 4)))
        out[vid] = {"duration": d, "timestamps": [[s, min(d, s + rng.uniform(2, 40))] for s in starts],
                    "sentences": [" ".join(rng.choices(words, k=rng.randint(2, 6))) for _ in starts]}
    out["only_in_2"] = {"duration": 50.0, "timestamps": [[0, 20], [20, 50]], "sentences": ["mix the water", "serve"]}
    return out


NAMES = {"METEOR": "meteor", "CIDEr": "cider", "Rouge-L": "rouge_l", "Bleu_1": "bleu_1", "Bleu_2": "bleu_2",
         "Bleu_3": "bleu_3", "Bleu_4": "bleu_4", "Recall": "recall", "Precision": "precision", "F1": "f1"}


def _assert_equal_to(expected, ours):
    for k, value in expected.items():
        base, _, at = k.partition("@")
        mine = NAMES[base] + (f"@{at}" if at else "")
        assert ours[mine] == pytest.approx(value, rel=1e-12, abs=1e-15), k


def test_several_reference_files_equal_the_reference_in_both_protocols(meteor, oracle_meteor):
    from tests.evaluate.reference_tools import reference_eval_soda

    rng = random.Random(11)
    preds, refs1 = _random_set(rng, 10)
    preds = {v: p for v, p in preds.items() if p}  # pycocoevalcap's METEOR dies on an empty SODA video
    refs2 = _second_file(rng, refs1)
    preds["only_in_2"] = [{"timestamp": [1, 19], "sentence": "mix water"}]
    garbage = lambda vid: random_caption(0, vid)  # noqa: E731
    result = DenseCaptioningEvaluator().evaluate({"results": preds}, [refs1, refs2], meteor=meteor)
    # compat: videos without predictions skipped; pairs pooled over both files, best P / R per video,
    # SODA_c per file (argument swap) averaged over the files
    compat = result.metrics["compat"]
    _assert_equal_to(reference_eval_dvc(preds, [refs1, refs2], oracle_meteor, garbage), compat)
    soda = reference_eval_soda(preds, [refs1, refs2], oracle_meteor, swap=True)
    assert [compat["soda_c_precision"], compat["soda_c_recall"], compat["soda_c"]] == pytest.approx(
        list(soda), rel=1e-12, abs=1e-15)
    assert compat["videos_evaluated"] == len([v for v in {**refs1, **refs2} if v in preds])
    assert result.report.counts["reference_files"] == 2
    # corrected, on a set where every video has predictions inside its duration: the same densevid numbers,
    # SODA_c without the swap
    full = {v: p for v, p in preds.items()}
    for v in {**refs1, **refs2}:
        full.setdefault(v, [{"timestamp": [0, 5], "sentence": "add salt"}])
    corrected = DenseCaptioningEvaluator(protocols=["corrected"]).evaluate(
        {"results": full}, [refs1, refs2], meteor=meteor).primary
    _assert_equal_to(reference_eval_dvc(full, [refs1, refs2], oracle_meteor, garbage), corrected)
    soda = reference_eval_soda(full, [refs1, refs2], oracle_meteor, swap=False)
    assert corrected["soda_c"] == pytest.approx(soda[2], rel=1e-12, abs=1e-15)
    # one file in a list is that file
    single = DenseCaptioningEvaluator().evaluate({"results": preds}, [refs1], meteor=meteor).metrics
    assert single == DenseCaptioningEvaluator().evaluate({"results": preds}, refs1, meteor=meteor).metrics


def test_stage_takes_a_list_of_reference_files(make_cfg, tmp_path):
    from pathlib import Path

    from videolang.run import EXIT_OK, run_stage

    rng = random.Random(3)
    preds, refs1 = _random_set(rng, 4)
    refs2 = _second_file(rng, refs1)
    for name, data in (("preds", {"results": preds}), ("val_1", refs1), ("val_2", refs2)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    cfg = make_cfg("stage=evaluate", "task=dense_captioning", f"predictions={tmp_path / 'preds.json'}",
                   f"references=[{tmp_path / 'val_1.json'},{tmp_path / 'val_2.json'}]", "stage.plots=1")
    assert run_stage(cfg) == EXIT_OK
    metrics = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert metrics["inputs"]["counts"]["reference_files"] == 2
    assert metrics["metrics"]["corrected"]["videos_evaluated"] == len({**refs1, **refs2})
