"""The transcript-match (BM25) grounding baseline on small hand-written transcripts, and the CLIP baseline's saliency."""
from __future__ import annotations

import math

import numpy as np
import pytest

from videolang.backbone.sequences import Segment
from videolang.evaluate import GroundingEvaluator
from videolang.model.grounding_baselines import (TranscriptIndex, clip_zero_shot_saliency, row_normalised_similarity,
                                                 transcript_match, transcript_match_rows)

# stems after bm25s' tokenizer (stop words out): [now we mix dough] [keep mix dough gentl] [should feel soft]
# [next we cook sauc] [sauc thick glossi] [stir dough onc more]; nothing is said in [24, 26)
SENTENCES = [(0, 4, "Now we are mixing the dough."), (4, 8, "Keep mixing the dough gently."),
             (8, 12, "It should feel soft."), (12, 16, "Next we cook the sauce."),
             (16, 20, "The sauce is thick and glossy."), (20, 24, "Stir the dough once more.")]


def test_bm25_scores_are_lucene_bm25_over_the_videos_sentences():
    scores = TranscriptIndex(SENTENCES).scores("sauce")
    idf = math.log(1 + (6 - 2 + 0.5) / (2 + 0.5))  # 6 sentences, 2 say "sauce"
    avgdl = 22 / 6  # tokens per sentence after stop words
    expected = idf * 1 / (1 + 1.5 * (1 - 0.75 + 0.75 * 3 / avgdl))  # k1 1.5, b 0.75; sentence 4 has 3 tokens
    assert scores[4] == pytest.approx(expected, rel=1e-6)
    assert scores[4] > scores[3] > 0 and scores[[0, 1, 2, 5]].tolist() == [0, 0, 0, 0]  # the shorter sentence wins


def test_best_sentence_grows_over_neighbours_within_the_margin_and_windows_are_ranked():
    index = TranscriptIndex([Segment(*s) for s in reversed(SENTENCES)])  # Segments, any order: sorted by time
    dough = index.match("Mixing the dough", 26.0)
    # sentences 0 and 1 say both words (equal scores): one window [0, 8]; sentence 2 says neither: stops;
    # sentence 5 says "dough" only: the second window
    assert [w[:2] for w in dough.windows] == [[0, 8], [20, 24]] and dough.windows[0][2] > dough.windows[1][2]
    sauce = index.match("Cooking the sauce", 26.0)  # sentence 4 ("sauce" only) scores 0.45 of sentence 3
    assert [w[:2] for w in sauce.windows] == [[12, 16], [16, 20]]
    assert [w[:2] for w in index.match("Cooking the sauce", 26.0, margin=0.7).windows] == [[12, 20]]
    assert len(index.match("Mixing the dough", 26.0, k=1).windows) == 1
    with pytest.raises(ValueError, match="margin"):
        index.match("dough", 26.0, margin=1.5)


def test_clip_saliency_and_no_evidence():
    answer = transcript_match("Cooking the sauce", SENTENCES, 26.0)
    s3, s4 = answer.sentence_scores[3], answer.sentence_scores[4]
    assert answer.saliency == [0.0] * 12 + [s3] * 4 + [s4] * 4 + [0.0] * 6  # 26 clips of 1 s
    # 8 s clips (int(26 / 8) = 3): [8, 16) overlaps sentences 2 (score 0) and 3 equally, [16, 24) sentences 4
    # and 5 (score 0): the higher score wins a tie; 3 s clips: [6, 9) overlaps sentence 1 (score 0) most, not
    # sentence 2 ("soft")
    assert transcript_match("Cooking the sauce", SENTENCES, 26.0, clip_length=8.0).saliency == [0.0, s3, s4]
    soft = transcript_match("soft", SENTENCES, 26.0, clip_length=3.0)
    assert soft.sentence_scores[2] > 0 and soft.saliency[2:4] == [0.0, soft.sentence_scores[2]]
    for words, sentences in (("zebra crossing", SENTENCES), ("the", SENTENCES), ("sauce", [])):
        none = transcript_match(words, sentences, 26.0)
        assert none.windows == [[0.0, 26.0, 0.0]] and none.saliency == [0.0] * 26


def test_rows_are_scored_by_the_evaluator_with_derived_saliency():
    refs = [{"qid": "d", "query": "Mixing the dough", "vid": "v", "duration": 26.0, "relevant_windows": [[0, 12]]},
            {"qid": "s", "query": "Cooking the sauce", "vid": "v", "duration": 26.0, "relevant_windows": [[12, 24]]},
            {"qid": "u", "query": "Mixing the dough", "vid": "silent", "duration": 26.0, "relevant_windows": [[12, 24]]}]
    rows = transcript_match_rows(refs, {"v": SENTENCES})
    assert rows[2]["pred_relevant_windows"] == [[0.0, 26.0, 0.0]] and rows[0]["clip_length"] == 1.0
    result = GroundingEvaluator().evaluate(rows, refs)
    m = result.primary
    # d: [0, 8] vs [0, 12] IoU 2/3; s: [12, 16] vs [12, 24] IoU 1/3; u: [0, 26] vs [12, 24] IoU 0.46
    assert m["r1@0.5"] == pytest.approx(1 / 3) and m["r1@0.3"] == 1.0
    assert m["hl_hit1@fair"] == pytest.approx(2 / 3)  # the silent video: all 0, its top clip 0 is outside [12, 24)
    assert m["qs_videos_evaluated"] == 1 and m["qs_top1_changed"] == 1.0


def test_clip_zero_shot_saliency_is_the_similarity_per_clip():
    frames = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    sim = row_normalised_similarity(np.array([1.0, 0.0]), frames)
    # frames at 0, 1, 2 s; 1 s clips of a 4 s video: clip 3 has no frame (the nearest, at 2 s); 2 s clips: means
    assert clip_zero_shot_saliency(np.array([1.0, 0.0]), frames, np.arange(3.0), 4.0) == pytest.approx(
        [sim[0], sim[1], sim[2], sim[2]])
    assert clip_zero_shot_saliency(np.array([1.0, 0.0]), frames, np.arange(3.0), 4.0, clip_length=2.0) == \
        pytest.approx([(sim[0] + sim[1]) / 2, sim[2]])
