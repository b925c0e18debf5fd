"""What a scraper would have downloaded next to each video: a YouTube-style description and a
yt-dlp-style `<id>.info.json`.

Descriptions vary how chapter lines are written and carry lines that look like
timestamps but are not chapters (a URL with `?t=1:30`, "16:9", a number with
three digits after a colon), so the chapter parser is exercised. Every style
keeps the title exact under the VidChapters rules (the title is the line with
its timestamp cut out, stripped of non-alphanumerics at both ends), so the
manifest, the description and the info.json agree.
"""
from __future__ import annotations

import json
import random
from collections import Counter

from videolang.sample.objects import box_rows
from videolang.sample.plan import VideoPlan

_SMALL_WORDS = {"the", "a", "an", "of", "for", "to", "and", "in", "on", "with"}


def _timestamp(seconds: int, padded: bool) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:02d}:{s:02d}" if padded else f"{m}:{s:02d}"


def chapter_line(style: str, start: int, title: str) -> str:
    """One chapter line of a description in the given style (see `plan.DESCRIPTION_STYLES`)."""
    ts = _timestamp(start, padded=style == "padded_dash")
    return {
        "plain": f"{ts} {title}",  # 0:00 Intro
        "padded_dash": f"{ts} - {title}",  # 00:00 - Intro
        "title_first": f"{title} {ts}",  # Intro 0:00
        "bracketed": f"[{ts}] {title}",  # [0:00] Intro
        "bullet": f"\u2022 {ts} \u2013 {title}",  # • 0:00 – Intro
        "title_dash": f"{title} - {ts}",  # Intro - 0:00
    }[style]


def describe(plan: VideoPlan) -> str:
    """The video's description: a blurb, the chapter list, links, a format note and hashtags."""
    rng = random.Random(f"description:{plan.id}")
    header = rng.choice(["Chapters:", "Timestamps", "\u23f1 Chapters", "In this video:"])
    lines = [f"{plan.title}! Everything step by step, in {len(plan.chapters)} parts.", "", header]
    lines += [chapter_line(plan.description_style, c.start, c.title) for c in plan.chapters]
    lines += [
        "",
        f"Full written guide: https://example.com/{plan.domain}/{plan.id}?t=1:30",  # d:dd inside a URL
        f"Filmed in 16:9 at {plan.fps} fps.",  # a colon between digits, but no d:dd
    ]
    if plan.index % 3 == 0:
        lines.append("Order number 2024:117 for the tools I use.")  # d:dd, rejected: 3 digits after the colon
    lines += ["Music: Morning Walk (royalty free)", "", " ".join(f"#{t.replace(' ', '')}" for t in plan.tags[:4])]
    return "\n".join(lines) + "\n"


def info_json(plan: VideoPlan) -> dict:
    """The yt-dlp `--write-info-json` fields the builder reads, for this video."""
    chapters = [{"start_time": float(c.start), "end_time": float(c.end), "title": c.title} for c in plan.chapters]
    return {
        "id": plan.id,
        "title": plan.title,
        "fulltitle": plan.title,
        "description": describe(plan),
        "duration": plan.duration,
        "duration_string": _timestamp(plan.duration, padded=False),
        "chapters": chapters,
        "language": "en",
        "categories": [plan.category],
        "tags": plan.tags,
        "upload_date": plan.upload_date,
        "channel": plan.channel,
        "channel_id": plan.channel_id,
        "uploader": plan.channel,
        "webpage_url": f"https://www.youtube.com/watch?v={plan.id}",
        "extractor": "youtube",
        "ext": "mp4",
        "width": plan.width,
        "height": plan.height,
        "fps": plan.fps,
        "vcodec": "avc1",
        "acodec": "mp4a.40.2",
    }


def boxes_jsonl(plan: VideoPlan) -> str:
    """The `<id>.boxes.jsonl` text: per second of video, the objects' boxes (xyxy pixels) and labels."""
    return "".join(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n"
                   for row in box_rows(plan.duration, plan.chapters))


def repeated_title_words(titles: list[str]) -> list[str]:
    """Content words that occur in more than one chapter title ("Mixing" in "Mixing the dough" / "Mixing the sauce")."""
    counts = Counter(w for t in titles for w in {w.lower() for w in t.split()} if w not in _SMALL_WORDS)
    return sorted(w for w, n in counts.items() if n > 1)
