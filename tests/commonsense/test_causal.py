"""The proxy task's math: the vectorised losses equal their per-pair definitions; Z and P(c) are what they claim."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from videolang.commonsense.causal import CausalPredictor, ConfounderDictionary, context_loss_loop, pad_boxes
from videolang.commonsense.pooling import AttentionPool, mean_pool, pool_regions


def random_frames(gen: torch.Generator, sizes: list[int], dim: int, classes: int):
    return [(torch.randn(k, dim, generator=gen, dtype=torch.float64),
             torch.randint(0, classes, (k,), generator=gen)) for k in sizes]


def fitted_dictionary(frames, classes: int, dim: int) -> ConfounderDictionary:
    d = ConfounderDictionary(classes, dim).double()
    sums = torch.zeros(classes, dim, dtype=torch.float64)
    for x, y in frames:
        d.accumulate(x, y, sums)
    d.finalize(sums)
    return d


@pytest.mark.parametrize("sizes", [[2], [3, 5, 2], [7, 1, 4]])
def test_vectorised_context_loss_equals_the_per_pair_loop(sizes):
    gen = torch.Generator().manual_seed(len(sizes))
    dim, classes = 16, 6
    frames = random_frames(gen, sizes, dim, classes)
    dictionary = fitted_dictionary(frames, classes, dim)
    predictor = CausalPredictor(dim, classes, attn_dim=12, normalize="pairs").double()
    x = torch.cat([f[0] for f in frames])
    labels = torch.cat([f[1] for f in frames])
    padded, mask, lab = pad_boxes(x, sizes, labels)
    out = predictor.losses(padded, lab, mask, dictionary)
    usable = [f for f in frames if len(f[0]) >= 2]
    expected = context_loss_loop(predictor, usable, dictionary)
    assert out["context"].item() == pytest.approx(expected.item(), abs=1e-6)
    expected_self = F.cross_entropy(predictor.self_classifier(x), labels)
    assert out["self"].item() == pytest.approx(expected_self.item(), abs=1e-6)
    assert out["loss"].item() == pytest.approx(out["self"].item() + out["context"].item(), abs=1e-9)
    n_pairs = sum(k * (k - 1) for k in sizes)
    assert int(out["pairs"].sum()) == n_pairs


def test_gradients_match_the_loop_too():
    gen = torch.Generator().manual_seed(3)
    dim, classes, sizes = 8, 4, [3, 4]
    frames = random_frames(gen, sizes, dim, classes)
    dictionary = fitted_dictionary(frames, classes, dim)
    predictor = CausalPredictor(dim, classes, normalize="pairs").double()
    padded, mask, lab = pad_boxes(torch.cat([f[0] for f in frames]), sizes, torch.cat([f[1] for f in frames]))
    predictor.losses(padded, lab, mask, dictionary)["context"].backward()
    vec = {n: p.grad.clone() for n, p in predictor.named_parameters() if p.grad is not None}
    predictor.zero_grad()
    context_loss_loop(predictor, frames, dictionary).backward()
    for name, p in predictor.named_parameters():
        if name in vec:
            assert torch.allclose(vec[name], p.grad, atol=1e-6), name


def reference_context_loss(predictor: CausalPredictor, frames, dictionary) -> torch.Tensor:
    """Wangt-CN/VC-R-CNN's rules, image by image (roi_box_predictors.py `z_dic`, box_head/loss.py):
    rows [y_i ; z_j] for all N x N (i, j), z_j from the attention of y_j over Z scaled by sqrt(EMBEDDING),
    label of j, the i = j losses multiplied by zero, torch.mean over the N^2 rows, images summed."""
    total = 0.0
    for y, label in frames:
        n = y.size(0)
        attention = torch.softmax(predictor.W_y(y) @ predictor.W_z(dictionary.Z).t() / predictor.attn_dim ** 0.5, 1)
        z = torch.matmul(dictionary.prior.unsqueeze(0), attention.unsqueeze(2) * dictionary.Z.unsqueeze(0)).squeeze(1)
        xz = torch.cat((y.unsqueeze(1).repeat(1, n, 1), z.unsqueeze(0).repeat(n, 1, 1)), 2).view(-1, 2 * y.size(1))
        mask_label = label.unsqueeze(0).repeat(n, 1)
        loss = F.cross_entropy(predictor.context_classifier(xz), mask_label.view(-1), reduction="none")
        total = total + torch.mean(loss * (1 - torch.eye(n, dtype=loss.dtype)).view(-1))
    return total


def test_reference_normalisation_matches_the_reference_loop_loss_and_gradients():
    """Frames of 1, 2, 3 and 6 boxes: each frame's terms / N^2, summed (a 6-box frame does not weigh 15x)."""
    gen = torch.Generator().manual_seed(5)
    dim, classes, sizes = 8, 5, [3, 6, 1, 2]
    frames = random_frames(gen, sizes, dim, classes)
    dictionary = fitted_dictionary(frames, classes, dim)
    predictor = CausalPredictor(dim, classes, attn_dim=4).double()
    assert predictor.normalize == "reference"
    padded, mask, lab = pad_boxes(torch.cat([f[0] for f in frames]), sizes, torch.cat([f[1] for f in frames]))
    out = predictor.losses(padded, lab, mask, dictionary)
    out["context"].backward()
    vec = {n: p.grad.clone() for n, p in predictor.named_parameters() if p.grad is not None}
    predictor.zero_grad()
    expected = reference_context_loss(predictor, frames, dictionary)
    expected.backward()
    assert out["context"].item() == pytest.approx(expected.item(), rel=1e-9)
    assert set(vec) == {"W_y.weight", "W_y.bias", "W_z.weight", "W_z.bias", "context_classifier.weight",
                        "context_classifier.bias"}
    for name, p in predictor.named_parameters():
        if name in vec:
            assert torch.allclose(vec[name], p.grad, atol=1e-10), name
    pairs_mean = CausalPredictor(dim, classes, attn_dim=4, normalize="pairs").double()
    pairs_mean.load_state_dict(predictor.state_dict())
    assert pairs_mean.losses(padded, lab, mask, dictionary)["context"].item() != pytest.approx(expected.item(), rel=1e-3)


