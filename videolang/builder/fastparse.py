"""The `vidchapters` ruleset at corpus speed: same output as `videolang.builder.reference`.

Why it is fast (and still exact):
1. Batches, not descriptions. A batch is encoded to UTF-8 once per description,
   joined with newlines and turned into a *skeleton* by one `bytes.translate`
   (ASCII digits -> "9", every non-ASCII byte -> 0x80). Every regex of the rules
   is made of `\\d` and ":", so on the skeleton they become literal searches
   (`d:dd` is b"9:99"), which run at memory speed. A description with no
   `d:dd` - nearly all of a scraped corpus - costs no Python work of its own.
2. URLs (`http\\S+`) are cut only from candidate descriptions: cutting a URL can
   remove a `d:dd` but never create one (a URL ends at whitespace), so a
   description without one before cutting has none after.
3. Candidate lines are visited one by one, but the usual one-colon line is
   settled by one dict look-up of the seven skeleton bytes around its colon, and
   its `MM:SS` by another.
4. Titles are trimmed with `str.strip` of common separators, falling back to the
   Unicode-aware `[^\\W_]` regex (exactly `str.isalnum`) when an end is still not
   alphanumeric.
5. Unicode digits (`\\d` matches Arabic-Indic or full-width digits, and `int()`
   reads them) only matter where a non-ASCII character touches a colon's digit
   run; those descriptions take a per-line path on a full Unicode skeleton.
"""
from __future__ import annotations

import itertools
import re
import sys

from videolang.builder.records import (
    REJECT_FEW_CHAPTERS,
    REJECT_FEW_TIMESTAMP_LINES,
    REJECT_NOT_INCREASING,
    REJECT_ONE_CHAR_TITLES,
    ParseOutcome,
)

_HAS_TIMESTAMP = re.compile(r"\d:\d\d")
_URL = re.compile(r"http\S+")
_ALNUM_SPAN = re.compile(r"[^\W_](?:.*[^\W_])?", re.DOTALL)
_NINE, _X = ord("9"), ord("x")
_SKELETON = bytes(_NINE if chr(c).isdigit() and c < 128 else (0x80 if c >= 128 else c) for c in range(256))
_DIGIT_FLAGS = bytes(_NINE if c == _NINE else _X for c in range(256))
# A non-ASCII character inside a colon's digit run (it may be a Unicode digit).
_NON_ASCII_TOUCH = (b"\x80:", b":\x80", b"\x809:", b"\x8099:", b":9\x80", b":99\x80")
_ASCII_DIGITS_TO_9 = str.maketrans("012345678", "999999999")
_ALL_DIGITS_TO_9 = {c: "9" for c in range(sys.maxunicode + 1) if chr(c).isdecimal() and c != _NINE}
# Never alphanumeric, and what usually surrounds a title: strip these first.
_TITLE_JUNK = " \t\r\v\f-–—|:.,;()[]{}<>#*•·▶►→⇒=+~_/\\\"'!?…"
_MMSS = {f"{m}:{s:02d}".encode(): m * 60 + s for m in range(10) for s in range(100)}
_MMSS.update({f"{m:02d}:{s:02d}".encode(): m * 60 + s for m in range(100) for s in range(100)})


def _one_colon_rules() -> dict[bytes, tuple[int, int] | None]:
    """The 7 skeleton bytes around the only colon c of a line (digits '9', all else 'x') -> timestamp span.

    None when three digits touch the colon (`ddd:` or `:ddd`: the rules reject the
    line); otherwise MM:SS when two digits precede the colon, else M:SS.
    """
    table: dict[bytes, tuple[int, int] | None] = {}
    for b3, b2, a3 in itertools.product(b"9x", repeat=3):
        key = bytes([b3, b2]) + b"9x99" + bytes([a3])
        if (b3 == b2 == _NINE) or a3 == _NINE:
            table[key] = None
        else:
            table[key] = (-2, 3) if b2 == _NINE else (-1, 3)
    return table


_ONE_COLON = _one_colon_rules()


def line_timestamp(skel, nine, colon) -> tuple[int, int] | None:
    """(start, end) of a skeleton line's timestamp in the rules' priority order; None if rejected."""
    if nine * 3 + colon in skel or colon + nine * 3 in skel:
        return None
    hms = nine + colon + nine * 2 + colon + nine * 2
    if hms in skel:  # H:MM:SS occurs (HH:MM:SS, the first choice, contains it)
        if (nine * 2 + colon) * 3 + nine * 2 in skel:
            return None
        k = skel.find(nine + hms)
        if k >= 0:
            return k, k + 8
        k = skel.find(hms)
        return k, k + 7
    k = skel.find(nine * 2 + colon + nine * 2)
    if k >= 0:
        return k, k + 5
    k = skel.find(nine + colon + nine * 2)
    return k, k + 4


def _seconds(stamp) -> int:
    parts = stamp.split(b":" if isinstance(stamp, bytes) else ":")
    return int(parts[-1]) + int(parts[-2]) * 60 + (int(parts[0]) * 3600 if len(parts) == 3 else 0)


def _clean_title(title: str) -> str:
    title = title.strip(_TITLE_JUNK)
    if title[:1].isalnum() and title[-1:].isalnum():
        return title
    m = _ALNUM_SPAN.search(title)
    return "" if m is None else m.group()


