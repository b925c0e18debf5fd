"""From a frame's N x d region features to one d-vector per time step.

iPerceive never says how its per-frame N x 1024 box features become one vector per
time step (its released code passes the unpooled tensor on and crashes). Two choices:

- `mean`: the average of the frame's region features. No parameters; every object counts the same.
- `attention`: a learned weighted average, w_i = softmax_i(v^T tanh(W x_i)). It is trained
  with the proxy task on a frame-level objective (which classes are in the frame: multi-label
  BCE from the pooled vector) on detached features, so it learns which boxes carry the
  frame's content without changing the features the proxy task learns.

A frame without regions gets a zero vector and mask 0.
"""
from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("mean", "attention")


class AttentionPool(nn.Module):
    def __init__(self, dim: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or max(16, dim // 4)
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))

    def weights(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, N, d), mask (B, N) -> attention weights (B, N), 0 on padding (all 0 for an empty frame)."""
        scores = self.score(x).squeeze(-1).masked_fill(~mask.bool(), float("-inf"))
        w = torch.softmax(scores, dim=-1)
        return torch.nan_to_num(w, nan=0.0)  # a frame without boxes: softmax over nothing

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (self.weights(x, mask).unsqueeze(-1) * x).sum(dim=1)


def mean_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(x.dtype).unsqueeze(-1)
    return (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


def pool_regions(x: torch.Tensor, mask: torch.Tensor, method: str, attention: AttentionPool | None = None
                 ) -> torch.Tensor:
    """(B, N, d) padded region features -> (B, d); zeros for frames without regions."""
    if method == "mean":
        return mean_pool(x, mask)
    if method == "attention":
        if attention is None:
            raise ValueError("attention pooling needs the trained AttentionPool of a commonsense checkpoint")
        return attention(x, mask)
    raise ValueError(f"unknown pooling {method!r}; one of {POOLINGS}")
