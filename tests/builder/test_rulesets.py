"""Every ruleset on a table of tricky descriptions; the fast vidchapters parser against its oracle."""
from __future__ import annotations

import random

import pytest

from videolang.builder import fastparse, reference
from videolang.builder.records import (
    REJECT_FEW_CHAPTERS,
    REJECT_FEW_TIMESTAMP_LINES,
    REJECT_FEW_YOUTUBE,
    REJECT_NO_CHAPTERS_FIELD,
    REJECT_NO_ZERO_START,
    REJECT_NOT_INCREASING,
    REJECT_ONE_CHAR_TITLES,
    REJECT_YOUTUBE_SHORT,
    VideoRecord,
)
from videolang.builder.rulesets import get_ruleset, parse_chapters_field, parse_youtube
from videolang.builder.synthetic import corpus, realistic_corpus

# (description, expected vidchapters outcome: chapters or a rejection reason)
VIDCHAPTERS_CASES = [
    ("0:00 Intro\n1:30 Main part\n10:00 Outro", [(0, "Intro"), (90, "Main part"), (600, "Outro")]),
    # Windows line endings: "\r" stays in the line and is trimmed as a non-alphanumeric character
    ("0:00 Intro\r\n1:30 Main\r\n", [(0, "Intro"), (90, "Main")]),
    # separators, brackets and bullets around the timestamp are trimmed
    ("[00:00] - Intro -\n(01:05) | Setup |\n▶ 2:10 → Results", [(0, "Intro"), (65, "Setup"), (130, "Results")]),
    # title before the timestamp
    ("Intro 0:00\nThe build 2:30\nOutro 5:00", [(0, "Intro"), (150, "The build"), (300, "Outro")]),
    # numbered lists keep their number: the rules only trim the ends
    ("1. 0:00 Intro\n2. 0:20 Part", [(0, "1.  Intro"), (20, "2.  Part")]),
    # hours, both widths, and the HH:MM:SS > H:MM:SS > MM:SS > M:SS priority
    ("0:00:00 Start\n1:02:03 Middle\n01:10:00 End", [(0, "Start"), (3723, "Middle"), (4200, "End")]),
    # a range: the leftmost M:SS is the start ... unless an MM:SS occurs later on the line
    ("0:00 - 1:30 Intro\n1:30 - 2:00 Part", [(0, "1:30 Intro"), (90, "2:00 Part")]),
    ("0:00 - 10:30 Intro\n10:30 - 12:00 Part", REJECT_NOT_INCREASING),
    # URLs (with colons and t=1:23) are cut out before anything else
    ("0:00 Intro https://example.com:8080/?t=1:23\n2:00 Next http://youtu.be/x?t=9:99",
     [(0, "Intro"), (120, "Next")]),
    # three digits around a colon, or dd:dd:dd:dd, reject the line
    ("0:00 Intro\n100:00 Long\n1:00 Part\n12:34:56:78 id", [(0, "Intro"), (60, "Part")]),
    ("0:00 Intro\n1:000 x\n2:00 y", [(0, "Intro"), (120, "y")]),
    # a line whose d:dd was only in a URL still counts as a timestamp line
    ("0:00 Intro\nsee http://a.b/c?t=1:23", REJECT_FEW_CHAPTERS),
    # "10:30 pm" and "16:9": the rules cannot tell them from chapters
    ("Doors open 10:30 pm\n11:00 Show starts", [(630, "Doors open  pm"), (660, "Show starts")]),
    ("Shot in 16:9\n0:00 Intro", REJECT_FEW_TIMESTAMP_LINES),
    # emoji and Unicode titles; emoji at the ends are trimmed, inside kept
    ("0:00 🔥 Intro 🔥\n0:30 Einführung ✨ Teil\n1:00 結論", [(0, "Intro"), (30, "Einführung ✨ Teil"), (60, "結論")]),
    # Unicode digits are digits to \d and to int()
    ("٠:٠٠ مقدمة\n١:٣٠ الجزء", [(0, "مقدمة"), (90, "الجزء")]),
    ("０:００ Intro\n０:４５ Next", [(0, "Intro"), (45, "Next")]),
    # empty titles are dropped; a single remaining chapter is not enough
    ("0:00\n1:00 -\n2:00 Real", REJECT_FEW_CHAPTERS),
    ("0:00 a\n1:00 b\n2:00 c", REJECT_ONE_CHAR_TITLES),
    ("0:00 a\n1:00 bb", [(0, "a"), (60, "bb")]),
    ("1:00 Intro\n0:30 Back", REJECT_NOT_INCREASING),
    ("0:00 Intro\n0:00 Again", REJECT_NOT_INCREASING),
    ("", REJECT_FEW_TIMESTAMP_LINES),
    ("just one 0:00 timestamp", REJECT_FEW_TIMESTAMP_LINES),
    ("\n\n\r\n", REJECT_FEW_TIMESTAMP_LINES),
    # seconds past 59 are read as written, as in the published code
    ("0:00 Intro\n1:75 Odd", [(0, "Intro"), (135, "Odd")]),
    # tabs, non-breaking spaces and underscores are not alphanumeric
    ("\t0:00\u00a0_Intro_\n0:10\tPart", [(0, "Intro"), (10, "Part")]),
    # colons next to non-ASCII letters do not confuse the byte skeleton
    ("Résumé: 0:00 début\nCafé: 1:00 fin", [(0, "Résumé:  début"), (60, "Café:  fin")]),
    ("0:00 ok\nfoo é:12 bar\n2:00 fin", [(0, "ok"), (120, "fin")]),
    # NUL characters inside a description
    ("0:00 In\x00tro\n0:10 Part", [(0, "In\x00tro"), (10, "Part")]),
]


