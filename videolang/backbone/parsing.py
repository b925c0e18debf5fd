"""Generated sequences -> events, robustly: drop what is malformed and say how much was dropped.

An event is two consecutive time tokens followed by text. Everything else in a
generated sequence is malformed and dropped, counted by reason:

- `no_text`: two time tokens with no text after them;
- `single_time`: one time token followed by text (or a trailing lone time token);
- `stray_text`: text that does not follow a time-token pair (e.g. at the start);
- `extra_time`: a third (or later) time token in a row, the earliest ones are dropped;
- `end_not_after_start`: end bin <= start bin;
- `duplicate_title`: (only with `dedup_titles`) a title already used by an earlier event.

Duplicate titles are the reference model's best-known failure on in-the-wild
videos; `dedup_titles` keeps the first event with a given normalised title.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from videolang.core.time_tokens import TimeTokenCodec

_TIME = re.compile(r"<time_(\d+)>")
_NORM = re.compile(r"[\W_]+", re.UNICODE)


@dataclass
class ParsedEvents:
    """Events kept (start, end, title) and counts of dropped pieces by reason."""

    events: list[tuple[float, float, str]] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)

    @property
    def malformed(self) -> int:
        return sum(self.dropped.values())


def pieces_from_text(text: str, codec: TimeTokenCodec) -> list[int | str]:
    """A decoded string with `<time_K>` tokens -> pieces (bins and text chunks); other tags are text."""
    out: list[int | str] = []
    pos = 0
    for m in _TIME.finditer(text):
        chunk = text[pos:m.start()].strip()
        if chunk:
            out.append(chunk)
        b = codec.parse(m.group(0))
        if b is None:
            out.append(m.group(0))
        else:
            out.append(b)
        pos = m.end()
    tail = text[pos:].strip()
    if tail:
        out.append(tail)
    return out


def normalise_title(title: str) -> str:
    return _NORM.sub(" ", title.casefold()).strip()


def parse_events(pieces: Sequence[int | str] | str, duration: float, codec: TimeTokenCodec,
                 dedup_titles: bool = False) -> ParsedEvents:
    """Turn pieces (or a decoded string) into (start, end, title) events in seconds."""
    if isinstance(pieces, str):
        pieces = pieces_from_text(pieces, codec)
    result = ParsedEvents()
    seen: set[str] = set()
    times: list[int] = []
    for piece in pieces:
        if isinstance(piece, int):
            times.append(piece)
            continue
        text = piece.strip()
        if not text:
            continue
        if not times:
            result.dropped["stray_text"] += 1
            continue
        if len(times) == 1:
            result.dropped["single_time"] += 1
            times = []
            continue
        if len(times) > 2:
            result.dropped["extra_time"] += len(times) - 2
        s, e = times[-2], times[-1]
        times = []
        if e <= s:
            result.dropped["end_not_after_start"] += 1
            continue
        key = normalise_title(text)
        if dedup_titles and key in seen:
            result.dropped["duplicate_title"] += 1
            continue
        seen.add(key)
        result.events.append((codec.to_time(s, duration), codec.to_time(e, duration), text))
    if len(times) >= 2:
        result.dropped["no_text"] += len(times) // 2
        if len(times) % 2:
            result.dropped["single_time"] += 1
    elif len(times) == 1:
        result.dropped["single_time"] += 1
    return result


def repeated_title_rate(titles: Sequence[str]) -> float:
    """Fraction of titles that repeat an earlier title of the same video (0 when all are distinct)."""
    if not titles:
        return 0.0
    keys = [normalise_title(t) for t in titles]
    return 1.0 - len(set(keys)) / len(keys)
