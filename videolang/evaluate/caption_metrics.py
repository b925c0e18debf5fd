"""BLEU 1-4, ROUGE-L and CIDEr-D, written to give pycocoevalcap's numbers bit for bit.

Each function takes tokenised hypotheses and their reference lists (one item per
"image") and returns (corpus score, per-item scores) like pycocoevalcap's
`compute_score`. Exactness details kept on purpose:
- BLEU: 'closest' reference length, the 1e-9 / 1e-15 smoothing constants, the
  brevity penalty applied to every order; corpus BLEU sums the counts of all items.
- ROUGE-L: tokens are `split(" ")`, beta = 1.2, best precision and best recall over
  the references taken separately.
- CIDEr-D: document frequencies over the references of the evaluated set, log
  of the number of items as the reference length, clipped tf-idf products,
  Gaussian length penalty (sigma 6) on the bigram count, x10, mean over items;
  `np.log`, `np.mean` and `e ** x` exactly where pycocoevalcap uses them.
n-gram counts are cached per distinct sentence in an `NgramCache`, which one
evaluation shares between BLEU and CIDEr and across tIoU thresholds.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Ngrams = dict  # {tuple of words: count}, in pycocoevalcap's insertion order

_TINY, _SMALL = 1e-15, 1e-9
_ROUGE_BETA = 1.2
_CIDER_SIGMA = 6.0
_LOG: dict[float, float] = {}
_PENALTY: dict[float, float] = {}


def _np_log(x: float) -> float:
    """np.log as pycocoevalcap calls it (it may differ from math.log in the last bit), memoised."""
    v = _LOG.get(x)
    if v is None:
        v = _LOG[x] = np.log(x)
    return v


def _length_penalty(delta: float) -> float:
    v = _PENALTY.get(delta)
    if v is None:
        v = _PENALTY[delta] = np.e ** (-(delta ** 2) / (2 * _CIDER_SIGMA ** 2))
    return v


class NgramCache(dict):
    """sentence -> (number of words, n-gram counts for n = 1..4)."""

    def __missing__(self, sentence: str) -> tuple[int, Ngrams]:
        words = sentence.split()
        counts: Ngrams = {}
        for k in range(1, 5):
            for i in range(len(words) - k + 1):
                g = tuple(words[i:i + k])
                counts[g] = counts.get(g, 0) + 1
        value = self[sentence] = (len(words), counts)
        return value


# -- BLEU ---------------------------------------------------------------------------------
def bleu(hyps: Sequence[str], refs: Sequence[Sequence[str]], cache: NgramCache | None = None,
         per_item: bool = True) -> tuple[list[float], list[list[float]]]:
    """Corpus BLEU-1..4 and per-item BLEU-1..4 lists (pycocoevalcap `Bleu(4).compute_score`)."""
    cache = NgramCache() if cache is None else cache
    guess_total, correct_total = [0] * 4, [0] * 4
    testlen_total, reflen_total = 0, 0
    items: list[list[float]] = [[] for _ in range(4)]
    for hyp, rs in zip(hyps, refs):
        testlen, counts = cache[hyp]
        if len(rs) == 1:
            rl, maxcounts = cache[rs[0]]
            reflens = [rl]
        else:
            maxcounts, reflens = {}, []
            for r in rs:
                rl, rc = cache[r]
                reflens.append(rl)
                for g, c in rc.items():
                    if c > maxcounts.get(g, 0):
                        maxcounts[g] = c
        reflen = min((abs(rl - testlen), rl) for rl in reflens)[1]
        correct = [0] * 4
        for g, c in counts.items():
            correct[len(g) - 1] += min(maxcounts.get(g, 0), c)
        guess = [max(0, testlen - k + 1) for k in range(1, 5)]
        testlen_total += testlen
        reflen_total += reflen
        for k in range(4):
            guess_total[k] += guess[k]
            correct_total[k] += correct[k]
        if per_item:
            _append_bleu(items, correct, guess, testlen, reflen)
    corpus: list[list[float]] = [[] for _ in range(4)]
    _append_bleu(corpus, correct_total, guess_total, testlen_total, reflen_total)
    return [c[0] for c in corpus], items


def _append_bleu(out: list[list[float]], correct, guess, testlen, reflen) -> None:
    value = 1.0
    for k in range(4):
        value *= (float(correct[k]) + _TINY) / (float(guess[k]) + _SMALL)
        out[k].append(value ** (1.0 / (k + 1)))
    ratio = (testlen + _TINY) / (reflen + _SMALL)
    if ratio < 1:
        for k in range(4):
            out[k][-1] *= math.exp(1 - 1 / ratio)


# -- ROUGE-L ------------------------------------------------------------------------------
def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else (prev[j + 1] if prev[j + 1] > cur[j] else cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(hyps: Sequence[str], refs: Sequence[Sequence[str]],
            lcs_cache: dict | None = None) -> tuple[float, np.ndarray]:
    """Mean and per-item ROUGE-L (pycocoevalcap `Rouge().compute_score`)."""
    lcs_cache = {} if lcs_cache is None else lcs_cache
    scores = []
    for hyp, rs in zip(hyps, refs):
        token_c = hyp.split(" ")
        prec, rec = [], []
        for r in rs:
            key = (r, hyp)
            lcs = lcs_cache.get(key)
            if lcs is None:
                token_r = r.split(" ")
                lcs = lcs_cache[key] = lcs_length(token_r, token_c)
            prec.append(lcs / float(len(token_c)))
            rec.append(lcs / float(len(r.split(" "))))
        p, r_ = max(prec), max(rec)
        if p != 0 and r_ != 0:
            scores.append(((1 + _ROUGE_BETA ** 2) * p * r_) / float(r_ + _ROUGE_BETA ** 2 * p))
        else:
            scores.append(0.0)
    arr = np.array(scores)
    return float(np.mean(arr)), arr


# -- CIDEr-D ------------------------------------------------------------------------------
def cider_d(hyps: Sequence[str], refs: Sequence[Sequence[str]],
            cache: NgramCache | None = None) -> tuple[float, np.ndarray]:
    """Mean and per-item CIDEr-D (pycocoevalcap `Cider().compute_score`), idf over these references."""
    cache = NgramCache() if cache is None else cache
    df: dict = {}
    for rs in refs:
        for g in {g for r in rs for g in cache[r][1]}:
            df[g] = df.get(g, 0.0) + 1
    ref_len = _np_log(float(len(refs)))
    log_df = {g: _np_log(max(1.0, d)) for g, d in df.items()}  # an n-gram no reference has: log(1) = 0
    vectors: dict[str, tuple] = {}

    def vec(sentence: str) -> tuple:
        v = vectors.get(sentence)
        if v is None:
            weights: list[dict] = [{}, {}, {}, {}]
            norm = [0.0, 0.0, 0.0, 0.0]
            length = 0
            for g, tf in cache[sentence][1].items():
                n = len(g) - 1
                w = float(tf) * (ref_len - log_df.get(g, 0.0))
                weights[n][g] = w
                norm[n] += w ** 2
                if n == 1:
                    length += tf
            v = vectors[sentence] = (weights, [math.sqrt(x) for x in norm], length)
        return v

    scores = []
    for hyp, rs in zip(hyps, refs):
        w_h, norm_h, len_h = vec(hyp)
        total = [0.0, 0.0, 0.0, 0.0]
        for r in rs:
            w_r, norm_r, len_r = vec(r)
            penalty = _length_penalty(float(len_h - len_r))
            for n in range(4):
                ref_n = w_r[n]
                val = 0.0
                for g, w in w_h[n].items():
                    wr = ref_n.get(g, 0.0)
                    val += (w if w < wr else wr) * wr
                if norm_h[n] != 0 and norm_r[n] != 0:
                    val /= norm_h[n] * norm_r[n]
                total[n] += val * penalty
        # np.mean of four values is a left-to-right sum divided by 4
        score = (((total[0] + total[1]) + total[2]) + total[3]) / 4
        scores.append(score / len(rs) * 10.0)
    arr = np.array(scores)
    return float(np.mean(arr)), arr
