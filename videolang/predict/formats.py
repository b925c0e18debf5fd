"""Chapter exports: JSON, YouTube description lines (`0:00 Title`) and a WebVTT chapters track."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from videolang.core.io import atomic_write_json, atomic_write_text
from videolang.core.timefmt import format_timestamp, format_webvtt_time


def youtube_lines(chapters: list[dict[str, Any]]) -> str:
    """One `M:SS Title` line per chapter (H:MM:SS from one hour on), the first at 0:00."""
    hours = any(c["start"] >= 3600 for c in chapters)
    return "".join(f"{format_timestamp(c['start'], force_hours=hours)} {c['title']}\n" for c in chapters)


def webvtt_chapters(chapters: list[dict[str, Any]]) -> str:
    """A WebVTT track of kind "chapters": one cue per chapter."""
    cues = [f"{i}\n{format_webvtt_time(c['start'])} --> {format_webvtt_time(c['end'])}\n{c['title']}\n"
            for i, c in enumerate(chapters, start=1)]
    return "WEBVTT\n\n" + "\n".join(cues)


def write_chapter_files(prediction: Any, out_dir: str | Path, stem: str) -> dict[str, str]:
    """`<stem>.chapters.json`, `<stem>.youtube.txt`, `<stem>.chapters.vtt` in `out_dir`."""
    out_dir = Path(out_dir)
    chapters = prediction.chapters
    return {
        "json": str(atomic_write_json(out_dir / f"{stem}.chapters.json", prediction.to_json())),
        "youtube": str(atomic_write_text(out_dir / f"{stem}.youtube.txt", youtube_lines(chapters))),
        "webvtt": str(atomic_write_text(out_dir / f"{stem}.chapters.vtt", webvtt_chapters(chapters))),
    }