def _expected(value):
    return (value, None) if isinstance(value, list) else (None, value)


@pytest.mark.parametrize("text, expected", VIDCHAPTERS_CASES, ids=[repr(c[0])[:40] for c in VIDCHAPTERS_CASES])
def test_vidchapters_reference_and_fast_parser_on_hand_written_cases(text, expected):
    assert tuple(reference.parse_description(text)) == _expected(expected)
    assert tuple(fastparse.parse_description(text)) == _expected(expected)


def test_fast_batch_equals_one_by_one_and_handles_non_strings():
    texts = [c[0] for c in VIDCHAPTERS_CASES] + [None, float("nan"), 12, b"0:00 x"]
    assert fastparse.parse_batch(texts) == [reference.parse_description(t) for t in texts]
    assert fastparse.parse_batch([]) == []


@pytest.mark.parametrize("make, seed", [(corpus, 11), (corpus, 12), (realistic_corpus, 13)])
def test_fast_parser_agrees_with_reference_on_generated_corpus(make, seed):
    texts = [d for _, d, _ in make(3000, seed=seed, chapter_fraction=0.6)]
    fast = []
    for i in range(0, len(texts), 257):  # odd batch sizes: boundaries fall anywhere
        fast += fastparse.parse_batch(texts[i:i + 257])
    ref = [reference.parse_description(t) for t in texts]
    mismatches = [(t, r, f) for t, r, f in zip(texts, ref, fast) if r != f]
    assert not mismatches, mismatches[:2]
    assert sum(r.chapters is not None for r in ref) > 300  # the corpus really exercises kept videos


def test_parsers_never_crash_on_random_text():
    rng = random.Random(5)
    alphabet = "0123456789:: \n\r\t-.a€😀٣０http://x/é\x00\u2028"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))) for _ in range(2000)]
    assert fastparse.parse_batch(texts) == [reference.parse_description(t) for t in texts]
    for t in texts[:300]:
        parse_youtube(t, 100.0)


