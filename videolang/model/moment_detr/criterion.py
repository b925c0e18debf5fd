"""Moment-DETR's training targets and losses (`moment_detr/matcher.py`, `model.py` `SetCriterion`,
`start_end_dataset.py`).

- **Targets** (`span_targets`): a query's relevant windows in seconds -> (center, width) normalised by
  the video's duration (at most `max_windows`, a random subset when there are more).
- **Matching** (`HungarianMatcher`): per video, `scipy.optimize.linear_sum_assignment` on
  `cost_span * L1 + cost_giou * (-gIoU) + cost_class * (-p(foreground))` between the moment queries
  and the target spans; unmatched queries are background.
- **Losses** (`SetCriterion`): L1 and 1 - gIoU on matched spans, cross-entropy foreground /
  background on every query (background weighted `eos_coef`), each decoder layer's own matching and
  losses (`aux_loss`), and the saliency margin loss on the last encoder's clip scores:
  `mean(max(0, margin + s(neg) - s(pos))) * 2` over the sampled (positive, negative) clip pairs.
- **Saliency pairs** (`sample_saliency_pairs`): per query, `pairs` positive clips drawn from the clips
  inside its windows and as many negatives drawn from the clips outside (the reference's "easy" pair;
  its "hard" pair needs QVHighlights' per-clip annotator scores, which task files do not carry).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn

from videolang.model.moment_detr.spans import generalized_temporal_iou, span_cxw_to_xx, span_xx_to_cxw

FOREGROUND, BACKGROUND = 0, 1


def span_targets(windows: Sequence[Sequence[float]], duration: float, max_windows: int = 5,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 2) normalised (center, width) targets of one query's windows in seconds."""
    windows = [tuple(map(float, w[:2])) for w in windows]
    if len(windows) > max_windows:  # the reference shuffles, then keeps the first max_windows
        order = torch.randperm(len(windows), generator=generator).tolist()
        windows = [windows[i] for i in order[:max_windows]]
    xx = torch.tensor(windows, dtype=torch.float32).reshape(-1, 2) / float(duration)
    return span_xx_to_cxw(xx.clamp(0.0, 1.0))


def relevant_clips(windows: Sequence[Sequence[float]], duration: float, n_clips: int) -> list[int]:
    """The clips inside any window, clips laid on a uniform grid of `duration / n_clips` seconds; a window
    covers clips int(start / len) .. int(end / len) - 1 (at least one), as the reference counts them."""
    clip = float(duration) / n_clips
    inside: set[int] = set()
    for s, e in windows:
        last = max(0, min(int(e / clip), n_clips) - 1)
        first = min(int(s / clip), last)
        inside.update(range(first, last + 1))
    return sorted(inside)


def _draw(pool: list[int], k: int, generator: torch.Generator | None) -> list[int]:
    """k clips of `pool`, without replacement when it has k, else with."""
    if len(pool) >= k:
        return [pool[i] for i in torch.randperm(len(pool), generator=generator)[:k].tolist()]
    return [pool[i] for i in torch.randint(len(pool), (k,), generator=generator).tolist()]


def sample_saliency_pairs(windows: Sequence[Sequence[float]], duration: float, n_clips: int, pairs: int = 1,
                          generator: torch.Generator | None = None) -> tuple[list[int], list[int]] | None:
    """(positive clips, negative clips), `pairs` each, for one query; None when no clip lies outside its
    windows (a window over the whole video has no negative: the query adds no saliency term)."""
    inside = relevant_clips(windows, duration, n_clips)
    outside = sorted(set(range(n_clips)) - set(inside))
    if not inside or not outside:
        return None
    return _draw(inside, pairs, generator), _draw(outside, pairs, generator)


def saliency_margin_loss(scores: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, margin: float = 0.2,
                         valid: torch.Tensor | None = None) -> torch.Tensor:
    """The reference's `loss_saliency`: scores (B, L), pos / neg (B, P) clip indices, valid (B,) rows that
    have pairs. `sum(max(0, margin + s_neg - s_pos)) / (rows * P) * 2`; 0 when no row has pairs."""
    hinge = torch.clamp(margin + scores.gather(1, neg) - scores.gather(1, pos), min=0)
    if valid is not None:
        hinge = hinge[valid]
    if hinge.numel() == 0:
        return scores.sum() * 0.0
    return hinge.sum() / hinge.numel() * 2


