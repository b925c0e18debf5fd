"""Moment-DETR (model=moment_detr): span arithmetic, matching and losses against hand-computed values (the
reference's own doctest values where it has them), and the model trained on the sample videos through the
same train stage, evaluator and predictors as the seq2seq grounding head."""
from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch

from videolang.core.errors import BadInputError
from videolang.core.spans import tiou
from videolang.model.moment_detr.criterion import (HungarianMatcher, SetCriterion, relevant_clips,
                                                   sample_saliency_pairs, saliency_margin_loss, span_targets)
from videolang.model.moment_detr.spans import (generalized_temporal_iou, span_cxw_to_xx, span_xx_to_cxw,
                                               temporal_iou)
from videolang.run import EXIT_OK, run_stage

from tests.model.test_fixtures_learned import best_single_window_recall, fixture_metrics


# ----------------------------------------------------------------------------------- spans, matching, losses
def test_span_conversions_and_ious_match_the_reference_doctests():
    # moment_detr/span_utils.py's doctest values
    assert torch.allclose(span_xx_to_cxw(torch.tensor([[0, 1], [0.2, 0.4]])), torch.tensor([[0.5, 1.0], [0.3, 0.2]]))
    assert torch.allclose(span_cxw_to_xx(torch.tensor([[[0.5, 1.0], [0.3, 0.2]]])),
                          torch.tensor([[[0.0, 1.0], [0.2, 0.4]]]))
    a, b = torch.tensor([[0, 0.2], [0.5, 1.0]]), torch.tensor([[0, 0.3], [0.0, 1.0]])
    iou, union = temporal_iou(a, b)
    assert torch.allclose(iou, torch.tensor([[2 / 3, 0.2], [0.0, 0.5]]))
    assert torch.allclose(union, torch.tensor([[0.3, 1.0], [0.8, 1.0]]))
    # gIoU of [0.5, 1] and [0, 0.3]: IoU 0, enclosing 1, union 0.8 -> -0.2
    assert torch.allclose(generalized_temporal_iou(a, b), torch.tensor([[2 / 3, 0.2], [-0.2, 0.5]]))
    with pytest.raises(ValueError, match="ends before it starts"):
        generalized_temporal_iou(torch.tensor([[0.5, 0.2]]), b)
    # targets: seconds -> (center, width) of the duration, clipped to the video
    assert torch.allclose(span_targets([[10, 30], [30, 50]], 40.0), torch.tensor([[0.5, 0.5], [0.875, 0.25]]))


def test_matcher_cost_by_hand_and_assignment_against_brute_force():
    matcher = HungarianMatcher(cost_class=4, cost_span=10, cost_giou=1)
    logits = torch.tensor([[0.0, 0.0]])  # p(foreground) = 0.5
    pred, target = torch.tensor([[0.5, 0.2]]), torch.tensor([[0.5, 0.4]])
    # L1 = 0.2; spans [0.4, 0.6] vs [0.3, 0.7]: IoU 0.5 = gIoU (the target encloses the prediction)
    assert matcher.cost(logits, pred, target).item() == pytest.approx(10 * 0.2 - 0.5 - 4 * 0.5)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        logits = torch.randn(1, 4, 2, generator=gen)
        spans = torch.rand(1, 4, 2, generator=gen) * 0.5 + 0.1
        targets = [span_xx_to_cxw(torch.sort(torch.rand(2, 2, generator=gen), dim=1).values)]
        (rows, cols), = matcher(logits, spans, targets)
        cost = matcher.cost(logits[0], spans[0], targets[0])
        best = min(itertools.permutations(range(4), 2), key=lambda p: sum(cost[p[j], j].item() for j in range(2)))
        assert sorted(zip(cols.tolist(), rows.tolist())) == list(enumerate(best))


def test_saliency_margin_loss_and_pairs_by_hand():
    scores = torch.tensor([[0.1, 0.5, 0.3], [0.0, 0.0, 0.9]])
    pos, neg = torch.tensor([[0], [2]]), torch.tensor([[1], [0]])
    # row 0: max(0, 0.2 + 0.5 - 0.1) = 0.6; row 1: max(0, 0.2 + 0 - 0.9) = 0 -> (0.6 + 0) / 2 pairs * 2
    assert saliency_margin_loss(scores, pos, neg, 0.2).item() == pytest.approx(0.6)
    assert saliency_margin_loss(scores, pos, neg, 0.2, torch.tensor([True, False])).item() == pytest.approx(1.2)
    assert saliency_margin_loss(scores, pos, neg, 0.2, torch.tensor([False, False])).item() == 0.0
    # a window [2, 6) s of a 20 s video in 20 clips covers clips 2..5 (int(2), int(6) - 1), as the reference counts
    assert relevant_clips([(2.0, 6.0)], 20.0, 20) == [2, 3, 4, 5]
    assert relevant_clips([(2.0, 6.0), (18.5, 20.0)], 20.0, 10) == [1, 2, 9]
    gen = torch.Generator().manual_seed(3)
    for _ in range(20):
        (p,), (n,) = sample_saliency_pairs([(2.0, 6.0)], 20.0, 20, 1, gen)
        assert 2 <= p <= 5 and not 2 <= n <= 5
    assert sample_saliency_pairs([(0.0, 20.0)], 20.0, 20, 1, gen) is None  # no clip outside: no pair


