"""Per-video filters after parsing: each one configurable, each one counted in the report.

A filter either rejects the whole video (the reason is counted under
report.json "rejected") or adjusts its chapters (counted under "adjusted").
Duplicate ids need the whole corpus and live in the builder, not here.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.ids import id_to_filename
from videolang.core.spans import Chapter

# Rejection reasons added by the filters (the rulesets' own are in records.py).
REJECT_MISSING_DURATION = "missing_duration"
REJECT_BAD_ID = "invalid_video_id"
REJECT_UNSAFE_ID = "unsafe_video_id"
REJECT_PAST_DURATION = "timestamp_past_duration"
REJECT_TOO_FEW = "too_few_chapters"
REJECT_TOO_MANY = "too_many_chapters"
REJECT_SHORT_CHAPTER = "chapter_too_short"
REJECT_EMPTY_TITLE = "empty_title"
REJECT_TITLE_SHORT = "title_too_short"
REJECT_TITLE_LONG = "title_too_long"
REJECT_LANGUAGE = "language_not_kept"
REJECT_DUPLICATE = "duplicate_id"


@dataclass(frozen=True)
class FilterConfig:
    """See conf/stage/build_dataset.yaml (`stage.filters`) for what each option means."""

    min_chapters: int = 2
    max_chapters: int | None = None
    min_chapter_seconds: float | None = None
    past_duration: str = "drop"
    min_title_chars: int = 1
    max_title_chars: int | None = None
    empty_titles: str = "drop"
    unsafe_ids: str = "encode"
    duplicate_ids: str = "keep_first"

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any] | None) -> "FilterConfig":
        mapping = dict(mapping or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ConfigError(f"unknown filter option(s) {unknown}; known: {sorted(known)}")
        cfg = cls(**mapping)
        for name, allowed in (("past_duration", ("drop", "reject", "keep")), ("empty_titles", ("drop", "reject")),
                              ("unsafe_ids", ("encode", "reject")), ("duplicate_ids", ("keep_first", "reject_all"))):
            if getattr(cfg, name) not in allowed:
                raise ConfigError(f"filters.{name} must be one of {allowed}, got {getattr(cfg, name)!r}")
        return cfg


def check_id(video_id: Any, policy: str, source: str | None = None) -> tuple[str | None, str | None, str | None]:
    """(id, file stem, None) for a usable id, else (None, None, reason).

    Plain ids (YouTube-style and other simple ones) are their own file stem;
    others (`../x`, `a/b`, spaces, non-ASCII) are encoded by `id_to_filename`
    (never colliding with a plain id) or rejected, by `policy`.
    """
    try:
        text = str(video_id) if isinstance(video_id, int) and not isinstance(video_id, bool) else video_id
        stem = id_to_filename(text)
    except (BadInputError, UnicodeError):  # UnicodeError: a lone surrogate from a JSON escape
        return None, None, REJECT_BAD_ID
    if stem != text and policy == "reject":
        return None, None, REJECT_UNSAFE_ID
    return text, stem, None


def apply_filters(chapters: list[Chapter], duration: float | None, cfg: FilterConfig,
                  adjusted: Counter) -> tuple[list[Chapter] | None, str | None]:
    """Filtered chapters, or (None, reason). Chapter adjustments are counted into `adjusted`."""
    if duration is None or not math.isfinite(duration) or duration <= 0:
        return None, REJECT_MISSING_DURATION
    past = [c for c in chapters if c.start >= duration or c.end > duration]
    if past:
        if cfg.past_duration == "reject":
            return None, REJECT_PAST_DURATION
        if cfg.past_duration == "drop":
            kept = []
            for c in chapters:
                if c.start >= duration:
                    adjusted["chapter_starts_past_duration_dropped"] += 1
                elif c.end > duration:
                    adjusted["chapter_end_clipped_to_duration"] += 1
                    kept.append(Chapter(c.start, duration, c.title))
                else:
                    kept.append(c)
            chapters = kept
        else:
            adjusted["chapters_past_duration_kept"] += len(past)
    empty = [c for c in chapters if not c.title.strip()]
    if empty:
        if cfg.empty_titles == "reject":
            return None, REJECT_EMPTY_TITLE
        adjusted["empty_title_dropped"] += len(empty)
        chapters = [c for c in chapters if c.title.strip()]
    if len(chapters) < cfg.min_chapters:
        return None, REJECT_TOO_FEW
    if cfg.max_chapters is not None and len(chapters) > cfg.max_chapters:
        return None, REJECT_TOO_MANY
    if cfg.min_chapter_seconds is not None and any(c.end - c.start < cfg.min_chapter_seconds for c in chapters):
        return None, REJECT_SHORT_CHAPTER
    if any(len(c.title) < cfg.min_title_chars for c in chapters):
        return None, REJECT_TITLE_SHORT
    if cfg.max_title_chars is not None and any(len(c.title) > cfg.max_title_chars for c in chapters):
        return None, REJECT_TITLE_LONG
    return chapters, None
