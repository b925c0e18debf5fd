"""The visual stream: uniform frame subsampling and a transformer over masked frames.

The reference port ran its visual transformer over zero-padded frames without a
mask, so short videos in a batch attended to padding. Here padded positions are
excluded from self-attention (`src_key_padding_mask`), zeroed at the output, and
masked out of the decoder's cross-attention by the joined attention mask.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def uniform_indices(num_frames: int, max_frames: int) -> np.ndarray:
    """Indices of at most `max_frames` frames spread uniformly over `num_frames` (all when it fits)."""
    if num_frames <= 0:
        return np.zeros(0, dtype=np.int64)
    if num_frames <= max_frames:
        return np.arange(num_frames, dtype=np.int64)
    return np.linspace(0, num_frames - 1, max_frames).round().astype(np.int64)


def subsample_frames(array: np.ndarray, max_frames: int, timestamps: np.ndarray | None = None):
    """(T, D) features (and their timestamps) -> at most `max_frames` uniformly spaced rows."""
    idx = uniform_indices(len(array), max_frames)
    return array[idx], (None if timestamps is None else np.asarray(timestamps)[idx])


def frame_deltas(frames: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Each kept frame minus the kept frame before it (zero for the first frame and for padding).

    A scene change is one large row here: the boundary cue that a small encoder trained briefly
    would otherwise have to learn to compute from neighbouring positions.
    """
    delta = torch.zeros_like(frames)
    delta[:, 1:] = frames[:, 1:] - frames[:, :-1]
    both = keep.clone()
    both[:, 1:] &= keep[:, :-1]
    both[:, 0] = False
    return delta * both.unsqueeze(-1).to(frames.dtype)


def check_rows(frames: torch.Tensor, max_frames: int, width: int, name: str) -> None:
    """At most `max_frames` rows (subsampled before), each `width` wide, or a ValueError saying which."""
    if frames.shape[1] > max_frames:
        raise ValueError(f"{frames.shape[1]} {name} rows > max_frames {max_frames}: subsample first")
    if frames.shape[-1] != width:
        raise ValueError(f"{name} features have width {frames.shape[-1]}, the model expects {width}")


class VisualEncoder(nn.Module):
    """Linear projection + learned positions + a pre-norm transformer encoder, padding masked.

    Vid2Seq uses 12 layers of width 768 over CLIP ViT-L/14 features; the width
    is projected to the T5 model width so the two streams can be concatenated.
    The common-sense stream (`fusion: stream`) reuses it over its own rows
    (`name` only changes the error messages).
    """

    def __init__(self, input_dim: int, d_model: int, num_layers: int = 12, num_heads: int = 12,
                 ff_dim: int | None = None, max_frames: int = 100, dropout: float = 0.1, name: str = "visual",
                 frame_deltas: bool = False):
        super().__init__()
        self.input_dim, self.max_frames, self.name = int(input_dim), int(max_frames), name
        self.frame_deltas = bool(frame_deltas)
        self.proj = nn.Linear(input_dim * (2 if self.frame_deltas else 1), d_model)
        self.pos = nn.Embedding(max_frames, d_model)
        layer = nn.TransformerEncoderLayer(d_model, num_heads, ff_dim or 4 * d_model, dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False) if num_layers else None
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """frames (B, K, D_in), mask (B, K) true/1 on real frames -> (B, K, d_model), zeros on padding."""
        check_rows(frames, self.max_frames, self.input_dim, self.name)
        keep = mask.bool()
        if self.frame_deltas:
            frames = torch.cat([frames, frame_deltas(frames, keep)], dim=-1)
        pos = torch.arange(frames.shape[1], device=frames.device)
        x = self.dropout(self.proj(frames.to(self.proj.weight.dtype)) + self.pos(pos)[None])
        if self.encoder is not None:
            # A row with no frame at all would make attention softmax over nothing (NaN): let it
            # attend to its padding; its output is zeroed and masked out of cross-attention anyway.
            padding = ~keep & keep.any(dim=1, keepdim=True)
            x = self.encoder(x, src_key_padding_mask=padding)
        return self.norm(x) * keep.unsqueeze(-1).to(x.dtype)


class VidChaptersVisualEncoder(nn.Module):
    """VidChapters' Vid2Seq visual encoder (`model/vit.py` + `proj_v2t` of antoyang/VidChapters), parameter for
    parameter: learned positions added to the frames themselves (no input projection: the frames are
    `width` wide, 768 for CLIP ViT-L/14), pre-norm blocks (fused `attn.qkv`, `attn.proj`, `mlp.fc1` /
    `mlp.fc2` with GELU), a final LayerNorm, then `proj_v2t` to the T5 width when it is not `width`.

    The option `model.visual_arch=vidchapters` builds it, so their released weights load as they are. Padded
    frames are excluded from attention where `mask` says so; their model saw zero-padded frames as real ones
    (`model.visual_padding=attend` feeds it that way). With fewer frames than positions the first positions
    are used (theirs interpolates, but always receives `max_frames` rows).
    """

    def __init__(self, width: int = 768, d_model: int = 768, num_layers: int = 12, num_heads: int = 12,
                 ff_dim: int = 2048, max_frames: int = 100, dropout: float = 0.1):
        super().__init__()
        self.input_dim, self.max_frames, self.name = int(width), int(max_frames), "visual"
        self.pos_embed = nn.Parameter(torch.zeros(1, max_frames, width))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.pos_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(VitBlock(width, num_heads, ff_dim, dropout) for _ in range(num_layers))
        self.norm = nn.LayerNorm(width)
        self.proj_v2t = nn.Linear(width, d_model) if int(d_model) != int(width) else None

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """frames (B, K, width), mask (B, K) true/1 on real frames -> (B, K, d_model), zeros on padding."""
        check_rows(frames, self.max_frames, self.input_dim, self.name)
        keep = mask.bool()
        x = self.pos_drop(frames.to(self.pos_embed.dtype) + self.pos_embed[:, : frames.shape[1]])
        padding = ~keep & keep.any(dim=1, keepdim=True)  # a row without frames attends to all (then zeroed)
        for block in self.blocks:
            x = block(x, padding)
        x = self.norm(x)
        if self.proj_v2t is not None:
            x = self.proj_v2t(x)
        return x * keep.unsqueeze(-1).to(x.dtype)


class VitBlock(nn.Module):
    """One block of VidChapters' `model/vit.py`: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, width: int, num_heads: int, ff_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = VitAttention(width, num_heads, dropout)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = VitMlp(width, ff_dim, dropout)

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), padding)
        return x + self.mlp(self.norm2(x))


class VitAttention(nn.Module):
    def __init__(self, width: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if width % num_heads:
            raise ValueError(f"visual width {width} is not a multiple of {num_heads} heads")
        self.num_heads, self.scale = int(num_heads), (width // num_heads) ** -0.5
        self.qkv = nn.Linear(width, width * 3)
        self.proj = nn.Linear(width, width)
        self.attn_drop, self.proj_drop = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None = None) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        if padding is not None and padding.any():
            attn = attn.masked_fill(padding[:, None, None, :], float("-inf"))
        x = (self.attn_drop(attn.softmax(dim=-1)) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))


class VitMlp(nn.Module):
    def __init__(self, width: int, ff_dim: int, dropout: float = 0.0):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(width, ff_dim), nn.GELU(), nn.Linear(ff_dim, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))

