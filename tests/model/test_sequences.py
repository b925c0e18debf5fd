"""Time tokens through the tokenizer and back, the transcript truncation policy, and event targets."""
from __future__ import annotations

import pytest

from videolang.backbone.parsing import parse_events
from videolang.backbone.sequences import Segment, SequenceBuilder, load_tokenizer, uniform_subset
from videolang.core.time_tokens import TimeTokenCodec


@pytest.fixture(scope="module")
def builder(tiny_t5):
    return SequenceBuilder(load_tokenizer(str(tiny_t5), 100), 100, max_input_tokens=1000, max_output_tokens=256)


def test_time_tokens_are_single_tokens_in_bin_order(builder):
    tok = builder.tokenizer
    assert len(builder.time_ids) == 100 and len(set(builder.time_ids)) == 100
    for b in (0, 7, 99):
        assert tok.convert_ids_to_tokens([builder.time_ids[b]]) == [f"<time_{b}>"]
    # Adding them again (as the model and the data module both do) changes nothing.
    again = SequenceBuilder(tok, 100)
    assert again.time_ids == builder.time_ids


@pytest.mark.parametrize("duration", [7.0, 61.5, 3600.0])
def test_event_round_trip_through_token_ids(builder, duration):
    codec = TimeTokenCodec(100)
    events = [Segment(0.0, duration * 0.3, "intro to the pasta"),
              Segment(duration * 0.3, duration * 0.75, "boil the water"),
              Segment(duration * 0.75, duration, "outro")]
    ids = builder.target_ids(events, duration)
    assert ids[-1] == builder.eos_id
    parsed = parse_events(builder.pieces(ids), duration, codec)
    assert parsed.malformed == 0
    assert [t for _, _, t in parsed.events] == [e.text for e in events]
    step = duration / 99
    for (s, e, _), ref in zip(parsed.events, events):
        assert abs(s - ref.start) <= step + 1e-9 and abs(e - ref.end) <= step + 1e-9
        assert s == codec.to_time(codec.to_bin(ref.start, duration), duration)


def test_transcript_layout_is_time_pair_then_sentence(builder):
    speech = [Segment(10, 12, "second sentence"), Segment(1, 3, "first sentence")]
    ids = builder.transcript_ids(speech, 20.0)
    pieces = builder.pieces(ids)
    codec = builder.codec
    assert pieces == [codec.to_bin(1, 20), codec.to_bin(3, 20), "first sentence",
                      codec.to_bin(10, 20), codec.to_bin(12, 20), "second sentence"]
    assert builder.transcript_ids([], 20.0) == [builder.eos_id]


def test_long_transcripts_keep_a_uniform_subset_that_covers_the_video(tiny_t5):
    b = SequenceBuilder(load_tokenizer(str(tiny_t5), 100), 100, max_input_tokens=60, max_output_tokens=16)
    speech = [Segment(i, i + 1, f"sentence number {i}") for i in range(100)]
    ids = b.transcript_ids(speech, 100.0)
    assert len(ids) <= 60 and ids[-1] == b.eos_id
    bins = [p for p in b.pieces(ids) if isinstance(p, int)]
    starts = bins[0::2]
    assert starts == sorted(starts)
    assert starts[0] <= 2 and starts[-1] >= 95  # both ends of the video are still represented
    # Targets keep whole events only.
    events = [Segment(i * 10, i * 10 + 10, "a rather long chapter title here") for i in range(10)]
    tgt = b.target_ids(events, 100.0)
    assert len(tgt) <= 16 and tgt[-1] == b.eos_id
    parsed = parse_events(b.pieces(tgt), 100.0, b.codec)
    assert parsed.malformed == 0 and all(t == "a rather long chapter title here" for _, _, t in parsed.events)


def test_uniform_subset_edge_cases():
    assert uniform_subset([], 10) == []
    assert uniform_subset([[1] * 30], 10) == [[1] * 10]
    pieces = [[i] * 3 for i in range(10)]
    assert uniform_subset(pieces, 30) == pieces
    kept = uniform_subset(pieces, 9)
    assert len(kept) == 3 and kept[0] == [0] * 3 and kept[-1] == [9] * 3


def test_titles_without_time_tokens(tiny_t5):
    b = SequenceBuilder(load_tokenizer(str(tiny_t5), 100), 100, max_input_tokens=256, max_output_tokens=32,
                        use_time_tokens=False)
    ids = b.transcript_ids([Segment(5, 6, "hello there")], 10.0, offset=5.0)
    assert not any(i in b.bin_of_id for i in ids)
    assert b.pieces(b.title_ids("Boil the water")) == ["Boil the water"]
