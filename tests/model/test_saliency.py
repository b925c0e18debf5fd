"""The grounding head's per-frame query saliency: QD-DETR's losses, the head on the backbone, the items,
the training step and `pred_saliency_scores`."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from videolang.backbone.saliency import (QuerySaliency, margin_loss, negative_pair_loss, negative_partners,
                                         rank_contrastive_loss)
from videolang.backbone.sources import VideoFeatures
from videolang.datamodule.synthetic import synthetic_corpus
from videolang.tasks.grounding import clip_scores, frames_inside, rank_by_saliency

from tests.fixtures.model import grounding_rows
from tests.model.test_grounding_head import VDIM, batch_of, read, tiny_module

SALIENT = {"_target_": "videolang.tasks.GroundingTask", "num_beams": 4, "num_windows": 2, "saliency": True}


def test_negative_partners_are_other_videos_only():
    assert negative_partners(["a", "a", "b", "c"]) == [2, 2, 3, 0]
    assert negative_partners(["a", "a"]) == [None, None]
    assert negative_partners([]) == []


def test_margin_loss_averages_every_inside_outside_pair():
    scores = torch.tensor([[0.9, 0.1, 0.5, 7.0]])
    targets = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    mask = torch.tensor([[1, 1, 1, 0]])  # the last frame is padding: neither side
    # pairs (pos 0.9) x (neg 0.1, 0.5) with margin 0.2: max(0, 0.2+0.1-0.9)=0, max(0, 0.2+0.5-0.9)=0
    assert margin_loss(scores, targets, mask, 0.2).item() == pytest.approx(0.0)
    # margin 0.5: 0 and 0.1 -> mean 0.05
    assert margin_loss(scores, targets, mask, 0.5).item() == pytest.approx(0.05, abs=1e-6)
    # an item without an outside frame adds nothing; with none left the loss is 0
    assert margin_loss(scores[:, :1], targets[:, :1], mask[:, :1], 0.2).item() == 0.0


def test_rank_contrastive_is_minus_mean_log_softmax_of_inside_frames_with_negatives_appended():
    scores = torch.tensor([[1.0, 0.0, 2.0]])
    targets = torch.tensor([[1.0, 0.0, 0.0]])
    mask = torch.ones(1, 3)
    negative = torch.tensor([[0.5, 9.0, -1.0]])
    neg_mask = torch.tensor([[1, 0, 1]])  # the 9.0 frame is padding
    logits = torch.tensor([1.0, 0.0, 2.0, 0.5, -1.0]) / 0.5
    expected = -(logits[0] - torch.logsumexp(logits, 0))
    got = rank_contrastive_loss(scores, targets, mask, negative, neg_mask)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    assert rank_contrastive_loss(scores, torch.zeros(1, 3), mask).item() == 0.0  # no positive: no term


def test_negative_pair_loss_is_minus_log_one_minus_sigmoid_summed_over_real_frames():
    negative = torch.tensor([[0.0, 2.0, 5.0], [-1.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    per = lambda s: -math.log(1 - 1 / (1 + math.exp(-s)))  # noqa: E731
    expected = ((per(0.0) + per(2.0)) + per(-1.0)) / 2
    assert negative_pair_loss(negative, mask).item() == pytest.approx(expected, rel=1e-5)


def test_query_saliency_is_a_scaled_dot_product_of_projections():
    head = QuerySaliency(4)
    frames, query = torch.randn(2, 3, 4), torch.randn(2, 4)
    expected = (head.frames(frames) * head.query(query)[:, None]).sum(-1) / 2.0
    assert torch.allclose(head(frames, query), expected)
    states = torch.tensor([[[1.0, 1.0, 1.0, 1.0], [3.0, 3.0, 3.0, 3.0], [100.0] * 4]])
    assert torch.allclose(QuerySaliency.pooled_query(states, torch.tensor([[1, 1, 0]])), torch.full((1, 4), 2.0))


def test_frame_targets_and_clip_scores():
    assert frames_inside(np.array([0.0, 1.0, 2.0, 3.0]), [(1.0, 3.0)]) == [0.0, 1.0, 1.0, 0.0]
    # frames at 0, 2, 4 s; clips of 1 s over 5 s take the nearest frame's score
    assert clip_scores([[0.0, 0.1], [2.0, 0.5], [4.0, 0.9]], 5.0, 1.0) == [0.1, 0.1, 0.5, 0.5, 0.9]
    assert len(clip_scores([[0.0, 1.0]], 4.5, 2.0)) == 2  # Moment-DETR's count: int(duration / clip)


def test_saliency_head_trains_reads_the_query_and_is_written(tiny_t5):
    torch.manual_seed(0)
    m = tiny_module(tiny_t5, head=SALIENT)
    assert m.net.saliency is not None
    assert tiny_module(tiny_t5).net.saliency is None  # only a task that asks for it builds the head
    anns, feats = synthetic_corpus(3, VDIM, seed=2)
    entries, _ = read(m.task, grounding_rows(anns), m.builder)
    batch = batch_of(m, entries[:4], feats.videos)
    first = entries[0]
    item = m.task.build_item(first, feats.videos[first.vid], m.builder, m.hparams.max_frames)
    assert item["query_length"] == len(first.query_ids)
    assert item["frame_targets"] == frames_inside(np.asarray(item["frame_times"]), first.windows)
    assert sum(item["frame_targets"]) > 0 and batch["frame_targets"].shape == batch["frame_mask"].shape
    loss, terms = m.task.loss(m.net, batch, 0.0)
    assert set(terms) == {"token_loss", "saliency_margin", "saliency_rank", "saliency_negative_pair"}
    assert loss.item() == pytest.approx(terms["token_loss"].item() + sum(
        terms[k].item() for k in ("saliency_margin", "saliency_rank", "saliency_negative_pair")), rel=1e-5)
    loss.backward()
    assert m.net.saliency.query.weight.grad.abs().sum() > 0
    assert m.net.t5.get_encoder().embed_tokens.weight.grad.abs().sum() > 0  # the query's encoder learns too
    # the scores depend on the query: the same frames under another query's tokens score differently
    m.eval()
    with torch.no_grad():
        hidden, _ = m.net.encode_batch(batch)
        scores, negative = m.net.frame_saliency(hidden, batch, negative_partners(list(batch["meta"]["video_id"])))
    assert negative is not None and not torch.allclose(scores[:negative.shape[0]], negative)
    out = m.decode_batch(batch)
    rows = m.task.prediction_rows(out)
    duration = out[0]["duration"]
    assert len(rows[0]["pred_saliency_scores"]) == int(duration / m.task.saliency_clip)
    assert rows[0]["clip_length"] == m.task.saliency_clip
    assert all(isinstance(x, float) for x in rows[0]["pred_saliency_scores"])


def test_saliency_needs_both_streams(tiny_t5):
    with pytest.raises(ValueError, match="saliency"):
        tiny_module(tiny_t5, head=SALIENT, use_video=False)


def test_saliency_item_on_a_video_longer_than_the_frame_budget(tiny_t5):
    m = tiny_module(tiny_t5, head=SALIENT, max_frames=8)
    feats = VideoFeatures(np.ones((100, VDIM), np.float32), np.arange(100.0), [], 100.0)
    (entry,), _ = read(m.task, [{"qid": "q", "query": "pasta", "vid": "v", "duration": 100.0,
                                 "relevant_windows": [[40.0, 60.0]]}], m.builder)
    item = m.task.build_item(entry, feats, m.builder, 8)
    assert len(item["frames"]) == len(item["frame_times"]) == len(item["frame_targets"]) == 8
    assert item["frame_times"][0] == 0.0 and item["frame_times"][-1] == 99.0
    assert item["frame_targets"] == [float(40.0 <= t < 60.0) for t in item["frame_times"]]


def test_windows_are_ranked_by_their_saliency_contrast():
    saliency = [[float(t), v] for t, v in enumerate([0.0, 0.0, 3.0, 3.0, 0.0, 0.0])]
    beam = [[0.0, 2.0, 0.9], [2.0, 4.0, 0.1], [0.0, 6.0, 0.5]]
    ranked = rank_by_saliency(beam, saliency)
    assert [w[:2] for w in ranked] == [[2.0, 4.0], [0.0, 6.0], [0.0, 2.0]]
    # inside mean 3 - outside mean 0 -> sigmoid(3); the whole video -> sigmoid(0)
    assert ranked[0][2] == pytest.approx(1 / (1 + math.exp(-3.0))) and ranked[1][2] == pytest.approx(0.5)
    assert rank_by_saliency([], saliency) == []


def test_window_ranking_option():
    from videolang.core.errors import ConfigError
    from videolang.tasks import GroundingTask

    assert GroundingTask(saliency=True).window_ranking == "saliency"
    assert GroundingTask().window_ranking == "beam"
    assert GroundingTask(saliency=True, window_ranking="beam").window_ranking == "beam"
    with pytest.raises(ConfigError, match="saliency head"):
        GroundingTask(window_ranking="saliency")


def test_saliency_ranking_survives_extreme_scores():
    saliency = [[0.0, -1e6], [1.0, 1e6], [2.0, -1e6]]
    ranked = rank_by_saliency([[0.0, 1.0, 0.9], [1.0, 2.0, 0.1]], saliency)
    assert [w[:2] for w in ranked] == [[1.0, 2.0], [0.0, 1.0]]
    assert ranked[0][2] == pytest.approx(1.0) and ranked[1][2] == pytest.approx(0.0)
