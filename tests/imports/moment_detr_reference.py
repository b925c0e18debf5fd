"""The oracle: Moment-DETR's network as jayleicn/moment_detr writes it (`moment_detr/model.py` `MomentDETR`,
`LinearLayer`, `MLP`; `transformer.py` `Transformer` with post-norm layers and `return_intermediate_dec=True`;
`position_encoding.py` `PositionEmbeddingSine(normalize=True)`, `TrainablePositionalEncoding`), transcribed
module for module so its `state_dict()` has their key names and shapes, and its forward their arithmetic
(sequence-first attention). Liberties: no criterion, `span_loss_type="l1"` and `normalize_before=False` only
(what `model=moment_detr` holds), the contrastive projections kept for their keys. `VidChaptersMomentDETR` adds
VidChapters' `clip_model` and `encode_text` (antoyang/VidChapters `moment_detr/moment_detr/model.py`)."""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn


class TrainablePositionalEncoding(nn.Module):
    def __init__(self, max_position_embeddings, hidden_size, dropout=0.1):
        super().__init__()
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, input_feat):
        bsz, seq_length = input_feat.shape[:2]
        position_ids = torch.arange(seq_length, dtype=torch.long, device=input_feat.device)
        position_ids = position_ids.unsqueeze(0).repeat(bsz, 1)
        return self.dropout(self.LayerNorm(input_feat + self.position_embeddings(position_ids)))


class PositionEmbeddingSine(nn.Module):
    def __init__(self, num_pos_feats=64, temperature=10000, normalize=False, scale=None):
        super().__init__()
        self.num_pos_feats, self.temperature, self.normalize = num_pos_feats, temperature, normalize
        self.scale = 2 * math.pi if scale is None else scale

    def forward(self, x, mask):
        x_embed = mask.cumsum(1, dtype=torch.float32)
        if self.normalize:
            x_embed = x_embed / (x_embed[:, -1:] + 1e-6) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=x.device)
        dim_t = self.temperature ** (2 * (dim_t // 2) / self.num_pos_feats)
        pos_x = x_embed[:, :, None] / dim_t
        return torch.stack((pos_x[:, :, 0::2].sin(), pos_x[:, :, 1::2].cos()), dim=3).flatten(2)


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src, src_key_padding_mask=None, pos=None):  # forward_post
        q = k = src + pos
        src2 = self.self_attn(q, k, value=src, key_padding_mask=src_key_padding_mask)[0]
        src = self.norm1(src + self.dropout1(src2))
        src2 = self.linear2(self.dropout(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout2(src2))


class TransformerDecoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, tgt, memory, memory_key_padding_mask=None, pos=None, query_pos=None):  # forward_post
        q = k = tgt + query_pos
        tgt2 = self.self_attn(q, k, value=tgt)[0]
        tgt = self.norm1(tgt + self.dropout1(tgt2))
        tgt2 = self.multihead_attn(query=tgt + query_pos, key=memory + pos, value=memory,
                                   key_padding_mask=memory_key_padding_mask)[0]
        tgt = self.norm2(tgt + self.dropout2(tgt2))
        tgt2 = self.linear2(self.dropout(F.relu(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(tgt2))


class TransformerEncoder(nn.Module):
    def __init__(self, encoder_layer, num_layers):
        super().__init__()
        self.layers = nn.ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])

    def forward(self, src, src_key_padding_mask=None, pos=None):
        for layer in self.layers:
            src = layer(src, src_key_padding_mask=src_key_padding_mask, pos=pos)
        return src


class TransformerDecoder(nn.Module):
    def __init__(self, decoder_layer, num_layers, norm):
        super().__init__()
        self.layers = nn.ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.norm = norm

    def forward(self, tgt, memory, memory_key_padding_mask=None, pos=None, query_pos=None):
        output, intermediate = tgt, []
        for layer in self.layers:
            output = layer(output, memory, memory_key_padding_mask=memory_key_padding_mask, pos=pos,
                           query_pos=query_pos)
            intermediate.append(self.norm(output))
        output = self.norm(output)
        intermediate.pop()
        intermediate.append(output)
        return torch.stack(intermediate)


class Transformer(nn.Module):
    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1):
        super().__init__()
        self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout),
                                          num_encoder_layers)
        self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout),
                                          num_decoder_layers, nn.LayerNorm(d_model))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        self.d_model, self.nhead = d_model, nhead

    def forward(self, src, mask, query_embed, pos_embed):
        bs, l, d = src.shape
        src = src.permute(1, 0, 2)
        pos_embed = pos_embed.permute(1, 0, 2)
        query_embed = query_embed.unsqueeze(1).repeat(1, bs, 1)
        tgt = torch.zeros_like(query_embed)
        memory = self.encoder(src, src_key_padding_mask=mask, pos=pos_embed)
        hs = self.decoder(tgt, memory, memory_key_padding_mask=mask, pos=pos_embed, query_pos=query_embed)
        return hs.transpose(1, 2), memory.transpose(0, 1)


