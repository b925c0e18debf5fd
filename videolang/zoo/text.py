"""Tokenizers trained on the fly, shaped like the real ones, and the texts they learn from.

The tiny models cannot ship the real vocabularies (no hub access), so each gets
a small tokenizer trained on the sample corpus texts plus built-in English text,
with the real tokenizer's algorithm, special tokens and layout, and saved
by `transformers` itself, so `AutoTokenizer.from_pretrained(path)` gives back
the library's own T5 / CLIP tokenizer class. Training is deterministic: the
same texts give the same vocabulary, token ids and files.
"""
from __future__ import annotations

import io
import string
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from videolang.sample import load_manifest
from videolang.zoo.english import FALLBACK_TEXT

__all__ = ["corpus_texts", "training_texts", "train_t5_tokenizer", "train_clip_tokenizer", "T5_EXTRA_IDS"]

T5_EXTRA_IDS = 100
# Characters the T5 vocabulary always has, seen in the texts or not, so ordinary text rarely maps to <unk>.
_REQUIRED_CHARS = string.ascii_letters + string.digits + string.punctuation + "àáâäçèéêëíîïñóôöùúûüß€£°"


def training_texts(texts: Iterable[str] | None) -> list[str]:
    """The non-empty lines of `texts` followed by those of the built-in English text.

    The built-in text always comes along, so that a small corpus (the 4-video
    test corpus narrates a few hundred words) still gives a usable vocabulary.
    """
    given = [line.strip() for text in (texts or ()) for line in str(text).splitlines()]
    builtin = [line.strip() for line in FALLBACK_TEXT.splitlines()]
    return [line for line in given + builtin if line]


def corpus_texts(sample_dir: str | Path) -> list[str]:
    """Video titles, chapter titles, narrations and descriptions of a sample corpus, each once."""
    sample_dir = Path(sample_dir)
    texts = []
    for video in load_manifest(sample_dir)["videos"]:
        texts.append(video["title"])
        for chapter in video["chapters"]:
            texts += [chapter["title"], chapter["narration"]]
    texts += [p.read_text(encoding="utf-8") for p in sorted((sample_dir / "metadata").glob("*.description"))]
    return list(dict.fromkeys(t for t in texts if t.strip()))


def train_t5_tokenizer(texts: list[str], out_dir: Path, vocab_size: int = 4000):
    """Train T5's kind of tokenizer on `texts`, save it into `out_dir`, and return it.

    Like t5-base: a SentencePiece Unigram model (`spiece.model`, NFKC, `<pad>`=0,
    `</s>`=1, `<unk>`=2), converted by `transformers` itself into its T5 tokenizer
    with 100 sentinels `<extra_id_0>` ... `<extra_id_99>` at the end of the
    vocabulary. SentencePiece trains deterministically on one thread. A small
    corpus yields fewer pieces than `vocab_size`.
    """
    import sentencepiece as spm
    from transformers import T5Tokenizer

    # The Unigram trainer seeds its vocabulary with maximal repeats. In a corpus this small a
    # common word is nearly always followed by a space, so "▁and" alone is no maximal repeat
    # and would never be learned: each distinct word once more on its own line fixes that.
    words = dict.fromkeys(w.strip(string.punctuation) for text in texts for w in text.split())
    sentences = [*texts, *filter(None, words)]
    out_dir.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, model_type="unigram", vocab_size=vocab_size,
        hard_vocab_limit=False, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0,
        required_chars=_REQUIRED_CHARS, num_threads=1, minloglevel=2,
    )
    (out_dir / "spiece.model").write_bytes(model.getvalue())
    tokenizer = T5Tokenizer.from_pretrained(out_dir, extra_ids=T5_EXTRA_IDS, model_max_length=512)
    tokenizer.save_pretrained(out_dir)
    return tokenizer


def train_clip_tokenizer(texts: list[str], vocab_size: int = 4000):
    """A `transformers.CLIPTokenizer` with byte-level BPE merges learned from `texts`, laid out like CLIP's.

    The vocabulary is built the way CLIP's was: the 256 byte symbols, the same
    with `</w>`, one entry per merge, then `<|startoftext|>` and `<|endoftext|>`.
    """
    from transformers import CLIPTokenizer

    reference = CLIPTokenizer().backend_tokenizer  # CLIP's own normaliser and pre-tokeniser
    words: Counter[str] = Counter()
    for text in texts:
        normalized = reference.normalizer.normalize_str(text)
        words.update(piece for piece, _ in reference.pre_tokenizer.pre_tokenize_str(normalized))
    symbols = list(_bytes_to_unicode().values())
    merges = _learn_bpe(words, max_merges=vocab_size - 2 * len(symbols) - 2)
    entries = symbols + [s + "</w>" for s in symbols] + [a + b for a, b in merges]
    entries = list(dict.fromkeys(entries)) + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(entries)}
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def _learn_bpe(word_counts: Counter[str], max_merges: int, min_count: int = 2) -> list[tuple[str, str]]:
    """Plain BPE (Sennrich et al.) over words ending in `</w>`: the most frequent pair first.

    Written here rather than taken from `tokenizers`, whose trainer breaks ties
    between equally frequent pairs differently on every run: this one breaks
    them by first appearance, so the same texts always give the same merges.
    """
    words = [[*word[:-1], word[-1] + "</w>"] for word in word_counts]
    freqs = list(word_counts.values())
    pair_counts: Counter[tuple[str, str]] = Counter()
    pair_words: dict[tuple[str, str], dict[int, None]] = defaultdict(dict)  # ordered sets of word indices

    def count(i: int, sign: int) -> None:
        for pair in zip(words[i], words[i][1:]):
            pair_counts[pair] += sign * freqs[i]
            if sign > 0:
                pair_words[pair][i] = None
            elif pair_counts[pair] <= 0:
                del pair_counts[pair]

    for i in range(len(words)):
        count(i, +1)
    merges: list[tuple[str, str]] = []
    while pair_counts and len(merges) < max_merges:
        best = max(pair_counts, key=pair_counts.__getitem__)  # ties: the earliest pair in dict order
        if pair_counts[best] < min_count:
            break
        merges.append(best)
        for i in pair_words.pop(best):
            count(i, -1)
            words[i] = _merge(words[i], best)
            count(i, +1)
    return merges


def _merge(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table, which CLIP's byte-level BPE uses."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table
