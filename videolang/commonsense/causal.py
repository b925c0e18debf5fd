"""The causal-intervention proxy task of VC R-CNN (iPerceive's "common-sense" features).

For the RoI features x_1..x_N of one frame (VC R-CNN, Wangt-CN/VC-R-CNN):

- self predictor: class of box i from x_i (cross-entropy);
- context predictor, for every ordered pair i != j: class of box j from [x_i ; E[z]_j], where
  the intervention replaces the context object's own confounders by the dictionary's,
  weighted by the class prior (NWGM approximation of the backdoor adjustment):

      a_j    = softmax((W_y y_j)(W_z Z)^T / sqrt(e))      y_j = x_j, Z (C x d) fixed, W_y, W_z: d -> e
      E[z]_j = sum_c P(c) a_jc Z_c

The loss is the plain sum of the two cross-entropies. The self term is a mean over the batch's
boxes. The context term, `normalize`:

- `reference` (default; Wangt-CN/VC-R-CNN `box_head/loss.py`): per frame, the cross-entropy of all
  N^2 ordered pairs with the i = j terms set to zero, averaged over N^2; the frames' terms summed.
- `pairs`: a mean over every ordered pair i != j of the batch (frames with many boxes weigh more).

Widths and initialisation follow the released model (`tools/config.yml`: EMBEDDING 512;
`roi_box_predictors.py`): W_y, W_z ~ N(0, 0.02), both classifiers ~ N(0, 0.01), zero biases. The
classifier is one linear layer over the concatenation; it is applied as
W_x x_i + W_e E[z]_j so all N^2 pairs cost two (N, C) products, not N^2 concatenations.
`context_loss_loop` is the literal per-pair definition of `pairs` the vectorised version is tested against.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ConfounderDictionary(nn.Module):
    """Z (C x d): the mean RoI feature of each class, and P(c): the class frequency, over the training split.

    Both are buffers: saved in checkpoints, never trained. A class absent from the training
    split has a zero row and zero prior, so it takes no part in the intervention.
    """

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.register_buffer("Z", torch.zeros(num_classes, dim))
        self.register_buffer("prior", torch.zeros(num_classes))
        self.register_buffer("counts", torch.zeros(num_classes, dtype=torch.long))

    @property
    def ready(self) -> bool:
        return bool(self.counts.sum() > 0)

    @torch.no_grad()
    def accumulate(self, features: torch.Tensor, labels: torch.Tensor, sums: torch.Tensor) -> None:
        """Add one batch of box features to running per-class sums (call `finalize` after the last)."""
        sums.index_add_(0, labels, features.to(sums.dtype))
        self.counts += torch.bincount(labels, minlength=self.counts.numel()).to(self.counts)

    @torch.no_grad()
    def finalize(self, sums: torch.Tensor) -> None:
        n = self.counts.clamp(min=1).to(sums.dtype).unsqueeze(1)
        self.Z.copy_((sums / n).to(self.Z.dtype))
        self.prior.copy_(self.counts.to(self.prior.dtype) / self.counts.sum().clamp(min=1))


NORMALIZATIONS = ("reference", "pairs")


class CausalPredictor(nn.Module):
    """The self and context (intervention) classifiers over RoI features.

    `attn_dim`: the width e of the attention embeddings W_y, W_z (None = `dim`, what checkpoints made
    before the option used); `normalize`: how the context term is averaged (module docstring).
    """

    def __init__(self, dim: int, num_classes: int, attn_dim: int | None = 512, normalize: str = "reference"):
        super().__init__()
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        self.dim, self.attn_dim, self.normalize = int(dim), int(attn_dim or dim), normalize
        self.self_classifier = nn.Linear(dim, num_classes)
        self.W_y = nn.Linear(dim, self.attn_dim)
        self.W_z = nn.Linear(dim, self.attn_dim)
        self.context_classifier = nn.Linear(2 * dim, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """VC R-CNN's initialisation (`CausalPredictor` and `FPNPredictor` in roi_box_predictors.py)."""
        for layer, std in ((self.W_y, 0.02), (self.W_z, 0.02), (self.context_classifier, 0.01),
                           (self.self_classifier, 0.01)):
            nn.init.normal_(layer.weight, mean=0.0, std=std)
            nn.init.zeros_(layer.bias)

    def intervention(self, y: torch.Tensor, dictionary: ConfounderDictionary) -> torch.Tensor:
        """E[z] for each context feature y (..., d) -> (..., d)."""
        att = torch.softmax(self.W_y(y) @ self.W_z(dictionary.Z).T / math.sqrt(self.attn_dim), dim=-1)
        return (att * dictionary.prior) @ dictionary.Z

    def context_logits(self, x: torch.Tensor, dictionary: ConfounderDictionary) -> torch.Tensor:
        """x (B, N, d) -> logits (B, N_i, N_j, C) of box j's class from [x_i ; E[z]_j]."""
        ez = self.intervention(x, dictionary)
        w = self.context_classifier.weight
        from_x = x @ w[:, :self.dim].T                         # (B, N, C): the x_i half of the linear layer
        from_z = ez @ w[:, self.dim:].T + self.context_classifier.bias  # (B, N, C): the E[z]_j half
        return from_x.unsqueeze(2) + from_z.unsqueeze(1)

    def losses(self, x: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
               dictionary: ConfounderDictionary) -> dict[str, torch.Tensor]:
        """x (B, N, d) padded, labels (B, N), mask (B, N) true on real boxes -> self, context and total loss,
        plus the logits and pair mask for accuracy."""
        mask = mask.bool()
        self_logits = self.self_classifier(x)
        self_loss = F.cross_entropy(self_logits[mask], labels[mask])
        ctx = self.context_logits(x, dictionary)
        pairs = ordered_pairs(mask)
        target = labels.unsqueeze(1).expand_as(pairs)  # pair (i, j) predicts box j's class
        if not pairs.any():
            ctx_loss = x.sum() * 0.0
        elif self.normalize == "pairs":
            ctx_loss = F.cross_entropy(ctx[pairs], target[pairs])
        else:  # reference: each frame's pair terms / N^2, summed over frames
            n2 = mask.sum(1).to(x.dtype).pow(2)
            frame = torch.arange(len(mask), device=x.device)[:, None, None].expand_as(pairs)[pairs]
            ctx_loss = (F.cross_entropy(ctx[pairs], target[pairs], reduction="none") / n2[frame]).sum()
        return {"self": self_loss, "context": ctx_loss, "loss": self_loss + ctx_loss,
                "self_logits": self_logits, "context_logits": ctx, "pairs": pairs}