def test_reference_initialisation_and_width():
    torch.manual_seed(0)
    p = CausalPredictor(1024, 80)
    assert p.W_y.weight.shape == p.W_z.weight.shape == (512, 1024)
    for layer, std in ((p.W_y, 0.02), (p.W_z, 0.02), (p.context_classifier, 0.01), (p.self_classifier, 0.01)):
        assert layer.weight.std().item() == pytest.approx(std, rel=0.02)
        assert abs(layer.weight.mean().item()) < std / 50 and not layer.bias.any()
    with pytest.raises(ValueError, match="normalize"):
        CausalPredictor(8, 3, normalize="batch")


def test_intervention_is_the_prior_weighted_attention_over_Z():
    gen = torch.Generator().manual_seed(0)
    dim, classes = 4, 3
    frames = random_frames(gen, [5, 6], dim, classes)
    d = fitted_dictionary(frames, classes, dim)
    p = CausalPredictor(dim, classes, attn_dim=6).double()
    y = torch.randn(dim, dtype=torch.float64, generator=gen)
    att = torch.softmax(p.W_y(y) @ p.W_z(d.Z).T / math.sqrt(6), -1)
    expected = sum(d.prior[c] * att[c] * d.Z[c] for c in range(classes))
    assert torch.allclose(p.intervention(y, d), expected, atol=1e-12)


def test_confounder_dictionary_is_the_class_mean_and_frequency():
    x = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    y = torch.tensor([0, 0, 2])
    d = ConfounderDictionary(4, 2)
    sums = torch.zeros(4, 2, dtype=torch.float64)
    d.accumulate(x[:2], y[:2], sums)
    d.accumulate(x[2:], y[2:], sums)
    d.finalize(sums)
    assert d.Z.tolist() == [[2.0, 1.0], [0.0, 0.0], [5.0, 5.0], [0.0, 0.0]]
    assert d.prior.tolist() == pytest.approx([2 / 3, 0.0, 1 / 3, 0.0])
    assert d.counts.tolist() == [2, 0, 1, 0]


def test_a_batch_without_any_pair_has_zero_context_loss_not_nan():
    d = ConfounderDictionary(3, 4)
    d.prior.fill_(1 / 3)
    p = CausalPredictor(4, 3)
    padded, mask, lab = pad_boxes(torch.randn(2, 4), [1, 1], torch.tensor([0, 1]))
    out = p.losses(padded, lab, mask, d)
    assert out["context"].item() == 0.0 and torch.isfinite(out["loss"])


def test_pooling_mean_attention_and_empty_frames():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert mean_pool(x, mask).tolist() == [[2.0, 3.0], [0.0, 0.0]]
    att = AttentionPool(2)
    w = att.weights(x, mask)
    assert w[0, 2] == 0 and w[0].sum().item() == pytest.approx(1.0) and w[1].sum() == 0
    pooled = pool_regions(x, mask, "attention", att)
    assert torch.isfinite(pooled).all() and pooled[1].abs().sum() == 0
    with pytest.raises(ValueError, match="unknown pooling"):
        pool_regions(x, mask, "max")
