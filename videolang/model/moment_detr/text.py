"""Moment-DETR's query side: token features of a frozen Hugging Face text encoder, computed on the fly.

Moment-DETR reads the CLIP text tower's `last_hidden_state` (every token, start and end tokens
included, after the final LayerNorm), cut to `max_q_l` tokens, and never trains it. Here the same:
any `from_pretrained` folder or hub name whose model has a `text_model` (CLIP, SigLIP: its text
tower) or is a text encoder itself (BERT-like; an encoder-decoder's encoder). The reference
extracted these features to disk once; here they are computed when a batch needs them, in eval
mode without gradients, and kept in an in-memory LRU cache keyed by the query text (`cache_size`
queries, 0 = none), so each training query is encoded once per process and nothing on disk can go
stale when the encoder changes.

`projection="vidchapters"`: the token features VidChapters' Moment-DETR reads instead (its `encode_text`
in `moment_detr/model.py`, antoyang/VidChapters): each token's final-LayerNorm state times the CLIP's text
projection as its `torch.matmul(x.unsqueeze(1), text_projection.unsqueeze(-1))` computes it, i.e.
`x @ P.T` with OpenAI's `P` (width x embed), which is `x @ text_projection.weight` in Hugging Face's
layout; it needs a square projection (ViT-L/14: 768 x 768).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch

from videolang.core.quiet import quiet_transformers


PROJECTIONS = (None, "vidchapters")


def text_width(source: str, projection: str | None = None) -> int:
    """The token-feature width of a text encoder, read from its config alone (no weights)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(source))
    if projection not in PROJECTIONS:
        raise ValueError(f"text projection {projection!r}: one of {', '.join(map(str, PROJECTIONS))}")
    if projection is not None:
        width = getattr(getattr(config, "text_config", None), "hidden_size", None)
        if getattr(config, "projection_dim", None) is None or width is None:
            raise ValueError(f"text projection {projection!r} needs a dual encoder with a text projection (CLIP); "
                             f"{source!r} has none")
        if int(config.projection_dim) != int(width):
            raise ValueError(f"text projection {projection!r} needs a square text projection, but {source!r} "
                             f"projects {width} -> {config.projection_dim}")
    config = getattr(config, "text_config", None) or config
    for name in ("hidden_size", "d_model", "dim"):
        if isinstance(getattr(config, name, None), int):
            return int(getattr(config, name))
    raise ValueError(f"cannot tell the hidden size of the text encoder {source!r} from its config")


class QueryEncoder:
    """Frozen text encoder -> per-token query features (B, L, D) and their mask (B, L); not an nn.Module, so its
    weights are neither trained nor saved in the Moment-DETR checkpoint (which names the encoder instead)."""

    def __init__(self, source: str, max_tokens: int = 32, cache_size: int = 10000, projection: str | None = None):
        self.source, self.max_tokens, self.cache_size = str(source), int(max_tokens), int(cache_size)
        self.projection = projection
        self.tokenizer: Any = None
        self.model: Any = None
        self.projection_weight: torch.Tensor | None = None
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    def load(self) -> None:
        if self.model is not None:
            return
        from transformers import AutoModel, AutoTokenizer

        with quiet_transformers():
            self.tokenizer = AutoTokenizer.from_pretrained(self.source)
            model = AutoModel.from_pretrained(self.source)
        if self.projection is not None:
            self.projection_weight = model.text_projection.weight.detach().float()
        if hasattr(model, "text_model"):  # a dual encoder (CLIP, SigLIP): its text tower only
            model = model.text_model
        elif getattr(model.config, "is_encoder_decoder", False):
            model = model.get_encoder()
        self.model = model.eval().requires_grad_(False)

    def _max_length(self) -> int | None:
        n = getattr(self.tokenizer, "model_max_length", None)
        return int(n) if isinstance(n, int) and 0 < n < 100_000 else None

    @torch.no_grad()
    def _encode(self, texts: list[str], device: torch.device) -> list[torch.Tensor]:
        self.load()
        self.model.to(device)
        limit = self._max_length()
        tok = self.tokenizer(texts, padding=True, truncation=limit is not None, max_length=limit,
                             return_tensors="pt")
        tok = {k: v.to(device) for k, v in tok.items() if k in ("input_ids", "attention_mask")}
        hidden = self.model(**tok).last_hidden_state.float()
        if self.projection_weight is not None:  # "vidchapters": x @ P.T of OpenAI's P (module docstring)
            hidden = hidden @ self.projection_weight.to(device)
        lengths = tok["attention_mask"].sum(1).tolist()
        return [hidden[i, :min(int(n), self.max_tokens)].cpu() for i, n in enumerate(lengths)]

    def __call__(self, queries: list[str], device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        device = torch.device(device)
        missing = [q for q in dict.fromkeys(queries) if q not in self._cache]
        found = dict(zip(missing, self._encode(missing, device))) if missing else {}
        for q in dict.fromkeys(queries):
            if q in self._cache:
                self._cache.move_to_end(q)
                found[q] = self._cache[q]
            elif self.cache_size > 0:
                self._cache[q] = found[q]
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        rows = [found[q] for q in queries]
        width = max(1, max(len(r) for r in rows))
        feats = torch.zeros(len(rows), width, rows[0].shape[1])
        mask = torch.zeros(len(rows), width)
        for i, r in enumerate(rows):
            feats[i, :len(r)], mask[i, :len(r)] = r, 1.0
        return feats.to(device), mask.to(device)
