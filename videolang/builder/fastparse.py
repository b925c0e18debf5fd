"""The `vidchapters` ruleset at corpus speed: same output as `videolang.builder.reference`.

Why it is fast (and still exact):
1. Batches, not descriptions. A batch is encoded to UTF-8 and joined into one
   buffer; numpy finds every colon whose neighbours may be digits (an ASCII digit,
   or any byte of a non-ASCII character, which may be a Unicode digit). That is a
   superset of the descriptions with a `d:dd`; all others - nearly all of a
   scraped corpus - are rejected without a Python-level step of their own.
2. URLs (`http\\S+`) are cut only from those candidates: cutting a URL can
   remove a `d:dd` but never create one (a URL ends at whitespace).
3. Every regex of the rules is made of `\\d` and ":", so on a *skeleton* of the
   candidates (ASCII digits -> "9", non-ASCII bytes -> 0x80) they become literal
   or array comparisons. numpy settles every one-colon line (the usual chapter
   line) at once: rejection (`ddd:` / `:ddd`), MM:SS or M:SS, the seconds. Lines
   with several colons go through `line_timestamp` (literal searches in the
   rules' priority order).
4. Titles are trimmed with `str.strip` of common separators, falling back to the
   `[^\\W_]` regex (exactly `str.isalnum`) only when an end is still not
   alphanumeric.
5. A description where a non-ASCII character touches a colon's digit run (it may
   be a Unicode digit: `\\d` matches Arabic-Indic or full-width digits, and
   `int()` reads them) takes an exact per-line path on a Unicode skeleton.
"""
from __future__ import annotations

import re
import sys
from itertools import compress

import numpy as np

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
_NINE = ord("9")
# ASCII digits -> "9", every byte of a non-ASCII character -> 0x80, the rest as it is.
_SKELETON = bytes(_NINE if 48 <= c <= 57 else (0x80 if c >= 128 else c) for c in range(256))
_ASCII_DIGITS_TO_9 = str.maketrans("012345678", "999999999")
_ALL_DIGITS_TO_9 = {c: "9" for c in range(sys.maxunicode + 1) if chr(c).isdecimal() and c != _NINE}
# Never alphanumeric, and what usually surrounds a title: strip these first.
_TITLE_JUNK = " \t\r\v\f-–—|:.,;()[]{}<>#*•·▶►→⇒=+~_/\\\"'!?…"


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