class HungarianMatcher:
    """One-to-one assignment of moment queries to target spans (DETR's matcher on 1-D spans)."""

    def __init__(self, cost_class: float = 4.0, cost_span: float = 10.0, cost_giou: float = 1.0):
        if not (cost_class or cost_span or cost_giou):
            raise ValueError("the matching costs cannot all be 0")
        self.cost_class, self.cost_span, self.cost_giou = float(cost_class), float(cost_span), float(cost_giou)

    def cost(self, pred_logits: torch.Tensor, pred_spans: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(N, 2) logits and (N, 2) cxw spans against (M, 2) cxw targets -> (N, M) matching cost."""
        prob = pred_logits.softmax(-1)[:, FOREGROUND:FOREGROUND + 1]
        cost_span = torch.cdist(pred_spans, targets, p=1)
        cost_giou = -generalized_temporal_iou(span_cxw_to_xx(pred_spans), span_cxw_to_xx(targets))
        return self.cost_span * cost_span + self.cost_giou * cost_giou - self.cost_class * prob

    @torch.no_grad()
    def __call__(self, pred_logits: torch.Tensor, pred_spans: torch.Tensor, targets: list[torch.Tensor]
                 ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(B, Q, 2) logits and spans, one (n_b, 2) target tensor per item -> per item (query indices,
        target indices), min(Q, n_b) pairs each. One cost matrix for the whole batch, split per item (the
        reference's way: one call, not one per video)."""
        bs, nq = pred_spans.shape[:2]
        sizes = [len(t) for t in targets]
        if not sum(sizes):
            empty = torch.zeros(0, dtype=torch.int64)
            return [(empty, empty) for _ in range(bs)]
        cost = self.cost(pred_logits.flatten(0, 1).float(), pred_spans.flatten(0, 1).float(),
                         torch.cat(targets).float()).view(bs, nq, -1).cpu()
        out = []
        for i, part in enumerate(cost.split(sizes, -1)):
            rows, cols = linear_sum_assignment(part[i].numpy())
            out.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
        return out


class SetCriterion(nn.Module):
    """The weighted Moment-DETR loss: span L1 + gIoU + foreground CE (per decoder layer) + saliency margin."""

    def __init__(self, matcher: HungarianMatcher, span_loss_coef: float = 10.0, giou_loss_coef: float = 1.0,
                 label_loss_coef: float = 4.0, eos_coef: float = 0.1, saliency_loss_coef: float = 1.0,
                 saliency_margin: float = 0.2, aux_loss: bool = True):
        super().__init__()
        self.matcher = matcher
        self.weights = {"loss_span": float(span_loss_coef), "loss_giou": float(giou_loss_coef),
                        "loss_label": float(label_loss_coef), "loss_saliency": float(saliency_loss_coef)}
        self.saliency_margin, self.aux_loss = float(saliency_margin), bool(aux_loss)
        self.register_buffer("empty_weight", torch.tensor([1.0, float(eos_coef)]))  # background down-weighted

    def _layer_losses(self, logits: torch.Tensor, spans: torch.Tensor, targets: list[torch.Tensor]
                      ) -> dict[str, torch.Tensor]:
        indices = self.matcher(logits, spans, targets)
        batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)]).to(logits.device)
        src_idx = torch.cat([src for src, _ in indices]).to(logits.device)
        matched = spans[batch_idx, src_idx]
        tgt = torch.cat([t[j] for t, (_, j) in zip(targets, indices)]).to(spans)
        classes = torch.full(logits.shape[:2], BACKGROUND, dtype=torch.int64, device=logits.device)
        classes[batch_idx, src_idx] = FOREGROUND
        out = {"loss_label": F.cross_entropy(logits.transpose(1, 2), classes, self.empty_weight, reduction="none")
               .mean()}
        if len(tgt):
            out["loss_span"] = F.l1_loss(matched, tgt, reduction="none").mean()
            out["loss_giou"] = (1 - torch.diag(generalized_temporal_iou(span_cxw_to_xx(matched),
                                                                          span_cxw_to_xx(tgt)))).mean()
            with torch.no_grad():  # logged only: share of matched queries not called foreground
                out["class_error"] = 100.0 * (logits[batch_idx, src_idx].argmax(-1) != FOREGROUND).float().mean()
        else:
            out["loss_span"] = out["loss_giou"] = spans.sum() * 0.0
        return out

    def forward(self, outputs: dict, targets: dict) -> dict[str, torch.Tensor]:
        """`targets`: `spans` (one (n, 2) cxw tensor per item), `saliency_pos` / `saliency_neg` (B, P) and
        `saliency_valid` (B,). Returns every term (aux ones suffixed `_<layer>`) and `loss`, their weighted sum."""
        losses = self._layer_losses(outputs["pred_logits"], outputs["pred_spans"], targets["spans"])
        losses["loss_saliency"] = saliency_margin_loss(outputs["saliency_scores"], targets["saliency_pos"],
                                                       targets["saliency_neg"], self.saliency_margin,
                                                       targets.get("saliency_valid"))
        total = sum(weight * losses[name] for name, weight in self.weights.items())
        if self.aux_loss:  # every earlier decoder layer matched and supervised on its own (no saliency term)
            for i, aux in enumerate(outputs.get("aux", [])):
                layer = self._layer_losses(aux["pred_logits"], aux["pred_spans"], targets["spans"])
                total = total + sum(self.weights[name] * layer[name] for name in ("loss_span", "loss_giou",
                                                                                  "loss_label"))
                losses.update({f"{name}_{i}": value for name, value in layer.items()})
        losses["loss"] = total
        return losses
