"""What flows through the builder: an input video record, a parse outcome, rejection reasons.

A reader turns any input (yt-dlp info JSON, .description files, a CSV/Parquet
dump, a published annotation file) into `VideoRecord`s. A record either carries
a `description` to parse with a ruleset, or `chapters` that are already known
(yt-dlp's parsed `chapters` field, or a converter's annotations).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from videolang.core.spans import Chapter

# Rejection reasons of the description rulesets (the keys of report.json "rejected").
REJECT_FEW_TIMESTAMP_LINES = "fewer_than_2_timestamp_lines"
REJECT_FEW_CHAPTERS = "fewer_than_2_chapters"
REJECT_ONE_CHAR_TITLES = "all_titles_1_char"
REJECT_NOT_INCREASING = "timestamps_not_increasing"
REJECT_NO_ZERO_START = "first_timestamp_not_0_00"
REJECT_FEW_YOUTUBE = "fewer_than_3_timestamps"
REJECT_YOUTUBE_SHORT = "chapter_shorter_than_10s"
REJECT_NO_CHAPTERS_FIELD = "no_chapters_field"
REJECT_BAD_CHAPTERS_FIELD = "invalid_chapters_field"  # a start_time that is not a finite number >= 0


class ParseOutcome(NamedTuple):
    """`chapters` as [(start_seconds, title), ...] when the video is kept, else the `reason`."""

    chapters: list[tuple[float, str]] | None
    reason: str | None


@dataclass
class VideoRecord:
    """One input video, before parsing and filtering.

    `video_id` is the key of the entry in the built dataset; `media_id` names the
    media file when it differs (ViTT videos annotated several times have entries
    `0_<id>`, `1_<id>` that all point at one video). `split` is set by converters
    whose source fixes the split (YouCook2 `subset`, ActivityNet val_1 / val_2).
    """

    video_id: str
    source: str
    description: str | None = None
    duration: float | None = None
    title: str | None = None
    chapters: list[Chapter] | None = None
    media_id: str | None = None
    split: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # extra tables: {"subtitles": [row, ...], "questions": [...]} (TVQA)
    extra: dict[str, list[dict]] = field(default_factory=dict)
    # a converter that knows a record cannot be used says why (counted like any rejection)
    rejected: str | None = None
