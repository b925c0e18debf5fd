"""Parsing generated sequences: malformed events are dropped and counted, duplicates optionally removed."""
from __future__ import annotations

import pytest

from videolang.backbone.parsing import parse_events, pieces_from_text, repeated_title_rate
from videolang.core.time_tokens import TimeTokenCodec

CODEC = TimeTokenCodec(100)


def test_well_formed_sequence():
    parsed = parse_events("<time_0><time_33> Intro <time_33><time_99> Cooking the pasta", 99.0, CODEC)
    assert parsed.events == [(0.0, 33.0, "Intro"), (33.0, 99.0, "Cooking the pasta")]
    assert parsed.malformed == 0


def test_malformed_pieces_are_dropped_and_counted():
    text = ("stray words <time_1><time_5> ok one <time_7> lonely <time_9><time_8> backwards "
            "<time_10><time_20><time_30><time_40> extra times <time_50><time_60> <time_70><time_80> last "
            "<time_90>")
    parsed = parse_events(text, 99.0, CODEC)
    assert [t for _, _, t in parsed.events] == ["ok one", "extra times", "last"]
    assert parsed.dropped == {"stray_text": 1, "single_time": 2, "end_not_after_start": 1, "extra_time": 4}
    assert parsed.malformed == 8


def test_garbage_never_raises():
    for text in ["", "<time_>", "<time_100><time_3> out of range bin", "<time_5><time_6>", "<<time_1>>",
                 "<time_2><time_3>\u0000\ufffd", "<pad></s>"]:
        parsed = parse_events(text, 10.0, CODEC)
        assert all(e > s for s, e, _ in parsed.events)
    parsed = parse_events("<time_5><time_6>", 10.0, CODEC)
    assert parsed.events == [] and parsed.dropped == {"no_text": 1}
    # an unknown bin is kept as text, not as a time
    assert pieces_from_text("<time_100>", CODEC) == ["<time_100>"]


def test_duplicate_titles():
    text = "<time_0><time_10> Intro <time_10><time_50> Making the dough <time_50><time_90> making the dough!"
    assert len(parse_events(text, 90.0, CODEC).events) == 3
    parsed = parse_events(text, 90.0, CODEC, dedup_titles=True)
    assert [t for _, _, t in parsed.events] == ["Intro", "Making the dough"]
    assert parsed.dropped == {"duplicate_title": 1}
    assert repeated_title_rate(["Intro", "Dough", "dough"]) == pytest.approx(1 / 3)
    assert repeated_title_rate([]) == 0.0


def test_pieces_of_token_ids_match_text_parsing(tiny_t5):
    from videolang.backbone.sequences import Segment, SequenceBuilder, load_tokenizer

    b = SequenceBuilder(load_tokenizer(str(tiny_t5), 100), 100)
    ids = b.target_ids([Segment(0, 4, "Intro"), Segment(4, 9, "Outro")], 9.0) + [b.pad_id, b.time_ids[3]]
    from_ids = parse_events(b.pieces(ids), 9.0, CODEC)  # stops at </s>: the trailing junk is ignored
    text = b.tokenizer.decode(ids[: ids.index(b.eos_id)], skip_special_tokens=False)
    assert from_ids.events == parse_events(text, 9.0, CODEC).events
