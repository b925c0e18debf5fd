"""The COCO caption protocol against pycocoevalcap, and every kind of bad input."""
from __future__ import annotations

import json
import math
import random

import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from tests.evaluate.conftest import quiet
from videolang.core.errors import BadInputError
from videolang.evaluate import ChapterCaptioningEvaluator, DenseCaptioningEvaluator, evaluate_captions

TITLES = ["Intro", "Introduction", "How to chop an onion!", "Frying the onions (part 2)", "Outro", "Conclusion",
          "Q&A: your questions", "Unboxing the new phone", "Final thoughts...", "Café tour"]


def coco_eval(gts_raw, res_raw, meteor):
    """What VidChapters' COCOEvalCap computes: tokenise, then the four scorers on (gts, res)."""
    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in gts_raw.items()})
    res = tok.tokenize({k: [{"caption": v}] for k, v in res_raw.items()})
    out = dict(zip(["bleu_1", "bleu_2", "bleu_3", "bleu_4"], quiet(Bleu(4).compute_score, gts, res)[0]))
    out["meteor"] = meteor.compute_score(gts, res)[0]
    out["rouge_l"] = Rouge().compute_score(gts, res)[0]
    out["cider"] = Cider().compute_score(gts, res)[0]
    return out


def test_captions_equal_coco_eval_and_compat_swaps_arguments(meteor, oracle_meteor):
    rng = random.Random(5)
    refs = {f"vid{i}#{j}": [rng.choice(TITLES)] for i in range(6) for j in range(3)}
    preds = {k: rng.choice(TITLES) for k in refs}
    ours = evaluate_captions(preds, refs, meteor=meteor)
    expected = coco_eval(refs, preds, oracle_meteor)
    assert {k: ours[k] for k in expected} == pytest.approx(expected, rel=1e-12)
    # VidChapters passes the predictions as references: exactly the swapped call
    swapped = coco_eval({k: [v] for k, v in preds.items()}, {k: v[0] for k, v in refs.items()}, oracle_meteor)
    ours_compat = evaluate_captions(preds, refs, compat=True, meteor=meteor)
    assert {k: ours_compat[k] for k in swapped} == pytest.approx(swapped, rel=1e-12)
    assert any(ours_compat[k] != ours[k] for k in swapped)


def test_chapter_captioning_files_and_missing_items(tmp_path, meteor):
    refs = {"v1": {"duration": 30, "timestamps": [[0, 10], [10, 30]], "sentences": ["Intro", "Chop the onion"]},
            "v2": {"duration": 20, "timestamps": [[0, 20]], "sentences": ["Outro"]}}
    preds = {"v1": ["Intro", "Chop onions", "extra title"], "v3": ["?"]}
    (tmp_path / "refs.json").write_text(json.dumps(refs))
    (tmp_path / "preds.json").write_text(json.dumps(preds))
    result = ChapterCaptioningEvaluator().evaluate(tmp_path / "preds.json", tmp_path / "refs.json", meteor=meteor)
    assert result.metrics["corrected"]["items_evaluated"] == 3   # v2#0 scored as an empty caption
    assert result.metrics["compat"]["items_evaluated"] == 2      # compat skips it
    counts = result.report.counts
    assert counts["items_without_predictions"] == 1 and counts["predictions_for_unknown_items"] == 2
    assert result.per_item.set_index("id").loc["v2#0", "status"] == "no_prediction"


def test_chapter_captioning_task_file_layout(meteor):
    """The builder's tasks/chapter_captioning_<split>.json, predictions keyed by the same clip ids."""
    refs = {"v1#0": {"vid": "v1", "duration": 30, "chapter_index": 0, "segment": [0, 10], "sentence": "Intro"},
            "v1#1": {"vid": "v1", "duration": 30, "chapter_index": 1, "segment": [10, 30], "sentence": "Chop the onion"}}
    result = ChapterCaptioningEvaluator(protocols=["corrected"]).evaluate(
        {"v1#0": "Intro", "v1#1": "Chop the onion"}, refs, meteor=meteor)
    assert result.primary["items_evaluated"] == 2 and result.primary["meteor"] == 1.0
    assert result.primary["bleu_1"] == pytest.approx(1.0, abs=1e-8)