YOUTUBE_CASES = [
    ("0:00 Intro\n0:15 Part\n1:00 End", 100.0, [(0, "Intro"), (15, "Part"), (60, "End")]),
    # list markers and range ends are not part of the title
    ("1. 0:00 Intro\n2) 0:15 Part two\n#3 1:00 End", 100.0, [(0, "Intro"), (15, "Part two"), (60, "End")]),
    ("0:00 - 0:15 Intro\n0:15 - 1:00 Part\n1:00 - 1:40 End", 100.0, [(0, "Intro"), (15, "Part"), (60, "End")]),
    ("Intro 0:00\nPart 0:15\nEnd 1:00 !!", 100.0, [(0, "Intro"), (15, "Part"), (60, "End")]),
    # lines before the 0:00 line are ignored; "16:9" is not a time
    ("Meet at 10:30 pm\n00:00 Intro\n00:15 Part\n01:00 End 16:9", 100.0,
     [(0, "Intro"), (15, "Part"), (60, "End 16:9")]),
    ("0:00 Intro\r\n0:15 Part\r\n1:00:00 Late", 4000.0, [(0, "Intro"), (15, "Part"), (3600, "Late")]),
    ("0:05 Intro\n0:15 Part\n1:00 End", 100.0, REJECT_NO_ZERO_START),
    ("0:00 Intro\n0:15 Part", 100.0, REJECT_FEW_YOUTUBE),
    ("0:00 Intro\n0:05 Part\n1:00 End", 100.0, REJECT_YOUTUBE_SHORT),
    ("0:00 Intro\n0:15 Part\n1:00 End", 65.0, REJECT_YOUTUBE_SHORT),  # the last chapter is 5 s
    ("0:00 Intro\n0:50 Part\n0:30 End", 100.0, REJECT_NOT_INCREASING),
    ("no times", 100.0, REJECT_FEW_TIMESTAMP_LINES),
    # Unicode digits are not YouTube timestamps
    ("٠:٠٠ a\n٠:١٥ b\n١:٠٠ c", 100.0, REJECT_NO_ZERO_START),
]


@pytest.mark.parametrize("text, duration, expected", YOUTUBE_CASES, ids=[repr(c[0])[:40] for c in YOUTUBE_CASES])
def test_youtube_ruleset(text, duration, expected):
    assert tuple(parse_youtube(text, duration)) == _expected(expected)


def test_chapters_field_ruleset_and_fallback():
    chapters = [{"start_time": 0, "end_time": 10, "title": " Intro "}, {"start_time": 10.5, "end_time": 20, "title": "B"}]
    assert parse_chapters_field(chapters).chapters == [(0.0, "Intro"), (10.5, "B")]
    for bad in (None, [], "x"):
        assert parse_chapters_field(bad).reason == REJECT_NO_CHAPTERS_FIELD
    for bad in ([{"title": "no start"}], [{"start_time": float("nan")}], [{"start_time": -1.0}],
                [{"start_time": True}], ["not an object"]):
        assert parse_chapters_field(bad).reason == "invalid_chapters_field", bad
    unsorted = [{"start_time": 30, "title": "B"}, {"start_time": 0, "title": "A"}]
    assert parse_chapters_field(unsorted).reason == "timestamps_not_increasing"
    records = [VideoRecord("a" * 11, "s", description="0:00 Intro\n0:30 Part", metadata={"chapters": chapters}),
               VideoRecord("b" * 11, "s", description="0:00 Intro\n0:30 Part"),
               VideoRecord("c" * 11, "s", description=None)]
    plain = get_ruleset("chapters_field")(records)
    assert plain[0].chapters == [(0.0, "Intro"), (10.5, "B")] and plain[1].reason == REJECT_NO_CHAPTERS_FIELD
    with_fallback = get_ruleset("chapters_field", fallback="vidchapters")(records)
    assert with_fallback[1].chapters == [(0, "Intro"), (30, "Part")]
    assert with_fallback[2].reason == REJECT_NO_CHAPTERS_FIELD


def test_unknown_ruleset_is_a_config_error():
    from videolang.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown chapter ruleset"):
        get_ruleset("nope")
    with pytest.raises(ConfigError, match="fallback"):
        get_ruleset("chapters_field", fallback="chapters_field")


def test_arrow_candidate_rows_never_miss_a_timestamp():
    """Rows skipped in bulk from a table must be exactly the rows the rules reject before any line."""
    import pyarrow as pa

    texts = [d for _, d, _ in corpus(1500, seed=21, chapter_fraction=0.3)]
    texts += [None, "", "٠:٠٠ a\n١:٠٠ b", "x1:2", "3 y", "é:ab", "0:00"]
    for strings in (pa.array(texts, pa.string()), pa.array(texts, pa.large_string()),
                    pa.array(texts, pa.string()).slice(7, 900)):
        keep = set(fastparse.candidate_rows(strings).tolist())
        for i, text in enumerate(strings.to_pylist()):
            if i not in keep:
                assert reference.parse_description(text or "").reason == REJECT_FEW_TIMESTAMP_LINES
                assert not any(reference.timestamp_lines(text or ""))
    assert fastparse.candidate_rows(pa.array([], pa.string())).size == 0
    assert fastparse.candidate_rows(pa.array([None, None], pa.string())).size == 0