class MLP(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers):
        super().__init__()
        self.num_layers = num_layers
        h = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([input_dim] + h, h + [output_dim]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < self.num_layers - 1 else layer(x)
        return x


class LinearLayer(nn.Module):
    def __init__(self, in_hsz, out_hsz, layer_norm=True, dropout=0.1, relu=True):
        super().__init__()
        self.relu, self.layer_norm = relu, layer_norm
        if layer_norm:
            self.LayerNorm = nn.LayerNorm(in_hsz)
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_hsz, out_hsz))

    def forward(self, x):
        if self.layer_norm:
            x = self.LayerNorm(x)
        x = self.net(x)
        return F.relu(x) if self.relu else x


class MomentDETR(nn.Module):
    """`build_model(args)`'s network: `MomentDETR(build_transformer(args), *build_position_encoding(args), ...)`."""

    def __init__(self, args):
        super().__init__()
        self.transformer = Transformer(args.hidden_dim, args.nheads, args.enc_layers, args.dec_layers,
                                       args.dim_feedforward, args.dropout)
        self.position_embed = PositionEmbeddingSine(args.hidden_dim, normalize=True)
        self.txt_position_embed = TrainablePositionalEncoding(args.max_q_l, args.hidden_dim, args.input_dropout)
        hidden_dim = args.hidden_dim
        self.span_embed = MLP(hidden_dim, hidden_dim, 2, 3)
        self.class_embed = nn.Linear(hidden_dim, 2)
        self.use_txt_pos, n_input_proj = args.use_txt_pos, args.n_input_proj
        self.query_embed = nn.Embedding(args.num_queries, hidden_dim)
        relu_args = [True] * 3
        relu_args[n_input_proj - 1] = False

        def proj(in_dim):
            return nn.Sequential(*[LinearLayer(in_dim, hidden_dim, True, args.input_dropout, relu_args[0]),
                                   LinearLayer(hidden_dim, hidden_dim, True, args.input_dropout, relu_args[1]),
                                   LinearLayer(hidden_dim, hidden_dim, True, args.input_dropout, relu_args[2])
                                   ][:n_input_proj])
        self.input_txt_proj, self.input_vid_proj = proj(args.t_feat_dim), proj(args.v_feat_dim)
        if args.contrastive_align_loss:
            self.contrastive_align_projection_query = nn.Linear(hidden_dim, args.contrastive_hdim)
            self.contrastive_align_projection_txt = nn.Linear(hidden_dim, args.contrastive_hdim)
            self.contrastive_align_projection_vid = nn.Linear(hidden_dim, args.contrastive_hdim)
        self.saliency_proj = nn.Linear(hidden_dim, 1)

    def forward(self, src_txt, src_txt_mask, src_vid, src_vid_mask):
        src_vid = self.input_vid_proj(src_vid)
        src_txt = self.input_txt_proj(src_txt)
        src = torch.cat([src_vid, src_txt], dim=1)
        mask = torch.cat([src_vid_mask, src_txt_mask], dim=1).bool()
        pos_vid = self.position_embed(src_vid, src_vid_mask)
        pos_txt = self.txt_position_embed(src_txt) if self.use_txt_pos else torch.zeros_like(src_txt)
        pos = torch.cat([pos_vid, pos_txt], dim=1)
        hs, memory = self.transformer(src, ~mask, self.query_embed.weight, pos)
        outputs_class = self.class_embed(hs)
        outputs_coord = self.span_embed(hs).sigmoid()
        out = {"pred_logits": outputs_class[-1], "pred_spans": outputs_coord[-1]}
        out["saliency_scores"] = self.saliency_proj(memory[:, :src_vid.shape[1]]).squeeze(-1)
        out["aux_outputs"] = [{"pred_logits": a, "pred_spans": b} for a, b in zip(outputs_class[:-1],
                                                                                  outputs_coord[:-1])]
        return out


class VidChaptersMomentDETR(MomentDETR):
    """VidChapters' variant: the frozen CLIP as `clip_model`, the query encoded inside `forward(tokens, ...)`.
    `clip_model` offers OpenAI CLIP's attribute names (token_embedding, positional_embedding, transformer (LND),
    ln_final, text_projection (width x embed), dtype)."""

    def __init__(self, args, clip_model):
        super().__init__(args)
        self.clip_model = clip_model

    def encode_text(self, text):
        x = self.clip_model.token_embedding(text).type(self.clip_model.dtype)
        x = x + self.clip_model.positional_embedding.type(self.clip_model.dtype)
        x = x.permute(1, 0, 2)
        x = self.clip_model.transformer(x)
        x = x.permute(1, 0, 2)
        x = self.clip_model.ln_final(x).type(self.clip_model.dtype)
        x = torch.matmul(x.unsqueeze(1), self.clip_model.text_projection.unsqueeze(-1)).squeeze(-1)
        return x.permute(0, 2, 1)

    def forward(self, tokens, src_vid, src_vid_mask):
        src_txt_mask = tokens != 0
        src_txt = self.encode_text(tokens).float()
        return super().forward(src_txt, src_txt_mask, src_vid, src_vid_mask)
