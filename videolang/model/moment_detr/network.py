"""The Moment-DETR network (Lei et al. 2021, `moment_detr/model.py`, `transformer.py`, `position_encoding.py`).

Clip features and query-token features are each projected to `hidden_dim` (`n_input_proj`
`LinearLayer`s: LayerNorm, dropout, linear, ReLU on all but the last), concatenated into one
sequence (video first) and read by a post-norm transformer encoder; a decoder turns `num_queries`
learned moment queries into spans (an MLP -> sigmoid (center, width), normalised to the video) and
foreground / background logits (index 0 = foreground, as in the reference). The encoder's video
states give one saliency score per clip (a linear layer).

Positions: a normalised sine embedding of the clip index (`PositionEmbeddingSine`, added to the
queries and keys of every attention, as in DETR); the text tokens get zeros unless `use_txt_pos`
(then a trainable embedding of up to `max_q_l` positions, added to the features with LayerNorm and
dropout). All tensors are batch-first here (the reference is sequence-first; the arithmetic is the same).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LinearLayer(nn.Module):
    """LayerNorm (optional), dropout, linear, ReLU (optional): the reference's input projection block."""

    def __init__(self, in_dim: int, out_dim: int, layer_norm: bool = True, dropout: float = 0.1, relu: bool = True):
        super().__init__()
        self.relu = relu
        self.layer_norm = nn.LayerNorm(in_dim) if layer_norm else None
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        x = self.net(x)
        return F.relu(x) if self.relu else x


class MLP(nn.Module):
    """`num_layers` linear layers with ReLU between them (DETR's FFN head)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int):
        super().__init__()
        dims = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([in_dim] + dims, dims + [out_dim]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < len(self.layers) - 1 else layer(x)
        return x


class PositionEmbeddingSine(nn.Module):
    """Sine / cosine of the (1-based, mask-aware) clip index, normalised to (0, 2*pi]: (B, L) mask -> (B, L, d)."""

    def __init__(self, num_pos_feats: int, temperature: float = 10000.0, normalize: bool = True,
                 scale: float = 2 * math.pi):
        super().__init__()
        self.num_pos_feats, self.temperature, self.normalize, self.scale = num_pos_feats, temperature, normalize, scale

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        x_embed = mask.float().cumsum(1)
        if self.normalize:
            x_embed = x_embed / (x_embed[:, -1:] + 1e-6) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=mask.device)
        dim_t = self.temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / self.num_pos_feats)
        pos = x_embed[:, :, None] / dim_t
        return torch.stack((pos[:, :, 0::2].sin(), pos[:, :, 1::2].cos()), dim=3).flatten(2)


class TrainablePositionalEncoding(nn.Module):
    """Learned positions added to the features, then LayerNorm and dropout (the text side, `use_txt_pos`)."""

    def __init__(self, max_positions: int, hidden_dim: int, dropout: float = 0.1):
        super().__init__()
        self.position_embeddings = nn.Embedding(max_positions, hidden_dim)
        self.layer_norm = nn.LayerNorm(hidden_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = torch.arange(x.shape[1], dtype=torch.long, device=x.device)
        return self.dropout(self.layer_norm(x + self.position_embeddings(ids)[None]))


class EncoderLayer(nn.Module):
    """DETR's post-norm encoder layer: positions added to queries and keys, not values."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_feedforward), nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout, self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, src: torch.Tensor, padding: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        q = k = src + pos
        src = self.norm1(src + self.dropout1(self.self_attn(q, k, value=src, key_padding_mask=padding)[0]))
        return self.norm2(src + self.dropout2(self.linear2(self.dropout(F.relu(self.linear1(src))))))


