"""Moment-DETR's span arithmetic on tensors (`moment_detr/span_utils.py`): (start, end) <-> (center, width),
temporal IoU and generalised temporal IoU between every pair of two span sets.

Spans here are normalised by the video's duration ([0, 1]); the seconds-based tIoU of the evaluator is
`videolang.core.spans`. These are differentiable (the gIoU loss) and batched (the matching cost).
"""
from __future__ import annotations

import torch


def span_xx_to_cxw(spans: torch.Tensor) -> torch.Tensor:
    """(..., 2) [start, end] -> [center, width]."""
    return torch.stack([spans.sum(-1) * 0.5, spans[..., 1] - spans[..., 0]], dim=-1)


def span_cxw_to_xx(spans: torch.Tensor) -> torch.Tensor:
    """(..., 2) [center, width] -> [start, end]."""
    half = 0.5 * spans[..., 1]
    return torch.stack([spans[..., 0] - half, spans[..., 0] + half], dim=-1)


def temporal_iou(spans1: torch.Tensor, spans2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2) and (M, 2) [start, end] spans -> (IoU, union), each (N, M)."""
    areas1 = spans1[:, 1] - spans1[:, 0]
    areas2 = spans2[:, 1] - spans2[:, 0]
    left = torch.max(spans1[:, None, 0], spans2[:, 0])
    right = torch.min(spans1[:, None, 1], spans2[:, 1])
    inter = (right - left).clamp(min=0)
    union = areas1[:, None] + areas2 - inter
    return inter / union, union


def generalized_temporal_iou(spans1: torch.Tensor, spans2: torch.Tensor) -> torch.Tensor:
    """(N, M) generalised IoU (Rezatofighi et al. 2019, in 1-D): IoU minus the share of the enclosing span
    that neither covers. In [-1, 1]; spans must have end >= start (a sigmoid-predicted width always does)."""
    spans1, spans2 = spans1.float(), spans2.float()
    if not bool((spans1[:, 1] >= spans1[:, 0]).all() and (spans2[:, 1] >= spans2[:, 0]).all()):
        raise ValueError("generalized_temporal_iou: a span ends before it starts")
    iou, union = temporal_iou(spans1, spans2)
    left = torch.min(spans1[:, None, 0], spans2[:, 0])
    right = torch.max(spans1[:, None, 1], spans2[:, 1])
    enclosing = (right - left).clamp(min=0)
    return iou - (enclosing - union) / enclosing
