"""The Vid2Seq network: T5 over the transcript, a visual transformer over frames, one decoder over both.

The T5 encoder reads the speech tokens; its output is followed by the visual
encoder's output (projected to the T5 width) and the decoder cross-attends to
the concatenation, with padded speech tokens and padded frames masked out.
Ablations drop a stream entirely: `use_speech=False` (video only) never runs the
T5 encoder, `use_video=False` (speech only) never runs the visual encoder.
The optional common-sense stream (`videolang.backbone.streams`) either widens the
visual encoder's input (`concat`) or adds its own encoder whose output is joined
after the frames (`stream`), its frames without regions masked like padding.
`visual_arch="vidchapters"` swaps the visual encoder for VidChapters' own (their
released checkpoints load into it); `visual_padding="attend"` feeds the visual encoder
as their model was trained: zero frames up to `max_frames`, none of them masked.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from videolang.backbone.saliency import QuerySaliency
from videolang.backbone.visual import VidChaptersVisualEncoder, VisualEncoder


class Vid2Seq(nn.Module):
    """`commonsense_fusion`: None (no common-sense input), "concat" or "stream" (see `videolang.backbone.streams`)."""

    def __init__(self, t5: nn.Module, visual_dim: int, visual_layers: int = 12, visual_heads: int = 12,
                 max_frames: int = 100, dropout: float = 0.1, use_speech: bool = True, use_video: bool = True,
                 commonsense_dim: int | None = None, commonsense_fusion: str | None = None,
                 commonsense_layers: int = 0, frame_deltas: bool = False, saliency: bool = False,
                 visual_arch: str = "vid2seq", visual_ff_dim: int | None = None, visual_padding: str = "mask"):
        super().__init__()
        if visual_arch not in ("vid2seq", "vidchapters"):
            raise ValueError(f"unknown visual_arch {visual_arch!r} (vid2seq or vidchapters)")
        if visual_padding not in ("mask", "attend"):
            raise ValueError(f"unknown visual_padding {visual_padding!r} (mask or attend)")
        if visual_arch == "vidchapters" and (frame_deltas or commonsense_fusion == "concat"):
            raise ValueError("visual_arch vidchapters reads the frames as they are: no frame_deltas and no "
                             "common-sense 'concat' fusion (use fusion 'stream')")
        if not (use_speech or use_video):
            raise ValueError("at least one of use_speech / use_video must be on")
        if commonsense_fusion not in (None, "concat", "stream"):
            raise ValueError(f"unknown common-sense fusion {commonsense_fusion!r} (concat or stream)")
        if commonsense_fusion and not commonsense_dim:
            raise ValueError("the common-sense stream is on but its width (commonsense_dim) is unknown")
        if commonsense_fusion == "concat" and not use_video:
            raise ValueError("common-sense fusion 'concat' widens the visual frames: it needs use_video=true "
                             "(use fusion 'stream' for a speech-only model)")
        self.t5 = t5
        self.use_speech, self.use_video = bool(use_speech), bool(use_video)
        self.commonsense_fusion = commonsense_fusion
        d_model = t5.config.d_model
        heads = visual_heads if d_model % visual_heads == 0 else max(h for h in range(1, d_model + 1)
                                                                     if d_model % h == 0 and h <= visual_heads)
        frame_dim = int(visual_dim) + (int(commonsense_dim) if commonsense_fusion == "concat" else 0)
        self.visual_padding, self.max_frames = visual_padding, int(max_frames)
        if not use_video:
            self.visual = None
        elif visual_arch == "vidchapters":  # their ViT at the features' own width, then proj_v2t
            self.visual = VidChaptersVisualEncoder(int(visual_dim), d_model, visual_layers, visual_heads,
                                                   int(visual_ff_dim or 2048), max_frames, dropout)
        else:
            self.visual = VisualEncoder(frame_dim, d_model, visual_layers, heads, ff_dim=visual_ff_dim,
                                        max_frames=max_frames, dropout=dropout, frame_deltas=frame_deltas)
        # Its own projection + positions + LayerNorm (+ `commonsense_layers` transformer layers), padding masked.
        self.commonsense = VisualEncoder(int(commonsense_dim), d_model, int(commonsense_layers), heads,
                                         max_frames=max_frames, dropout=dropout, name="commonsense") \
            if commonsense_fusion == "stream" else None
        if saliency and not (use_speech and use_video):
            raise ValueError("the saliency head scores frames against the query: it needs use_speech and use_video")
        # Per-frame query saliency (`videolang.backbone.saliency`): built when a task trains or outputs it.
        self.saliency = QuerySaliency(d_model) if saliency else None

    # ------------------------------------------------------------ building
    @staticmethod
    def load_t5(backbone: str | None = None, vocab_size: int | None = None, config: dict | None = None) -> nn.Module:
        """Pretrained weights from `backbone` (name or folder), or a fresh model from a config dict.

        The config route is how a checkpoint rebuilds its network without touching the hub.
        """
        from transformers import T5Config, T5ForConditionalGeneration

        if config is not None:
            t5 = T5ForConditionalGeneration(T5Config.from_dict(dict(config)))
        else:
            t5 = T5ForConditionalGeneration.from_pretrained(str(backbone))
        old = t5.get_input_embeddings().num_embeddings
        if vocab_size and vocab_size > old:
            t5.resize_token_embeddings(vocab_size, mean_resizing=False)
            init_added_rows(t5, old)
        return t5

    # ------------------------------------------------------------- forward
    def encode(self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None,
               frames: torch.Tensor | None, frame_mask: torch.Tensor | None,
               commonsense: torch.Tensor | None = None,
               commonsense_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Joined encoder states (B, L_text + K [+ K_cs], d) and their attention mask.

        `commonsense` / `commonsense_mask` (B, K_cs, D_cs) / (B, K_cs) are read in `stream`
        fusion only (in `concat` they are already part of `frames`); mask 0 marks padding
        and frames without regions alike.
        """
        states, masks = [], []
        if self.use_speech:
            enc = self.t5.get_encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            states.append(enc)
            masks.append(attention_mask.long())
        if self.use_video:
            if self.visual_padding == "attend":  # the reference: zero frames up to max_frames, all attended
                frames = nn.functional.pad(frames, (0, 0, 0, max(0, self.max_frames - frames.shape[1])))
                frame_mask = torch.ones(frames.shape[:2], dtype=torch.long, device=frames.device)
            vis = self.visual(frames, frame_mask)
            states.append(vis.to(states[0].dtype) if states else vis)
            masks.append(frame_mask.long())
        if self.commonsense is not None:
            if commonsense is None or commonsense_mask is None:
                raise ValueError("the model reads the common-sense stream but the batch has no 'commonsense' rows")
            cs = self.commonsense(commonsense, commonsense_mask)
            states.append(cs.to(states[0].dtype) if states else cs)
            masks.append(commonsense_mask.long())
        hidden, mask = torch.cat(states, dim=1), torch.cat(masks, dim=1)
        # A sample with nothing to attend to (no frames and an empty input) would give NaNs: let it see one slot.
        empty = mask.sum(dim=1) == 0
        if empty.any():
            mask = mask.clone()
            mask[empty, 0] = 1
        return hidden, mask

    def forward(self, batch: dict[str, torch.Tensor], labels: torch.Tensor | None = None,
                input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder logits (B, L_out, V) for `labels` (default: batch["labels"]), teacher forced.

        `input_ids` / `attention_mask` replace the batch's speech input (the denoising objective).
        """
        labels = batch["labels"] if labels is None else labels
        hidden, mask = self.encode(batch["input_ids"] if input_ids is None else input_ids,
                                   batch["attention_mask"] if attention_mask is None else attention_mask,
                                   batch.get("frames"), batch.get("frame_mask"),
                                   batch.get("commonsense"), batch.get("commonsense_mask"))
        return self.decode_logits(hidden, mask, labels)

    def encode_batch(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """`encode` on a collated batch's own inputs."""
        return self.encode(batch.get("input_ids"), batch.get("attention_mask"), batch.get("frames"),
                           batch.get("frame_mask"), batch.get("commonsense"), batch.get("commonsense_mask"))

    def decode_logits(self, hidden: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoder logits (B, L_out, V) over already encoded states."""
        from transformers.modeling_outputs import BaseModelOutput

        decoder_input_ids = self.t5.prepare_decoder_input_ids_from_labels(labels=labels)
        out = self.t5(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                      decoder_input_ids=decoder_input_ids, use_cache=False)
        return out.logits

    def frame_saliency(self, hidden: torch.Tensor, batch: dict[str, torch.Tensor],
                       partners: list[int | None] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, K) query saliency of each frame, from `encode`'s states; with `partners`, also (P, K) scores of
        the frames of each item that has a partner against the partner's query (the negative pairs).

        The query is the first `query_length` input tokens (the batch's `query_length`, set by the task)."""
        if self.saliency is None:
            raise ValueError("this model has no saliency head (no task of it trains one)")
        text_len = batch["input_ids"].shape[1]
        frames = hidden[:, text_len:text_len + batch["frames"].shape[1]]
        positions = torch.arange(text_len, device=hidden.device).unsqueeze(0)
        query_mask = positions < batch["query_length"].to(hidden.device).unsqueeze(1)
        query = self.saliency.pooled_query(hidden[:, :text_len], query_mask)
        scores = self.saliency(frames, query)
        if partners is None:
            return scores, None
        rows = [r for r, p in enumerate(partners) if p is not None]
        if not rows:
            return scores, frames.new_zeros((0, frames.shape[1]))
        others = torch.as_tensor([partners[r] for r in rows], device=hidden.device)
        return scores, self.saliency(frames[rows], query[others])

    def score_candidates(self, batch: dict[str, torch.Tensor], candidates: torch.Tensor) -> torch.Tensor:
        """Decoder logits (B*A, L, V) of A teacher-forced candidates (B, A, L) per item, -100 = padding.

        The encoder runs once per item; its states are repeated for the item's candidates
        (multiple-choice VideoQA scores every answer against the same video and question).
        """
        from transformers.modeling_outputs import BaseModelOutput

        hidden, mask = self.encode(batch["input_ids"], batch["attention_mask"], batch.get("frames"),
                                   batch.get("frame_mask"), batch.get("commonsense"), batch.get("commonsense_mask"))
        b, a, length = candidates.shape
        labels = candidates.reshape(b * a, length)
        out = self.t5(encoder_outputs=BaseModelOutput(last_hidden_state=hidden.repeat_interleave(a, dim=0)),
                      attention_mask=mask.repeat_interleave(a, dim=0),
                      decoder_input_ids=self.t5.prepare_decoder_input_ids_from_labels(labels=labels), use_cache=False)
        return out.logits

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor], **generation: Any) -> torch.Tensor:
        """Beam search (or any `generate` option) over the joined encoder states -> token ids (B, L)."""
        from transformers.modeling_outputs import BaseModelOutput

        hidden, mask = self.encode(batch.get("input_ids"), batch.get("attention_mask"),
                                   batch.get("frames"), batch.get("frame_mask"),
                                   batch.get("commonsense"), batch.get("commonsense_mask"))
        return self.t5.generate(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                                **generation)


@torch.no_grad()
def init_added_rows(t5: nn.Module, old: int) -> None:
    """Rows `old:` of the input embedding (and of an untied LM head) drawn from N(mean, var) of the rows before.

    transformers' own `mean_resizing` samples from N(mean, 1e-9 x covariance): every added token (all
    the time tokens) starts as the same vector, at the norm of the vocabulary's mean (~0.25 next to 8
    for the tiny T5's words). With tied embeddings the LM head cannot tell the time tokens apart either:
    a model that must map its input to one time bin (grounding) then learns only the per-video prior.
    Drawn per dimension with the old rows' own spread, each added token is distinct at the word scale.
    """
    seen = set()
    for module in (t5.get_input_embeddings(), t5.get_output_embeddings()):
        weight = getattr(module, "weight", None)
        if weight is None or weight.data_ptr() in seen or weight.shape[0] <= old:
            continue
        seen.add(weight.data_ptr())
        rows = weight[:old].float()
        added = rows.mean(0) + rows.std(0) * torch.randn(weight.shape[0] - old, weight.shape[1])
        weight[old:] = added.to(weight.dtype)