# -- bad input ------------------------------------------------------------------------------------
REFS = {"v1": {"duration": 60.0, "timestamps": [[0, 10], [10, 60]], "sentences": ["chop the onion", "fry it"]},
        "v2": {"duration": 30.0, "timestamps": [[0, 30]], "sentences": ["serve"]},
        "v3": {"duration": 30.0, "timestamps": [], "sentences": []}}


def test_bad_events_are_dropped_and_counted_nothing_silently():
    preds = {"results": {
        "v1": [{"timestamp": [0, 10], "sentence": "chop"},
               {"timestamp": [8, 5], "sentence": "backwards"},            # end < start
               {"timestamp": [math.nan, 5], "sentence": "nan"},           # NaN
               {"timestamp": [50, 70], "sentence": "too long"},           # past the duration: clipped
               {"timestamp": [65, 70], "sentence": "after the end"},      # starts past the duration
               {"timestamp": [20, 30], "sentence": "  "},                 # empty sentence: kept, counted
               {"timestamp": [1, 2]},                                     # no sentence
               {"sentence": "no time"},                                   # no timestamp
               "not an event"],
        "ghost": [{"timestamp": [0, 1], "sentence": "x"}],                # unknown video
    }}  # v2 has no predictions; v3 has no reference segments
    ev = DenseCaptioningEvaluator()
    preds_l, refs_l, report = ev.load(preds, REFS)
    c = report.counts
    assert c["predicted_events_dropped_end_before_start"] == 1
    assert c["predicted_events_dropped_non_finite_time"] == 1
    assert c["predicted_events_dropped_missing_sentence"] == 1
    assert c["predicted_events_dropped_malformed_event"] == 2
    assert c["predicted_events_ending_past_duration"] == 1
    assert c["predicted_events_starting_past_duration"] == 1
    assert c["predicted_events_with_empty_sentence"] == 1
    assert c["predictions_for_unknown_videos"] == 1
    assert c["videos_without_predictions"] == 2        # v2 and v3
    assert c["reference_videos_without_segments_skipped"] == 1
    assert len(preds_l["v1"]) == 4
    assert any("backwards" in e for e in report.examples["predicted_events_dropped_end_before_start"])


@pytest.mark.parametrize("content, message", [
    ("not json {", "malformed JSON"),
    ("", "file is empty"),
    ("[1, 2, 3]", "predictions must be a JSON object"),
    ('{"results": {"v1": 5}}', "expected a list of events"),
    ('{"v1": {"timestamps": [[0, 1]], "sentences": []}}', "equal length"),
])
def test_malformed_prediction_files_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "preds.json"
    path.write_text(content)
    with pytest.raises(BadInputError, match=message) as err:
        DenseCaptioningEvaluator().load(path, REFS)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("refs, message", [
    ({}, "non-empty JSON object"),
    ({"v": {"timestamps": [[0, 1]], "sentences": ["a", "b"]}}, "1 timestamps but 2 sentences"),
    ({"v": {"timestamps": [[5, 1]], "sentences": ["a"]}}, "end_before_start"),
    ({"v": {"timestamps": [[0, "x"]], "sentences": ["a"]}}, "malformed_time"),
    ({"v": [1, 2]}, "expected {duration, timestamps"),
])
def test_malformed_references_stop_the_run(refs, message):
    with pytest.raises(BadInputError, match=message):
        DenseCaptioningEvaluator().load({}, refs)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(BadInputError, match="file not found"):
        DenseCaptioningEvaluator().load(tmp_path / "nope.json", REFS)