def _ascii_docs(raws: list[bytes]) -> list[tuple[list[tuple[int, str]], int] | None]:
    """(chapters, timestamp-line count) of several UTF-8 descriptions at once; None for one that needs
    the Unicode path (a non-ASCII character touches a colon's digit run: it may be a Unicode digit).

    The descriptions share one buffer, three newlines apart. numpy finds every
    colon, its line and its neighbours; a line with one colon (the usual chapter
    line) is settled there: rejection, MM:SS or M:SS, the seconds. Lines with
    several colons go through `line_timestamp`. Python only cuts out the titles.
    """
    n = len(raws)
    out: list = [([], 0) for _ in range(n)]
    if n == 0:
        return out
    buf = b"\n\n\n" + b"\n\n\n".join(raws) + b"\n\n\n"
    skel = buf.translate(_SKELETON)
    arr = np.frombuffer(skel, dtype=np.uint8)
    colons = np.flatnonzero(arr == 58)
    if colons.size == 0:
        return out
    doc_starts = np.cumsum([3] + [len(r) + 3 for r in raws[:-1]])
    before, after = arr[colons - 1], arr[colons + 1]
    touch = (before == 0x80) | (after == 0x80)
    touch |= (before == _NINE) & ((arr[colons - 2] == 0x80) | ((arr[colons - 2] == _NINE) & (arr[colons - 3] == 0x80)))
    touch |= (after == _NINE) & ((arr[colons + 2] == 0x80) | ((arr[colons + 2] == _NINE) & (arr[colons + 3] == 0x80)))
    unicode_docs = set()
    if touch.any():
        unicode_docs = set((np.searchsorted(doc_starts, colons[touch], side="right") - 1).tolist())
        for d in unicode_docs:
            out[d] = None
    is_ddd = (before == _NINE) & (after == _NINE) & (arr[colons + 2] == _NINE)
    if not is_ddd.any():
        return out
    newlines = np.flatnonzero(arr == 10)
    line_of = np.searchsorted(newlines, colons)  # line k runs from newlines[k-1] + 1 to newlines[k]
    lines = line_of[is_ddd]  # sorted: keep the first of each run
    lines = lines[np.concatenate(([True], lines[1:] != lines[:-1]))]
    starts = newlines[lines - 1] + 1
    doc_of_line = np.searchsorted(doc_starts, starts, side="right") - 1
    counts = np.bincount(doc_of_line, minlength=n).tolist()
    # one-colon lines: their colon is the d:dd, and the rules reduce to its neighbours
    single = np.bincount(line_of, minlength=newlines.size + 1)[lines] == 1
    c = colons[np.searchsorted(line_of, lines)]  # the line's first colon
    raw = np.frombuffer(buf, dtype=np.uint8)
    d1, d2, d3, d4 = (raw[c + k].astype(np.int64) - 48 for k in (-2, -1, 1, 2))
    two = arr[c - 2] == _NINE
    ok = single & ~((two & (arr[c - 3] == _NINE)) | (arr[c + 3] == _NINE))
    ts_start = np.where(two, c - 2, c - 1)
    ts_end = c + 3
    seconds = np.where(two, d1 * 600 + d2 * 60, d2 * 60) + d3 * 10 + d4
    ends = newlines[lines]
    for i in np.flatnonzero(~single).tolist():  # several colons: the full priority rules
        ls = int(starts[i])
        span = line_timestamp(skel[ls:int(ends[i])], b"9", b":")
        if span is not None:
            ts_start[i], ts_end[i] = ls + span[0], ls + span[1]
            seconds[i] = _seconds(buf[ls + span[0]:ls + span[1]])
            ok[i] = True
    # Titles: the bytes of each kept line minus its timestamp, newline included, gathered
    # with one fancy index and decoded at once.
    ls, ts_start, ts_end, le = starts[ok], ts_start[ok], ts_end[ok], ends[ok] + 1
    piece_starts = np.column_stack([ls, ts_end]).ravel()
    piece_lengths = np.column_stack([ts_start - ls, le - ts_end]).ravel()
    gather = np.repeat(piece_starts - np.cumsum(piece_lengths) + piece_lengths, piece_lengths) \
        + np.arange(int(piece_lengths.sum()))
    pieces = raw[gather].tobytes().decode("utf-8", "surrogatepass").split("\n")
    titles = [t if (t := p.strip(_TITLE_JUNK))[:1].isalnum() and t[-1:].isalnum() else _clean_title(t)
              for p in pieces[:-1]]
    keep = [bool(t) for t in titles]
    titles = list(compress(titles, keep))
    seconds = list(compress(seconds[ok].tolist(), keep))
    docs = np.fromiter(compress(doc_of_line[ok].tolist(), keep), dtype=np.int64, count=len(titles))
    bounds = np.searchsorted(docs, np.arange(n + 1)).tolist()
    for d in range(n):
        if out[d] is not None:
            a, b = bounds[d], bounds[d + 1]
            out[d] = (list(zip(seconds[a:b], titles[a:b])), counts[d])
    return out


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
    """The rules' final checks, in their order: > 1 chapter, not all 1-char titles, increasing starts."""
    if len(chapters) <= 1:
        return ParseOutcome(None, REJECT_FEW_CHAPTERS if lines > 1 else REJECT_FEW_TIMESTAMP_LINES)
    for _, title in chapters:
        if len(title) > 1:
            break
    else:
        return ParseOutcome(None, REJECT_ONE_CHAR_TITLES)
    previous = -1
    for seconds, _ in chapters:
        if seconds <= previous:
            return ParseOutcome(None, REJECT_NOT_INCREASING)
        previous = seconds
    return ParseOutcome(chapters, None)


