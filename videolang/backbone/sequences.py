"""The text side of Vid2Seq: time tokens in the tokenizer, transcript inputs and event targets.

Sequences are assembled from token ids, never by tokenizing a string that
contains `<time_K>`: each time token is looked up directly and each sentence is
tokenized on its own, so a tokenizer's whitespace rules cannot split or merge a
time token, and the exact layout is the same for every backbone.

Input (chapter generation / dense captioning): per ASR sentence
`<start bin><end bin> sentence`, then `</s>`. Target: per event
`<start bin><end bin> title`, then `</s>`. Without time tokens (chapter titles
with ground-truth boundaries) the input is the sentences alone and the target
is the title alone.

Truncation policy for long transcripts (documented in docs/model.md):
1. each sentence's text is cut to the input budget (a single runaway sentence
   cannot eat everything);
2. if all sentences fit in `max_input_tokens` (counting `</s>`) they are all kept;
3. otherwise the largest *uniformly spaced* subset of sentences that fits is
   kept, in time order, so the whole timeline stays represented (the reference
   cut the end of the video off instead);
4. targets keep whole events from the start and drop the events that no longer
   fit in `max_output_tokens`; a title is never cut in the middle.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from videolang.core.errors import ConfigError
from videolang.core.time_tokens import TimeTokenCodec


def add_time_tokens(tokenizer: Any, codec: TimeTokenCodec) -> list[int]:
    """Add the codec's `<time_K>` tokens to `tokenizer` (idempotent); return their ids in bin order."""
    vocab = tokenizer.get_vocab()
    missing = [t for t in codec.tokens if t not in vocab]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=False)
    ids = tokenizer.convert_tokens_to_ids(codec.tokens)
    if any(i is None or i == tokenizer.unk_token_id for i in ids):
        raise ConfigError("the tokenizer did not accept the time tokens")
    return list(ids)