def ordered_pairs(mask: torch.Tensor) -> torch.Tensor:
    """(B, N) box mask -> (B, N, N): true at (i, j) for every two real boxes i != j of a frame."""
    n = mask.shape[1]
    return mask.unsqueeze(2) & mask.unsqueeze(1) & ~torch.eye(n, dtype=torch.bool, device=mask.device)


def context_loss_loop(predictor: CausalPredictor, frames: list[tuple[torch.Tensor, torch.Tensor]],
                      dictionary: ConfounderDictionary) -> torch.Tensor:
    """The `pairs` context loss straight from its definition, one ordered pair at a time (the test reference)."""
    terms = []
    for x, labels in frames:
        for j in range(len(x)):
            att = torch.softmax(predictor.W_y(x[j]) @ predictor.W_z(dictionary.Z).T / math.sqrt(predictor.attn_dim), -1)
            ez = sum(dictionary.prior[c] * att[c] * dictionary.Z[c] for c in range(len(dictionary.Z)))
            for i in range(len(x)):
                if i != j:
                    logits = predictor.context_classifier(torch.cat([x[i], ez]))
                    terms.append(F.cross_entropy(logits[None], labels[j][None]))
    return torch.stack(terms).mean()


def pad_boxes(features: torch.Tensor, counts: list[int], labels: torch.Tensor | None = None):
    """Flat per-box rows (sum counts, d) -> padded (B, N, d), mask (B, N) [and labels (B, N), -1 on padding]."""
    b, n = len(counts), max(counts) if counts else 0
    out = features.new_zeros((b, n, features.shape[-1]))
    mask = torch.zeros((b, n), dtype=torch.bool, device=features.device)
    lab = None if labels is None else torch.full((b, n), -1, dtype=torch.long, device=features.device)
    start = 0
    for r, k in enumerate(counts):
        out[r, :k], mask[r, :k] = features[start:start + k], True
        if lab is not None:
            lab[r, :k] = labels[start:start + k]
        start += k
    return out, mask, lab
