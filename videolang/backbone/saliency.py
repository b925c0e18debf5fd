"""Per-frame saliency of a query (highlight detection) on the backbone's encoder states, and its losses.

Why it exists: a seq2seq grounding head is trained only through the two time tokens it writes, and on
small data it can reach a low loss by learning where windows usually lie in a video, whatever the query
says. Scoring every frame against the query forces the encoders to put the query and the frames in one
space; the same scores are the highlight-detection output (Moment-DETR's `pred_saliency_scores`).

- **Scores** (QD-DETR, Moon et al. 2023, `qd_detr/model.py`): `s_t = <W_v v_t, W_q q> / sqrt(d)`, with
  `v_t` the visual encoder's state of frame t and `q` the query's global vector. QD-DETR's global vector
  is a learned token of its joint encoder; ours is the mean of the T5 encoder's states over the query's
  tokens (our video and text encoders are separate; there is no joint token to read).
- **Losses**, as QD-DETR's `SetCriterion.loss_saliency` (which extends Moment-DETR's):
  - `margin`: hinge `max(0, margin + s_neg - s_pos)` of a frame inside a relevant window against one
    outside (Moment-DETR, margin 0.2). Moment-DETR samples pairs per step; here every inside/outside pair
    of the item is averaged, the expectation of the sampled loss without its sampling noise.
  - `rank`: QD-DETR's rank-contrastive term over saliency levels, the negative-pair scores appended as
    extra negatives (temperature 0.5); our windows give one level (inside = 1), so it is one softmax term.
  - `negative_pair`: the frames of a video scored against another video's query must be low:
    `-log(1 - sigmoid(s))` summed over frames, averaged over items (QD-DETR's `loss_neg_pair`). QD-DETR
    pairs item i with item i+1 of the batch; here with the next item of ANOTHER video (two queries of one
    video are not a negative pair), and items without one are left out of this term.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class QuerySaliency(nn.Module):
    """`s_t = <W_v v_t, W_q q> / sqrt(d)` for each frame state `v_t` and a query vector `q`."""

    def __init__(self, d_model: int):
        super().__init__()
        self.frames = nn.Linear(d_model, d_model)
        self.query = nn.Linear(d_model, d_model)
        self.scale = 1.0 / math.sqrt(d_model)

    @staticmethod
    def pooled_query(text_states: torch.Tensor, query_mask: torch.Tensor) -> torch.Tensor:
        """(B, L, d) encoder states, (B, L) 1 on the query's tokens -> (B, d) their mean."""
        weights = query_mask.to(text_states.dtype).unsqueeze(-1)
        return (text_states * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(self, frame_states: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """(B, K, d) frame states and (B, d) query vectors -> (B, K) scores."""
        return (self.frames(frame_states) * self.query(query).unsqueeze(1)).sum(-1) * self.scale


def negative_partners(video_ids: list[str]) -> list[int | None]:
    """For each item, the next item (cyclically) of another video, or None when every item is the same video."""
    n = len(video_ids)
    out: list[int | None] = []
    for i in range(n):
        out.append(next(((i + k) % n for k in range(1, n) if video_ids[(i + k) % n] != video_ids[i]), None))
    return out


def margin_loss(scores: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean hinge over every (inside, outside) frame pair of each item that has both; 0 when none has."""
    inside = (targets > 0) & (mask > 0)
    outside = (targets <= 0) & (mask > 0)
    total, items = scores.new_zeros(()), 0
    for r in range(scores.shape[0]):
        pos, neg = scores[r][inside[r]], scores[r][outside[r]]
        if len(pos) and len(neg):
            total = total + torch.clamp(margin + neg.unsqueeze(0) - pos.unsqueeze(1), min=0).mean()
            items += 1
    return total / max(items, 1)


def rank_contrastive_loss(scores: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                          negative: torch.Tensor | None = None, negative_mask: torch.Tensor | None = None,
                          tau: float = 0.5) -> torch.Tensor:
    """QD-DETR's rank-contrastive term for binary targets: -mean log-softmax of the inside frames.

    The softmax runs over the item's real frames and, when given, its negative-pair frames
    (scored against another video's query), all at temperature `tau`.
    """
    logits = scores.masked_fill(mask <= 0, float("-inf")) / tau
    if negative is not None and negative_mask is not None:
        logits = torch.cat([logits, negative.masked_fill(negative_mask <= 0, float("-inf")) / tau], dim=1)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    inside = ((targets > 0) & (mask > 0)).to(scores.dtype)
    count = inside.sum(1)
    per_item = -(log_prob[:, :scores.shape[1]].masked_fill(inside <= 0, 0.0) * inside).sum(1) / count.clamp(min=1)
    has = count > 0
    return per_item[has].mean() if has.any() else scores.new_zeros(())


def negative_pair_loss(negative: torch.Tensor, negative_mask: torch.Tensor) -> torch.Tensor:
    """`-log(1 - sigmoid(s))` summed over the real frames of each negative pair, averaged over pairs."""
    if negative.shape[0] == 0:
        return negative.new_zeros(())
    per_frame = nn.functional.softplus(negative)  # = -log(1 - sigmoid(s)), stable
    return (per_frame * negative_mask.to(negative.dtype)).sum(1).mean()