class DecoderLayer(nn.Module):
    """DETR's post-norm decoder layer: self-attention over the moment queries, cross-attention to the memory."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_feedforward), nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, padding: torch.Tensor, pos: torch.Tensor,
                query_pos: torch.Tensor) -> torch.Tensor:
        q = k = tgt + query_pos
        tgt = self.norm1(tgt + self.dropout1(self.self_attn(q, k, value=tgt)[0]))
        attended = self.cross_attn(query=tgt + query_pos, key=memory + pos, value=memory, key_padding_mask=padding)[0]
        tgt = self.norm2(tgt + self.dropout2(attended))
        return self.norm3(tgt + self.dropout3(self.linear2(self.dropout(F.relu(self.linear1(tgt))))))


class Transformer(nn.Module):
    """Encoder (no final norm) + decoder returning every layer's output through the shared final LayerNorm."""

    def __init__(self, d_model: int = 256, nhead: int = 8, num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int = 1024, dropout: float = 0.1):
        super().__init__()
        self.d_model = d_model
        self.encoder = nn.ModuleList(EncoderLayer(d_model, nhead, dim_feedforward, dropout)
                                     for _ in range(num_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(d_model, nhead, dim_feedforward, dropout)
                                     for _ in range(num_decoder_layers))
        self.decoder_norm = nn.LayerNorm(d_model)
        for p in self.parameters():  # the reference's _reset_parameters
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, src: torch.Tensor, padding: torch.Tensor, query_embed: torch.Tensor, pos: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, L, d), padding (B, L) True on padding, query_embed (Q, d), pos (B, L, d) ->
        (decoder states of every layer (layers, B, Q, d), memory (B, L, d))."""
        memory = src
        for layer in self.encoder:
            memory = layer(memory, padding, pos)
        query_pos = query_embed[None].expand(src.shape[0], -1, -1)
        out, states = torch.zeros_like(query_pos), []
        for layer in self.decoder:
            out = layer(out, memory, padding, pos, query_pos)
            states.append(self.decoder_norm(out))
        return torch.stack(states), memory


class MomentDETRNet(nn.Module):
    """Projected clips + query tokens -> spans, foreground logits and clip saliency (module docstring)."""

    use_speech = False  # reads the clip features and the query only (what the predictors extract)

    def __init__(self, txt_dim: int, vid_dim: int, hidden_dim: int = 256, nheads: int = 8, enc_layers: int = 2,
                 dec_layers: int = 2, dim_feedforward: int = 1024, dropout: float = 0.1, input_dropout: float = 0.5,
                 num_queries: int = 10, n_input_proj: int = 2, use_txt_pos: bool = False, max_q_l: int = 32):
        super().__init__()
        if not 1 <= n_input_proj <= 3:
            raise ValueError(f"n_input_proj must be 1, 2 or 3, got {n_input_proj}")
        self.transformer = Transformer(hidden_dim, nheads, enc_layers, dec_layers, dim_feedforward, dropout)
        self.position_embed = PositionEmbeddingSine(hidden_dim, normalize=True)
        self.txt_position_embed = TrainablePositionalEncoding(max_q_l, hidden_dim, input_dropout) \
            if use_txt_pos else None
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.span_embed = MLP(hidden_dim, hidden_dim, 2, 3)
        self.class_embed = nn.Linear(hidden_dim, 2)  # 0: foreground, 1: background
        self.saliency_proj = nn.Linear(hidden_dim, 1)
        relu = [True] * 3
        relu[n_input_proj - 1] = False

        def projection(in_dim: int) -> nn.Sequential:
            dims = [in_dim] + [hidden_dim] * 3
            return nn.Sequential(*[LinearLayer(dims[i], hidden_dim, True, input_dropout, relu[i])
                                   for i in range(n_input_proj)])

        self.input_txt_proj, self.input_vid_proj = projection(txt_dim), projection(vid_dim)

    def forward(self, src_txt: torch.Tensor, src_txt_mask: torch.Tensor, src_vid: torch.Tensor,
                src_vid_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Masks are 1 on real tokens / clips. Returns `pred_logits` (B, Q, 2), `pred_spans` (B, Q, 2) (center,
        width) in [0, 1], `saliency_scores` (B, L_vid) and `aux` (the same two per earlier decoder layer)."""
        vid, txt = self.input_vid_proj(src_vid), self.input_txt_proj(src_txt)
        src = torch.cat([vid, txt], dim=1)
        padding = ~torch.cat([src_vid_mask, src_txt_mask], dim=1).bool()
        pos_vid = self.position_embed(src_vid_mask)
        pos_txt = self.txt_position_embed(txt) if self.txt_position_embed is not None else torch.zeros_like(txt)
        states, memory = self.transformer(src, padding, self.query_embed.weight, torch.cat([pos_vid, pos_txt], 1))
        logits, spans = self.class_embed(states), self.span_embed(states).sigmoid()
        return {"pred_logits": logits[-1], "pred_spans": spans[-1],
                "saliency_scores": self.saliency_proj(memory[:, :vid.shape[1]]).squeeze(-1),
                "aux": [{"pred_logits": a, "pred_spans": b} for a, b in zip(logits[:-1], spans[:-1])]}