def test_set_criterion_is_zero_span_loss_on_a_perfect_prediction():
    criterion = SetCriterion(HungarianMatcher(), aux_loss=False)
    target = torch.tensor([[0.25, 0.5]])
    outputs = {"pred_logits": torch.tensor([[[9.0, -9.0], [-9.0, 9.0]]]),
               "pred_spans": torch.tensor([[[0.25, 0.5], [0.8, 0.1]]]), "saliency_scores": torch.tensor([[1.0, 0.0]]),
               "aux": []}
    losses = criterion(outputs, {"spans": [target], "saliency_pos": torch.tensor([[0]]),
                                 "saliency_neg": torch.tensor([[1]])})
    assert losses["loss_span"].item() == pytest.approx(0.0) and losses["loss_giou"].item() == pytest.approx(0.0)
    assert losses["loss_saliency"].item() == 0.0 and losses["class_error"].item() == 0.0
    assert losses["loss_label"].item() < 1e-3
    assert losses["loss"].item() == pytest.approx(4 * losses["loss_label"].item(), abs=1e-6)


# ----------------------------------------------------------------------------------- trained on the sample videos
def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_moment_detr_learned_the_training_queries_and_reads_them(moment_detr_ckpt):
    references = _rows(moment_detr_ckpt["references"])
    predictions = _rows(moment_detr_ckpt["run"] / "predictions_test.jsonl")
    metrics = fixture_metrics(moment_detr_ckpt["run"])
    prior = best_single_window_recall(references)
    hits = [tiou(p["pred_relevant_windows"][0][:2], r["relevant_windows"][0]) >= 0.5
            for p, r in zip(predictions, references, strict=True)]
    assert metrics["test/r1_0.5"] == pytest.approx(np.mean(hits))
    assert metrics["test/r1_0.5"] > prior + 0.1, (metrics["test/r1_0.5"], prior)
    top = defaultdict(set)
    for p in predictions:
        top[p["vid"]].add(tuple(p["pred_relevant_windows"][0][:2]))
    assert np.mean([len(t) > 1 for t in top.values()]) >= 0.75, dict(top)  # the top window follows the query
    assert metrics["test/qs_shuffled_r1_0.5"] <= metrics["test/r1_0.5"] / 2  # another query of the video misses
    # highlights (references derived from the windows): the top clip is inside the window far more often than a
    # clip drawn at random would be (the window's share of the video)
    inside_share = np.mean([(r["relevant_windows"][0][1] - r["relevant_windows"][0][0]) / r["duration"]
                            for r in references])
    assert metrics["test/hl_hit1_very_good"] > inside_share + 0.2, (metrics["test/hl_hit1_very_good"], inside_share)
    for p in predictions:  # the reference's output: 10 windows by foreground probability, one saliency per clip
        scores = [w[2] for w in p["pred_relevant_windows"]]
        assert len(scores) == 10 and scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
        duration = next(v["duration"] for v in moment_detr_ckpt["videos"] if v["id"] == p["vid"])
        assert len(p["pred_saliency_scores"]) == int(duration) and p["clip_length"] == 1.0  # one per second


def test_api_encode_once_then_predict_for_moment_detr(moment_detr_ckpt, sample_corpus, encoding_cache):
    from videolang.model.moment_detr.module import MomentDETRModule
    from videolang.predict import GroundingPredictor

    predictor = GroundingPredictor.from_checkpoint(moment_detr_ckpt["ckpt"], device="cpu")
    assert isinstance(predictor.module, MomentDETRModule)  # picked from the checkpoint alone
    assert list(predictor.encoder.extractors) == ["visual"]  # no transcript: Whisper is not run
    with pytest.raises(BadInputError, match="call encode_video"):
        predictor.predict("too early")
    video = moment_detr_ckpt["videos"][0]
    feats, _ = predictor.encode_video(sample_corpus / video["files"]["video"])
    titles = [c["title"] for c in video["chapters"]]
    result = predictor.predict(titles)
    for q, chapter in zip(result.queries, video["chapters"]):
        # one [time, score] per frame read (every frame: the video is shorter than max_frames), 10 windows
        assert [t for t, _ in q["saliency"]] == feats.timestamps.tolist() and len(q["windows"]) == 10
        inside = [x for t, x in q["saliency"] if chapter["start"] <= t < chapter["end"]]
        outside = [x for t, x in q["saliency"] if not chapter["start"] <= t < chapter["end"]]
        assert np.mean(inside) > np.mean(outside), q["query"]  # saliency learned: the chapter's clips score higher
    assert sum(tiou(q["windows"][0][:2], (c["start"], c["end"])) >= 0.5
               for q, c in zip(result.queries, video["chapters"])) >= len(titles) / 2
    rows = result.moment_detr_rows()  # per second, each second the score of the frame that covers its centre
    per_second = [[round(x, 4) for _, x in q["saliency"]][:int(video["duration"])] for q in result.queries]
    assert [r["pred_saliency_scores"] for r in rows] == per_second