def load_tokenizer(backbone: str, num_time_tokens: int = 100) -> Any:
    """The backbone's tokenizer (a name such as `t5-base` or a local folder) with time tokens added."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(backbone))
    if num_time_tokens:
        add_time_tokens(tokenizer, TimeTokenCodec(num_time_tokens))
    return tokenizer


SENTENCE_STYLES = ("plain", "vidchapters")


def vidchapters_sentence(text: str) -> str:
    """VidChapters' `_get_text` (dataset/dvc_dataset.py): capitalised (the rest lower-cased), ending with '.'.
    Their models read every ASR sentence and wrote every title this way."""
    text = text.strip().capitalize()
    return text if not text or text.endswith(".") else text + "."


@dataclass(frozen=True)
class Segment:
    """A timed piece of text: an ASR sentence or an event (chapter / caption)."""

    start: float
    end: float
    text: str


class SequenceBuilder:
    """Token ids for model inputs and targets, with the truncation policy of this module.

    `sentence_style` (set by the model and the data module from `model.sentence_style`): "plain" tokenizes
    text as given; "vidchapters" as VidChapters' models saw it (`vidchapters_sentence`).
    """

    sentence_style = "plain"

    def __init__(self, tokenizer: Any, num_time_tokens: int = 100, max_input_tokens: int = 1000,
                 max_output_tokens: int = 256, use_time_tokens: bool = True):
        self.tokenizer = tokenizer
        self.use_time_tokens = bool(use_time_tokens and num_time_tokens)
        self.codec = TimeTokenCodec(num_time_tokens) if num_time_tokens else None
        self.max_input_tokens = int(max_input_tokens)
        self.max_output_tokens = int(max_output_tokens)
        if self.max_input_tokens < 4 or self.max_output_tokens < 2:
            raise ConfigError(f"token budgets too small: input {max_input_tokens}, output {max_output_tokens}")
        self.eos_id = int(tokenizer.eos_token_id)
        self.pad_id = int(tokenizer.pad_token_id)
        self.time_ids = add_time_tokens(tokenizer, self.codec) if self.codec else []
        self.bin_of_id = {tid: b for b, tid in enumerate(self.time_ids)}

    # ----------------------------------------------------------------- pieces
    def text_ids(self, text: str) -> list[int]:
        text = str(text).strip()
        if self.sentence_style == "vidchapters":
            text = vidchapters_sentence(text)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def time_pair(self, start: float, end: float, duration: float) -> list[int]:
        return [self.time_ids[self.codec.to_bin(start, duration)], self.time_ids[self.codec.to_bin(end, duration)]]

    def _timed(self, segments: Sequence[Segment], duration: float, cap: int, offset: float = 0.0) -> list[list[int]]:
        pieces = []
        for seg in segments:
            ids = self.text_ids(seg.text)[:cap]
            if self.use_time_tokens:
                ids = self.time_pair(seg.start - offset, seg.end - offset, duration) + ids
            if ids:
                pieces.append(ids)
        return pieces

    # ----------------------------------------------------------------- inputs
    def transcript_ids(self, segments: Sequence[Segment], duration: float, offset: float = 0.0,
                       max_tokens: int | None = None) -> list[int]:
        """The speech input: `<s><e> sentence` per sentence (truncated by the module policy), then `</s>`.

        `offset` shifts times (a segment's frames and speech seen on their own clock);
        `max_tokens` (default `max_input_tokens`, `</s>` included) is the budget when the
        transcript follows another input (a grounding query).
        """
        budget = (self.max_input_tokens if max_tokens is None else int(max_tokens)) - 1
        if budget <= 0:
            return [self.eos_id]
        pieces = self._timed(sorted(segments, key=lambda s: (s.start, s.end)), duration, budget, offset)
        return [t for p in uniform_subset(pieces, budget) for t in p] + [self.eos_id]

    # ---------------------------------------------------------------- targets
    def target_ids(self, events: Sequence[Segment], duration: float, offset: float = 0.0) -> list[int]:
        """The target: `<s><e> title` per event in time order, whole events only, then `</s>`."""
        budget = self.max_output_tokens - 1
        out: list[int] = []
        for piece in self._timed(sorted(events, key=lambda s: (s.start, s.end)), duration, budget, offset):
            if len(out) + len(piece) > budget:
                break
            out += piece
        return out + [self.eos_id]

    def title_ids(self, title: str) -> list[int]:
        return self.text_ids(title)[: self.max_output_tokens - 1] + [self.eos_id]

    # --------------------------------------------------------------- decoding
    def pieces(self, ids: Sequence[int]) -> list[int | str]:
        """Generated ids -> a list of time bins (int) and decoded text chunks (str); stops at `</s>`."""
        out: list[int | str] = []
        run: list[int] = []

        def flush() -> None:
            if run:
                text = self.tokenizer.decode(run, skip_special_tokens=True).strip()
                if text:
                    out.append(text)
                run.clear()

        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i == self.pad_id:
                continue
            if i in self.bin_of_id:
                flush()
                out.append(self.bin_of_id[i])
            else:
                run.append(i)
        flush()
        return out


def uniform_subset(pieces: list[list[int]], budget: int) -> list[list[int]]:
    """All pieces if they fit in `budget` tokens, else the largest uniformly spaced subset that fits."""
    lengths = [len(p) for p in pieces]
    if sum(lengths) <= budget:
        return pieces

    def chosen(m: int) -> np.ndarray:
        return np.unique(np.linspace(0, len(pieces) - 1, m).round().astype(int)) if m > 0 else np.array([], int)

    lo, hi = 0, len(pieces)  # invariant: chosen(lo) fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(lengths[i] for i in chosen(mid)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    keep = chosen(lo)
    if len(keep) == 0 and pieces:  # even one sentence is too long: keep the first, cut
        return [pieces[0][:budget]]
    return [pieces[i] for i in keep]
