"""Chapter rulesets: a video record -> [(start_seconds, title), ...] or a rejection reason.

- `vidchapters`: the published VidChapters rules, line for line. The fast batch
  parser is `videolang.builder.fastparse`; the oracle and benchmark baseline is
  `videolang.builder.reference`.
- `youtube`: YouTube's own display rules (first chapter at 0:00, at least three
  ascending timestamps, every chapter at least 10 s long).
- `chapters_field`: yt-dlp's parsed `chapters` list when the info JSON has one
  (optionally falling back to a description ruleset when it has none).

A ruleset exposes `parse_batch(records) -> outcomes`, so the corpus-scale path
never loops over descriptions in Python when it does not have to.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from videolang.builder import fastparse
from videolang.builder.records import (
    REJECT_BAD_CHAPTERS_FIELD,
    REJECT_FEW_TIMESTAMP_LINES,
    REJECT_FEW_YOUTUBE,
    REJECT_NO_CHAPTERS_FIELD,
    REJECT_NO_ZERO_START,
    REJECT_NOT_INCREASING,
    REJECT_YOUTUBE_SHORT,
    ParseOutcome,
    VideoRecord,
)
from videolang.builder.fastparse import _ALNUM_SPAN, _HAS_TIMESTAMP, _URL
from videolang.core.errors import ConfigError


# --- YouTube's display rules -------------------------------------------------------------
# A timestamp is a whole token of ASCII digits, [H:]MM:SS or M:SS, not glued to other digits
# or colons ("16:9", "1:2:3:4" and "100:00" are not times; "10:30 pm" is, as on YouTube).
_YT_TIME = re.compile(r"(?<![\d:])(?:(\d{1,2}):)?(\d{1,2}):([0-5]\d)(?![\d:])", re.ASCII)
_YT_RANGE_END = re.compile(r"\s*(?:-|–|—|to)\s*(?:\d{1,2}:)?\d{1,2}:\d{2}(?![\d:])", re.ASCII)
_NON_WORD = re.compile(r"[\W_]+")
YOUTUBE_MIN_CHAPTERS = 3
YOUTUBE_MIN_SECONDS = 10


def _youtube_title(line: str, m: re.Match) -> str:
    """The line around its timestamp: text after it when only a list marker precedes, else before + after."""
    before, after = line[: m.start()], line[m.end():]
    end = _YT_RANGE_END.match(after)  # "0:00 - 1:30 Intro": the range end is not part of the title
    if end:
        after = after[end.end():]
    marker = _NON_WORD.sub("", before)  # only punctuation and a short number ("1.", "#2", "-") before it
    if not marker or (marker.isdigit() and len(marker) <= 3):
        before = ""
    text = f"{before} {after}" if before and after.strip() else before or after
    found = _ALNUM_SPAN.search(text)
    return found.group() if found else ""


def parse_youtube(description: object, duration: float | None = None) -> ParseOutcome:
    """YouTube's rules: the list starts at a 0:00 line, >= 3 ascending times, chapters >= 10 s.

    Lines are split on any line break; the first timestamp of a line counts; lines
    before the first 0:00 line are ignored; list markers ("1.", "#2", "-") before a
    timestamp and a range end after it ("0:00 - 1:30") are not part of the title.
    """
    text = description if type(description) is str else str(description)
    if _HAS_TIMESTAMP.search(text) is None:
        return ParseOutcome(None, REJECT_FEW_TIMESTAMP_LINES)
    if "http" in text:
        text = _URL.sub("", text)
    entries: list[tuple[int, str]] = []
    for line in text.splitlines():
        m = _YT_TIME.search(line)
        if m is None:
            continue
        h, mnt, s = m.groups()
        seconds = int(h or 0) * 3600 + int(mnt) * 60 + int(s)
        if not entries and seconds != 0:
            continue
        entries.append((seconds, _youtube_title(line, m)))
    if not entries:
        return ParseOutcome(None, REJECT_NO_ZERO_START)
    if len(entries) < YOUTUBE_MIN_CHAPTERS:
        return ParseOutcome(None, REJECT_FEW_YOUTUBE)
    starts = [s for s, _ in entries]
    if any(a >= b for a, b in zip(starts, starts[1:])):
        return ParseOutcome(None, REJECT_NOT_INCREASING)
    ends = starts[1:] + ([duration] if duration is not None else [])
    if any(e - s < YOUTUBE_MIN_SECONDS for s, e in zip(starts, ends)):
        return ParseOutcome(None, REJECT_YOUTUBE_SHORT)
    return ParseOutcome(entries, None)


def parse_chapters_field(chapters: Any) -> ParseOutcome:
    """yt-dlp's `chapters` ([{start_time, end_time, title}]) as (start, title) pairs."""
    if not isinstance(chapters, list) or not chapters:
        return ParseOutcome(None, REJECT_NO_CHAPTERS_FIELD)
    out = []
    for ch in chapters:
        start = ch.get("start_time") if isinstance(ch, dict) else None
        if not isinstance(start, (int, float)) or isinstance(start, bool) or not math.isfinite(start) or start < 0:
            return ParseOutcome(None, REJECT_BAD_CHAPTERS_FIELD)
        out.append((float(start), str(ch.get("title") or "").strip()))
    if any(a >= b for (a, _), (b, _) in zip(out, out[1:])):
        return ParseOutcome(None, REJECT_NOT_INCREASING)
    return ParseOutcome(out, None)


RULESETS = ("vidchapters", "youtube", "chapters_field")
BatchParser = Callable[[Sequence[VideoRecord]], list[ParseOutcome]]


def get_ruleset(name: str, fallback: str | None = None) -> BatchParser:
    """records -> outcomes for the named ruleset."""
    if name not in RULESETS:
        raise ConfigError(f"unknown chapter ruleset '{name}' (choose one of {', '.join(RULESETS)})")
    if fallback is not None and fallback not in ("vidchapters", "youtube"):
        raise ConfigError(f"fallback ruleset must be vidchapters or youtube, got '{fallback}'")
    if name == "vidchapters":
        return lambda records: fastparse.parse_batch([r.description or "" for r in records])
    if name == "youtube":
        return lambda records: [parse_youtube(r.description or "", r.duration) for r in records]
    second = get_ruleset(fallback) if fallback else None

    def from_field(records: Sequence[VideoRecord]) -> list[ParseOutcome]:
        outcomes = [parse_chapters_field(r.metadata.get("chapters")) for r in records]
        if second is not None:
            missing = [i for i, o in enumerate(outcomes) if o.chapters is None and records[i].description]
            for i, outcome in zip(missing, second([records[i] for i in missing])):
                outcomes[i] = outcome
        return outcomes

    return from_field
