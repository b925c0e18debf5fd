"""The per-batch work of the builder, run in worker processes: records -> table rows + counts."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from videolang.builder.filters import (
    REJECT_LANGUAGE,
    REJECT_MISSING_DURATION,
    FilterConfig,
    apply_filters,
    check_id,
)
from videolang.builder.fastparse import candidate_rows
from videolang.builder.language import detect_language
from videolang.builder.questions import check_times
from videolang.builder.readers import TableRows
from videolang.builder.records import REJECT_FEW_TIMESTAMP_LINES, VideoRecord
from videolang.builder.rulesets import get_ruleset
from videolang.builder.splits import SplitAssigner
from videolang.core.failures import Failure
from videolang.core.io import invalid_unicode
from videolang.core.spans import Chapter, chapters_from_starts


@dataclass
class LanguageConfig:
    detect: bool = True
    restrict_to: list[str] | None = None
    keep: list[str] | None = None
    min_confidence: float = 0.0


@dataclass
class Settings:
    """Everything a worker needs; built once in the main process and sent to each worker."""

    reader: Any
    ruleset: str = "vidchapters"
    fallback: str | None = None
    filters: FilterConfig = field(default_factory=FilterConfig)
    splits: SplitAssigner = field(default_factory=SplitAssigner)
    language: LanguageConfig = field(default_factory=LanguageConfig)


@dataclass
class BatchResult:
    scanned: int = 0
    failures: list[Failure] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    adjusted: Counter = field(default_factory=Counter)
    # kept videos; each row carries its chapters ("_chapters": (start, end, title) tuples) and
    # extra-table rows ("_extra")
    videos: list[dict] = field(default_factory=list)


# Rulesets whose first step rejects a description without d:dd (so rows can be skipped in bulk).
PREFILTERED = ("vidchapters", "youtube")
_SETTINGS: Settings | None = None
_PARSER = None


def init_worker(settings: Settings) -> None:
    global _SETTINGS, _PARSER
    _SETTINGS = settings
    _PARSER = get_ruleset(settings.ruleset, settings.fallback)


def process_task(task: Any) -> BatchResult:
    """Load one reader task and turn its records into rows (the worker entry point)."""
    assert _SETTINGS is not None, "init_worker must run first"
    loaded, failures = _SETTINGS.reader.load(task)
    if isinstance(loaded, TableRows):
        result = process_table(loaded, _SETTINGS, _PARSER)
    else:
        result = process_records(loaded, _SETTINGS, _PARSER)
    result.failures.extend(failures)
    return result


def process_table(rows: TableRows, settings: Settings, parser=None) -> BatchResult:
    """A table batch: rows without a possible `d:dd` are counted in bulk, never made into records.

    Both description rulesets reject such a row first, as `fewer_than_2_timestamp_lines`.
    """
    if settings.ruleset not in PREFILTERED:
        return process_records(rows.records(), settings, parser)
    keep = candidate_rows(rows.descriptions)
    result = process_records(rows.records(keep), settings, parser)
    skipped = len(rows) - len(keep)
    result.scanned += skipped
    if skipped:
        result.rejected[REJECT_FEW_TIMESTAMP_LINES] += skipped
    return result


def _text(value: Any) -> str | None:
    """A metadata string as written to the tables: None for anything else (or for invalid Unicode)."""
    return value if isinstance(value, str) and not invalid_unicode(value) else None


def process_records(records: list[VideoRecord], settings: Settings, parser=None) -> BatchResult:
    parser = parser or get_ruleset(settings.ruleset, settings.fallback)
    out = BatchResult(scanned=len(records))
    to_parse = [r for r in records if r.chapters is None]
    outcomes = iter(parser(to_parse) if to_parse else ())
    lang = settings.language
    for rec in records:
        outcome = next(outcomes) if rec.chapters is None else None
        if outcome is not None and outcome.chapters is None:  # most of a scraped corpus stops here
            out.rejected[outcome.reason] += 1
            continue
        vid, stem, reason = check_id(rec.video_id, settings.filters.unsafe_ids)
        media_id = rec.media_id if rec.media_id is not None else vid
        if reason is None and media_id is not vid:
            media_id, stem, reason = check_id(media_id, settings.filters.unsafe_ids)
        reason = reason or rec.rejected
        if reason is not None:
            out.rejected[reason] += 1
            continue
        if outcome is None:
            chapters: list[Chapter] | None = list(rec.chapters)
        else:
            if rec.duration is None:
                out.rejected[REJECT_MISSING_DURATION] += 1
                continue
            starts = [float(s) for s, _ in outcome.chapters]
            chapters = chapters_from_starts(starts, [t for _, t in outcome.chapters], rec.duration)
        if outcome is None and any(invalid_unicode(c.title) for c in chapters):
            out.failures.append(Failure(str(vid), "video skipped: a chapter title holds invalid Unicode (a lone "
                                        "surrogate escape such as \\ud800)", rec.source))
            continue
        chapters, reason = apply_filters(chapters, rec.duration, settings.filters, out.adjusted)
        if reason is not None:
            out.rejected[reason] += 1
            continue
        language, confidence = None, None
        if lang.detect:
            language, confidence = detect_language([c.title for c in chapters], lang.restrict_to)
            if lang.keep and (language not in lang.keep or confidence < lang.min_confidence):
                out.rejected[REJECT_LANGUAGE] += 1
                continue
        split = rec.split or settings.splits.assign(media_id)
        meta = rec.metadata
        out.videos.append({
            "video_id": vid, "media_id": media_id, "file_stem": stem, "split": split,
            "duration": float(rec.duration), "title": _text(rec.title), "num_chapters": len(chapters),
            "language": language, "language_confidence": confidence,
            "source_language": _text(meta.get("language")), "channel_id": _text(meta.get("channel_id")),
            "upload_date": _text(str(meta["upload_date"])) if meta.get("upload_date") is not None else None,
            "source": rec.source,
        })
        out.videos[-1]["_chapters"] = [(float(c.start), float(c.end), c.title) for c in chapters]
        extra = dict(rec.extra)
        if "questions" in extra:  # the duration is known here: questions outside the video go
            extra["questions"], failed = check_times(extra["questions"], rec.duration, out.adjusted, rec.source)
            out.failures.extend(failed)
        out.videos[-1]["_extra"] = {table: [dict(row, video_id=vid, split=split) for row in rows]
                                    for table, rows in extra.items()}
    return out
