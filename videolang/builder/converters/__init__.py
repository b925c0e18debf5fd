"""Published annotation sets -> the unified records (and so the same tables and task files).

Each converter is one module with one reader class, selected by `conf/data/<name>.yaml`:
YouCook2 (original annotations and the PDVC-style file), ViTT, ActivityNet Captions
(train / val_1 / val_2) and TVQA (QA JSON Lines + .srt subtitles). A converter reads its
small annotation files in the main process and hands records to the builder in chunks;
the split comes from the source, never from the hash.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from videolang.builder.records import VideoRecord
from videolang.core.errors import BadInputError
from videolang.core.failures import Failure


class AnnotationReader:
    """Base of the converters: subclasses implement `records()`."""

    fixed_splits = True
    batch_size = 500

    @property
    def input_path(self) -> str | None:
        """The annotation file(s), for messages (None: the dataset's `describe.input`)."""
        return None

    def records(self) -> tuple[list[VideoRecord], list[Failure]]:
        raise NotImplementedError

    def tasks(self) -> Iterator[tuple[list[VideoRecord], list[Failure]]]:
        records, failures = self.records()
        if failures:
            yield [], failures
        for i in range(0, len(records), self.batch_size):
            yield records[i:i + self.batch_size], []

    def load(self, task: tuple[list[VideoRecord], list[Failure]]) -> tuple[list[VideoRecord], list[Failure]]:
        return task


def number(value: Any, what: str, source: str) -> float:
    """A finite float, or BadInputError naming the file and the field."""
    if isinstance(value, bool):
        raise BadInputError(f"{what} is not a number: {value!r}", source)
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        raise BadInputError(f"{what} is not a number: {value!r}", source) from None
    if not math.isfinite(out):
        raise BadInputError(f"{what} is not finite: {value!r}", source)
    return out


def segment(start: Any, end: Any, what: str, source: str) -> tuple[float, float]:
    """(start, end) of one annotated segment: finite, start >= 0, end >= start; else BadInputError."""
    s, e = number(start, f"{what} start", source), number(end, f"{what} end", source)
    if s < 0:
        raise BadInputError(f"{what} starts before 0: [{start!r}, {end!r}]", source)
    if e < s:
        raise BadInputError(f"{what} ends before it starts: [{start!r}, {end!r}]", source)
    return s, e


def duration_of(value: Any, source: str) -> float | None:
    """A published duration: None when absent; not a number / not finite: BadInputError. Zero or negative
    durations pass through and are counted as `missing_duration` by the filters."""
    return None if value is None else number(value, "duration", source)


def strip_prefix(video_id: str, prefix: str | None) -> str:
    return video_id[len(prefix):] if prefix and video_id.startswith(prefix) else video_id
