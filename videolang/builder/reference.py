"""The published VidChapters chapter rules, written the straightforward way.

This module is the *oracle* and the *baseline*: one regex call per line per rule,
exactly as the rules read (see docs/builder.md, "The vidchapters ruleset"). The
fast parser in `videolang.builder.rulesets` must return the same chapters, the
same titles and the same rejection reason for every description; the tests
check that on hand-written cases and on a large generated corpus, and
`benchmarks/bench_parse.py` measures the speed-up against this module.

Do not optimise this file: its value is that it is obviously the rules.
"""
from __future__ import annotations

import re

from videolang.builder.records import (
    REJECT_FEW_CHAPTERS,
    REJECT_FEW_TIMESTAMP_LINES,
    REJECT_NOT_INCREASING,
    REJECT_ONE_CHAR_TITLES,
    ParseOutcome,
)


def timestamp_lines(description: str) -> list[str]:
    """Lines (split on "\\n" only) that contain d:dd, with http URLs cut out."""
    lines = []
    for line in description.split("\n"):
        if re.search(r"\d{1}:\d{2}", line):
            lines.append(re.sub(r"http\S+", "", line))
    return lines


def find_timestamp(line: str) -> tuple[int, int, int] | None:
    """(seconds, start, end) of the line's timestamp, or None when the line is rejected."""
    if re.search(r"\d{3}:", line) or re.search(r":\d{3}", line) or re.search(r"\d{2}:\d{2}:\d{2}:\d{2}", line):
        return None
    for pattern in (r"\d{2}:\d{2}:\d{2}", r"\d{1}:\d{2}:\d{2}", r"\d{2}:\d{2}", r"\d{1}:\d{2}"):
        match = re.search(pattern, line)
        if match:
            break
    else:
        return None
    parts = match.group().split(":")
    seconds = 0
    for power, part in enumerate(reversed(parts)):
        seconds += int(part) * 60 ** power
    return seconds, match.start(), match.end()


def strip_non_alnum(text: str) -> str:
    """Cut characters that are not alphanumeric (str.isalnum) from both ends."""
    start = 0
    while start < len(text) and not text[start].isalnum():
        start += 1
    end = len(text)
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return text[start:end]


def parse_description(description: object) -> ParseOutcome:
    """Chapters [(seconds, title), ...] or the rejection reason, by the published rules."""
    description = str(description)
    lines = timestamp_lines(description)
    if len(lines) <= 1:
        return ParseOutcome(None, REJECT_FEW_TIMESTAMP_LINES)
    chapters = []
    for line in lines:
        found = find_timestamp(line)
        if found is None:
            continue
        seconds, start, end = found
        title = strip_non_alnum(line[:start] + line[end:])
        if title:
            chapters.append((seconds, title))
    if len(chapters) <= 1:
        return ParseOutcome(None, REJECT_FEW_CHAPTERS)
    if all(len(title) <= 1 for _, title in chapters):
        return ParseOutcome(None, REJECT_ONE_CHAR_TITLES)
    if any(chapters[i][0] >= chapters[i + 1][0] for i in range(len(chapters) - 1)):
        return ParseOutcome(None, REJECT_NOT_INCREASING)
    return ParseOutcome(chapters, None)