def _ascii_lines(raw: bytes, skel: bytes) -> tuple[list[tuple[int, str]], int]:
    """Chapters and timestamp-line count of one description whose digits near colons are ASCII."""
    out: list[tuple[int, str]] = []
    lines = 0
    one_colon, mmss = _ONE_COLON, _MMSS
    p = skel.find(b"9:99")
    while p >= 0:
        lines += 1
        ls = skel.rfind(b"\n", 0, p) + 1
        le = skel.find(b"\n", p)
        nxt = skel.find(b"9:99", le)
        c = p + 1
        if skel.count(b":", ls, le) == 1:
            span = one_colon[skel[c - 3:c + 4].translate(_DIGIT_FLAGS)]
            if span is None:
                p = nxt
                continue
            a, b = c + span[0], c + span[1]
            seconds = mmss[raw[a:b]]
        else:
            span = line_timestamp(skel[ls:le], b"9", b":")
            if span is None:
                p = nxt
                continue
            a, b = ls + span[0], ls + span[1]
            seconds = _seconds(raw[a:b])
        piece = raw[b:le] if a == ls else raw[ls:a] + raw[b:le]
        title = piece.decode("utf-8", "surrogatepass").strip(_TITLE_JUNK)
        if not (title[:1].isalnum() and title[-1:].isalnum()):
            m = _ALNUM_SPAN.search(title)
            title = "" if m is None else m.group()
        if title:
            out.append((seconds, title))
        p = nxt
    return out, lines


def _unicode_lines(text: str) -> tuple[list[tuple[int, str]], int]:
    """The same rules line by line on a full Unicode skeleton (descriptions that may hold Unicode digits)."""
    out = []
    lines = 0
    for line in text.split("\n"):
        if ":" not in line:
            continue
        skel = line.translate(_ASCII_DIGITS_TO_9 if line.isascii() else _ALL_DIGITS_TO_9)
        if "9:99" not in skel:
            continue
        lines += 1
        span = line_timestamp(skel, "9", ":")
        if span is None:
            continue
        a, b = span
        title = _clean_title(line[:a] + line[b:])
        if title:
            out.append((_seconds(line[a:b]), title))
    return out, lines


def _decide(chapters: list[tuple[int, str]], lines: int) -> ParseOutcome:
    if len(chapters) <= 1:
        return ParseOutcome(None, REJECT_FEW_CHAPTERS if lines > 1 else REJECT_FEW_TIMESTAMP_LINES)
    if all(len(title) <= 1 for _, title in chapters):
        return ParseOutcome(None, REJECT_ONE_CHAR_TITLES)
    previous = -1
    for seconds, _ in chapters:
        if seconds <= previous:
            return ParseOutcome(None, REJECT_NOT_INCREASING)
        previous = seconds
    return ParseOutcome(chapters, None)


def parse_one(text: str) -> ParseOutcome:
    """One description that may hold a `d:dd` (the batch parser's per-candidate step)."""
    cut = _URL.sub("", text) if "http" in text else text
    raw = b"\n\n" + cut.encode("utf-8", "surrogatepass") + b"\n"
    skel = raw.translate(_SKELETON)
    if len(raw) != len(cut) + 3 and any(t in skel for t in _NON_ASCII_TOUCH):
        chapters, lines = _unicode_lines(cut)
    else:
        chapters, lines = _ascii_lines(raw, skel)
    if len(chapters) <= 1 and lines <= 1 and cut is not text:
        # the rules count a line as a timestamp line before its URLs are cut
        lines = sum(1 for line in text.split("\n") if _HAS_TIMESTAMP.search(line))
    return _decide(chapters, lines)


def parse_batch(descriptions: list) -> list[ParseOutcome]:
    """Outcomes of the `vidchapters` rules for a batch of descriptions (non-strings go through `str`).

    The batch is joined with "\\n\\0\\n", encoded once and reduced to a *detection
    skeleton* where every digit and every non-ASCII byte reads 0x80: any `d:dd`,
    ASCII or Unicode, shows there as b"\\x80:\\x80\\x80". Only descriptions holding
    that pattern (a superset of those with a `d:dd`) are parsed, one by one;
    the others are rejected without a Python-level step of their own.
    """
    texts = [d if type(d) is str else str(d) for d in descriptions]
    n = len(texts)
    outcomes = [_NO_TIMESTAMPS] * n
    if n == 0:
        return outcomes
    joined = _JOIN.join(texts)
    if joined.count("\x00") != n - 1:  # a description holds NUL itself: no shared buffer
        return [parse_one(t) if _DDD in t.encode("utf-8", "surrogatepass").translate(_DETECT) else _NO_TIMESTAMPS
                for t in texts]
    raw = joined.encode("utf-8", "surrogatepass")
    skel = raw.translate(_DETECT)
    doc, counted = 0, 0
    p = skel.find(_DDD)
    while p >= 0:
        doc += raw.count(b"\x00", counted, p)
        counted = p
        outcomes[doc] = parse_one(texts[doc])
        end = raw.find(b"\x00", p)
        if end < 0:
            break
        p = skel.find(_DDD, end)
    return outcomes


_JOIN = "\n\x00\n"
_DDD = b"\x80:\x80\x80"
_DETECT = bytes(0x80 if (48 <= c <= 57 or c >= 128) else c for c in range(256))
_NO_TIMESTAMPS = ParseOutcome(None, REJECT_FEW_TIMESTAMP_LINES)


def parse_description(description: object) -> ParseOutcome:
    """The `vidchapters` rules for one description."""
    return parse_batch([description])[0]
