"""BLEU, ROUGE-L, CIDEr-D, METEOR and PTB tokenisation: hand-worked values and bit-for-bit pycocoevalcap equality."""
from __future__ import annotations

import gc
import random
import threading

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from tests.evaluate.conftest import quiet
from videolang.evaluate import Meteor, ptb_tokenize
from videolang.evaluate.caption_metrics import bleu, cider_d, lcs_length, rouge_l

WORDS = ("the a onion garlic chop fry slice boil water pan oil salt into bowl add mix stir "
         "pepper chicken cut serve heat pour sauce cook").split()


def random_corpus(rng: random.Random, n: int, max_refs: int = 4):
    """Random captions; a third of the hypotheses copy a reference, some with two words swapped
    (perfect and near-perfect matches exercise METEOR's chunk aggregation)."""
    def sent():
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))

    def hyp(refs):
        if rng.random() < 0.33:
            words = rng.choice(refs).split()
            if len(words) > 2 and rng.random() < 0.5:
                i = rng.randrange(len(words) - 1)
                words[i], words[i + 1] = words[i + 1], words[i]
            return " ".join(words)
        return sent()
    gts = {i: [sent() for _ in range(rng.randint(1, max_refs))] for i in range(n)}
    res = {i: [hyp(gts[i])] for i in range(n)}
    return gts, res


# -- hand-worked ------------------------------------------------------------------------------
def test_rouge_l_by_hand():
    # LCS("the cat sat on the mat", "the cat on a mat") = "the cat on mat" = 4
    assert lcs_length("the cat sat on the mat".split(), "the cat on a mat".split()) == 4
    p, r, b2 = 4 / 5, 4 / 6, 1.2 ** 2
    _, scores = rouge_l(["the cat on a mat"], [["the cat sat on the mat"]])
    assert scores[0] == pytest.approx((1 + b2) * p * r / (r + b2 * p))


def test_bleu_by_hand():
    # identical 4-word sentences: every precision is 1 (up to the 1e-9 smoothing), no brevity penalty
    corpus, _ = bleu(["a b c d"], [["a b c d"]])
    assert corpus == pytest.approx([1.0, 1.0, 1.0, 1.0], abs=1e-8)
    # "a b" against "a b c d": unigram precision 2/2, bigram 1/1, brevity penalty exp(1 - 4/2)
    corpus, _ = bleu(["a b"], [["a b c d"]])
    assert corpus[0] == pytest.approx(np.exp(1 - 2), rel=1e-8)
    assert corpus[1] == pytest.approx(np.exp(1 - 2), rel=1e-8)
    # no trigram can exist: the smoothing makes p3 = 1e-15 / 1e-9, so BLEU-3 = (1 * 1 * 1e-6) ** (1/3) * e**-1
    assert corpus[2] == pytest.approx(0.01 * np.exp(-1), rel=1e-6)


def test_cider_of_a_single_item_is_zero():
    """log(#items) = 0 and every reference n-gram has df = 1: all weights vanish (why per-video CIDEr matters)."""
    mean, _ = cider_d(["chop the onion"], [["chop the onion"]])
    assert mean == 0.0
    mean, items = cider_d(["chop the onion", "boil water"], [["chop the onion"], ["fry the chicken"]])
    assert items[0] > 0 and items[1] == 0.0 and mean == pytest.approx(items[0] / 2)


# -- oracle equality ----------------------------------------------------------------------------
def test_bleu_rouge_cider_equal_pycocoevalcap_bit_for_bit():
    rng = random.Random(0)
    for _ in range(200):
        gts, res = random_corpus(rng, rng.randint(1, 25))
        hyps, refs = [res[i][0] for i in res], [gts[i] for i in res]
        b, b_items = quiet(Bleu(4).compute_score, gts, res)
        ob, ob_items = bleu(hyps, refs)
        assert ob == list(b) and ob_items == [list(x) for x in b_items]
        r, r_items = Rouge().compute_score(gts, res)
        orr, or_items = rouge_l(hyps, refs)
        assert orr == r and list(or_items) == list(r_items)
        c, c_items = Cider().compute_score(gts, res)
        oc, oc_items = cider_d(hyps, refs)
        assert oc == c and list(oc_items) == list(c_items)


def test_meteor_equals_pycocoevalcap(meteor, oracle_meteor):
    rng = random.Random(1)
    for _ in range(40):
        gts, res = random_corpus(rng, rng.randint(1, 8), max_refs=3)
        score, items = oracle_meteor.compute_score(gts, res)
        pairs = [(res[i][0], gts[i]) for i in res]
        assert meteor.corpus_scores([pairs]) == [score]
        assert meteor.segment_scores(pairs) == list(items)


def test_meteor_groups_stream_through_one_process(meteor, oracle_meteor):
    """Many groups in one call (summed statistics) equal one pycocoevalcap call per group."""
    rng = random.Random(2)
    groups, expected = [], []
    for _ in range(15):
        gts, res = random_corpus(rng, rng.randint(1, 5), max_refs=1)
        groups.append([(res[i][0], gts[i]) for i in res])
        expected.append(oracle_meteor.compute_score(gts, res)[0])
    groups.insert(3, [])
    expected.insert(3, 0.0)
    assert meteor.corpus_scores(groups) == expected


def test_meteor_is_thread_safe(meteor):
    rng = random.Random(3)
    batches = [[(" ".join(rng.choices(WORDS, k=6)), [" ".join(rng.choices(WORDS, k=5))]) for _ in range(200)]
               for _ in range(4)]
    expected = [meteor.segment_scores(b) for b in batches]
    meteor._stats_cache.clear()
    meteor._score_cache.clear()
    results = [None] * len(batches)

    def work(k):
        results[k] = meteor.segment_scores(batches[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


def test_meteor_process_is_cleaned_up():
    m = Meteor()
    proc = m._proc
    m.close()
    assert proc.poll() is not None
    with pytest.raises(RuntimeError, match="exited"):
        m.segment_scores([("c d", ["c d"])])
    forgotten = Meteor()
    proc = forgotten._proc
    del forgotten
    gc.collect()
    assert proc.poll() is not None


TRICKY = ["Hello, World!", "", "   ", "Café au lait -- \"yes\" (1:30)", "A|||B", "it's the chef's knife...",
          "1,000 grams; 2.5 cups?", "Emoji 😀 here", "UPPER lower MiXeD", "e.g. mr. smith's dog", "tab\tseparated"]


def test_ptb_matches_pycocoevalcap_tokenizer():
    expected = PTBTokenizer().tokenize({i: [{"caption": t}] for i, t in enumerate(TRICKY)})
    ours = ptb_tokenize(TRICKY)
    assert [ours[t] for t in TRICKY] == [expected[i][0] for i in range(len(TRICKY))]


def test_ptb_keeps_lines_aligned_when_texts_contain_line_breaks():
    texts = ["first\rline", "second\u2028line", "third\x0cline", "fourth"]
    out = ptb_tokenize(texts)
    assert [out[t] for t in texts] == ["first line", "second line", "third line", "fourth"]