def parse_candidates(texts: list[str]) -> list[ParseOutcome]:
    """Descriptions that may hold a `d:dd` (the batch parser's second step)."""
    cuts = [_URL.sub("", t) if "http" in t else t for t in texts]
    raws = [c.encode("utf-8", "surrogatepass") for c in cuts]
    found = _ascii_docs(raws)
    for i, result in enumerate(found):
        if result is None:
            found[i] = _unicode_lines(cuts[i])
    outcomes = []
    for text, cut, (chapters, lines) in zip(texts, cuts, found):
        if len(chapters) <= 1 and lines <= 1 and cut is not text:
            # the rules count a line as a timestamp line before its URLs are cut
            lines = sum(1 for line in text.split("\n") if _HAS_TIMESTAMP.search(line))
        outcomes.append(_decide(chapters, lines))
    return outcomes


def parse_batch(descriptions: list) -> list[ParseOutcome]:
    """Outcomes of the `vidchapters` rules for a batch of descriptions (non-strings go through `str`).

    The batch is encoded and joined into one buffer; numpy finds every colon whose
    neighbours may be digits (an ASCII digit or any byte of a non-ASCII
    character, which may be a Unicode digit): a superset of the descriptions
    with a `d:dd`. Only those are parsed; the others are rejected without a
    Python-level step of their own.
    """
    texts = [d if type(d) is str else str(d) for d in descriptions]
    n = len(texts)
    outcomes = [_NO_TIMESTAMPS] * n
    if n == 0:
        return outcomes
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    starts = np.cumsum([0] + [len(e) + 2 for e in encoded[:-1]])
    candidates = _candidates(np.frombuffer(b"\n\n".join(encoded), dtype=np.uint8), starts).tolist()
    for i, outcome in zip(candidates, parse_candidates([texts[i] for i in candidates])):
        outcomes[i] = outcome
    return outcomes


# Bytes that may belong to a digit: ASCII digits and every byte of a non-ASCII character.
_DIGIT_LIKE = np.array([48 <= c <= 57 or c >= 128 for c in range(256)])


def _candidates(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Rows (starting at byte `starts` of `data`) with a colon whose neighbours may be digits.

    Every row holding a `d:dd` (ASCII or Unicode digits) is among them; a row
    outside certainly holds none. A match across two rows only adds a candidate.
    """
    colons = np.flatnonzero(data[1:-2] == 58) + 1  # a colon with a byte before and two after
    like = _DIGIT_LIKE[data[colons - 1]] & _DIGIT_LIKE[data[colons + 1]] & _DIGIT_LIKE[data[colons + 2]]
    hits = colons[like]
    return np.unique(np.searchsorted(starts, hits, side="right") - 1) if hits.size else hits


def candidate_rows(strings) -> np.ndarray:
    """Indices of the rows of an Arrow string array that may hold a `d:dd` (see `_candidates`)."""
    import pyarrow as pa

    if not (pa.types.is_string(strings.type) or pa.types.is_large_string(strings.type)):
        strings = strings.cast(pa.string())
    if len(strings) == 0:
        return np.zeros(0, dtype=np.int64)
    wide = pa.types.is_large_string(strings.type)
    _, offsets, data = strings.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64 if wide else np.int32)[strings.offset:strings.offset + len(strings) + 1]
    if data is None:  # every value empty or null
        return np.zeros(0, dtype=np.int64)
    data = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]]
    return _candidates(data, (offsets[:-1] - offsets[0]).astype(np.int64))


_NO_TIMESTAMPS = ParseOutcome(None, REJECT_FEW_TIMESTAMP_LINES)


def parse_description(description: object) -> ParseOutcome:
    """The `vidchapters` rules for one description."""
    return parse_batch([description])[0]