def test_stage_predict_writes_saliency_and_prints_the_most_salient_seconds(make_cfg, moment_detr_ckpt, sample_corpus,
                                                                            capsys, encoding_cache):
    video = moment_detr_ckpt["videos"][1]
    path = sample_corpus / video["files"]["video"]
    title = video["chapters"][-1]["title"]
    cfg = make_cfg("stage=predict", "task=grounding", f"video={path}", f"ckpt={moment_detr_ckpt['ckpt']}",
                   f"paths.model_dir={moment_detr_ckpt['model_dir']}", f"query={title!r}")
    assert run_stage(cfg) == EXIT_OK
    printed = capsys.readouterr().out
    assert title in printed and "most salient: " in printed
    row, = _rows(Path(cfg.paths.output_dir) / f"{path.stem}.grounding.jsonl")
    saved = json.loads((Path(cfg.paths.output_dir) / f"{path.stem}.grounding.json").read_text())
    assert len(row["pred_saliency_scores"]) == int(video["duration"])
    assert row["clip_length"] == saved["clip_length"] == 1
    assert len(row["pred_relevant_windows"]) == 10 and len(saved["queries"][0]["saliency"]) > 0


def test_the_seq2seq_head_answers_the_same_api(grounding_ckpt, sample_features):
    from videolang.backbone.sources import StoreFeatures
    from videolang.predict import GroundingPredictor

    predictor = GroundingPredictor.from_checkpoint(grounding_ckpt["ckpt"], device="cpu")
    video = grounding_ckpt["videos"][1]  # its stored features: the raw-video path is the same for both models
    feats = StoreFeatures(sample_features["feature_dir"]).get(video["id"])
    result = predictor.predict_features(feats, ["first query", "second query"], video["id"])
    for q in result.queries:  # the fixture trains the head's saliency: [time, score] per frame read (its 8 of 40)
        times = [t for t, _ in q["saliency"]]
        assert len(times) == 8 and times[0] == feats.timestamps[0] and times[-1] == feats.timestamps[-1]
    assert all(len(row["pred_saliency_scores"]) == int(video["duration"]) for row in result.moment_detr_rows())


def test_a_prediction_without_saliency_prints_and_writes_none():
    from videolang.predict import GroundingPrediction

    result = GroundingPrediction("talk.mp4", 30.0, [{"qid": 0, "query": "q", "windows": [[1.0, 4.0, 0.5]],
                                                    "saliency": None, "dropped": {}}])
    assert result.lines().splitlines() == ["q", "  0:01-0:04 0.500"]
    assert result.moment_detr_rows() == [{"qid": 0, "query": "q", "vid": "talk",
                                          "pred_relevant_windows": [[1.0, 4.0, 0.5]]}]
    result.queries[0]["saliency"] = [[0.0, 0.1], [1.0, 0.9], [2.0, 0.4], [3.0, 0.5]]
    assert result.lines().splitlines()[-1] == "  most salient: 0:01 (0.90), 0:03 (0.50), 0:02 (0.40)"


def test_stage_test_scores_a_moment_detr_checkpoint_like_its_training_did(moment_detr_ckpt, sample_features, tmp_path):
    from omegaconf import open_dict

    from tests.conftest import compose_config
    from tests.fixtures.model import sample_overrides

    root = moment_detr_ckpt["run"].parent
    out = tmp_path / "test"
    cfg = compose_config(["stage=test", f"ckpt={moment_detr_ckpt['ckpt']}", "stage.dataset=sample",
                          *sample_overrides(sample_features, root / "data"), "stage.datamodule.num_workers=0",
                          "+trainer.enable_progress_bar=false"], out)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    assert run_stage(cfg) == EXIT_OK
    metrics = json.loads((out / "metrics.json").read_text())
    trained = fixture_metrics(moment_detr_ckpt["run"])
    # the training run's test pass used last.ckpt on the same split: the same windows, the same R@1
    assert metrics["corrected"]["r1_0.5"] == pytest.approx(trained["test/r1_0.5"])
    assert _rows(out / "predictions_test.jsonl")[0]["pred_saliency_scores"]


def test_init_from_takes_a_moment_detr_checkpoint_only(moment_detr_ckpt, grounding_ckpt):
    from videolang.model.loading import load_module

    module = load_module(moment_detr_ckpt["ckpt"], model_dir=moment_detr_ckpt["model_dir"])
    report = module.init_weights_from(moment_detr_ckpt["ckpt"])
    assert report["loaded"] == len(module.state_dict()) and not report["skipped"] and not report["missing"]
    with pytest.raises(BadInputError, match="needs a Moment-DETR checkpoint"):
        module.init_weights_from(grounding_ckpt["ckpt"])
