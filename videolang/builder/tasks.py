"""Task files derived from a built dataset's tables (formats in docs/formats.md).

- dense captioning: `{vid: {"duration", "timestamps": [[s, e], ...], "sentences": [...]}}`
  (the ActivityNet Captions / PDVC / VidChapters layout);
- grounding: JSON Lines `{"qid", "query", "vid", "duration", "relevant_windows": [[s, e]]}`,
  one chapter title per line, windows covering >= `max_window_fraction` of the video dropped
  (VidChapters uses 0.9);
- chapter captioning with given boundaries: `{"<vid>#<i>": {"vid", "duration", "segment", "sentence", "chapter_index"}}`;
- video QA (TVQA): JSON Lines, one question per line.
Entries are sorted by video id and chapter index, so files are reproducible.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from videolang.core.io import atomic_path, ensure_dir

TASKS = ("dense_captioning", "grounding", "chapter_captioning", "videoqa")


def _round(x: float) -> float:
    """Times in task files: seconds, rounded to the millisecond (ints stay ints in JSON readers)."""
    return round(float(x), 3)


def _grouped(videos: list[dict], chapters: list[dict]) -> Iterator[tuple[dict, list[dict]]]:
    by_video: dict[str, list[dict]] = {}
    for ch in chapters:
        by_video.setdefault(ch["video_id"], []).append(ch)
    for video in sorted(videos, key=lambda v: v["video_id"]):
        yield video, sorted(by_video.get(video["video_id"], []), key=lambda c: c["chapter_index"])


def _write_json_object(path: Path, items: Iterable[tuple[str, object]]) -> int:
    """Stream a JSON object {key: value} to `path` atomically; returns the number of keys."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write("{")
        for key, value in items:
            f.write(("," if count else "") + "\n" + json.dumps(key, ensure_ascii=False) + ": "
                    + json.dumps(value, ensure_ascii=False, allow_nan=False))
            count += 1
        f.write("\n}\n" if count else "}\n")
    return count


def _write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
            count += 1
    return count


def dense_captioning(videos: list[dict], chapters: list[dict]) -> Iterator[tuple[str, dict]]:
    for video, chs in _grouped(videos, chapters):
        if chs:
            yield video["video_id"], {"duration": _round(video["duration"]),
                                      "timestamps": [[_round(c["start"]), _round(c["end"])] for c in chs],
                                      "sentences": [c["title"] for c in chs]}


def grounding(videos: list[dict], chapters: list[dict], max_window_fraction: float = 0.9) -> Iterator[dict]:
    for video, chs in _grouped(videos, chapters):
        duration = float(video["duration"])
        for c in chs:
            if c["end"] - c["start"] >= max_window_fraction * duration:
                continue
            yield {"qid": f"{video['video_id']}#{c['chapter_index']}", "query": c["title"], "vid": video["video_id"],
                   "duration": _round(duration), "relevant_windows": [[_round(c["start"]), _round(c["end"])]]}


def chapter_captioning(videos: list[dict], chapters: list[dict]) -> Iterator[tuple[str, dict]]:
    for video, chs in _grouped(videos, chapters):
        for c in chs:
            yield f"{video['video_id']}#{c['chapter_index']}", {
                "vid": video["video_id"], "duration": _round(video["duration"]), "chapter_index": c["chapter_index"],
                "segment": [_round(c["start"]), _round(c["end"])], "sentence": c["title"]}


def videoqa(questions: list[dict]) -> Iterator[dict]:
    keys = ("qid", "vid", "question", "answers", "answer_idx", "ts", "show_name")
    for q in sorted(questions, key=lambda q: (q["video_id"], str(q["qid"]))):
        yield {k: (q["video_id"] if k == "vid" else q.get(k)) for k in keys}


def write_tasks(out_dir: Path, split: str, videos: list[dict], chapters: list[dict], extra: dict[str, list[dict]],
                tasks: Iterable[str], max_window_fraction: float = 0.9) -> dict[str, int]:
    """Write the chosen task files of one split into `out_dir/tasks/`; returns {file name: entries}."""
    folder = ensure_dir(out_dir / "tasks")
    written = {}
    for task in tasks:
        if task == "dense_captioning":
            name = f"dense_captioning_{split}.json"
            written[name] = _write_json_object(folder / name, dense_captioning(videos, chapters))
        elif task == "grounding":
            name = f"grounding_{split}.jsonl"
            written[name] = _write_jsonl(folder / name, grounding(videos, chapters, max_window_fraction))
        elif task == "chapter_captioning":
            name = f"chapter_captioning_{split}.json"
            written[name] = _write_json_object(folder / name, chapter_captioning(videos, chapters))
        elif task == "videoqa":
            name = f"videoqa_{split}.jsonl"
            written[name] = _write_jsonl(folder / name, videoqa(extra.get("questions", [])))
    return written
