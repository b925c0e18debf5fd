"""Task files derived from a built dataset's tables (formats in docs/formats.md).

- dense captioning: `{vid: {"duration", "timestamps": [[s, e], ...], "sentences": [...]}}`
  (the ActivityNet Captions / PDVC / VidChapters layout);
- grounding: JSON Lines `{"qid", "query", "vid", "duration", "relevant_windows": [[s, e]]}`,
  one chapter title per line, windows covering >= `max_window_fraction` of the video dropped
  (VidChapters uses 0.9);
- chapter captioning with given boundaries: `{"<vid>#<i>": {"vid", "duration", "segment", "sentence", "chapter_index"}}`;
- video QA (TVQA, the sample corpus): JSON Lines, one question per line.
Entries follow the tables' order (video id, chapter index), so files are reproducible. The
tables come in as columns (lists of values), which at VidChapters scale take a fraction of the
memory of one dict per row.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from videolang.core.errors import ConfigError
from videolang.core.io import atomic_path, ensure_dir

TASKS = ("dense_captioning", "grounding", "chapter_captioning", "videoqa", "pretrain")


def task_file_names(tasks: Any, key: str = "stage.tasks") -> tuple[str, ...]:
    """The task file names of a `tasks` setting (a list, or one name), each one the builder knows; anything
    else is a ConfigError naming `key` (`stage=build_dataset` and `stage=train` refuse the same values)."""
    tasks = [tasks] if isinstance(tasks, str) else tasks
    if tasks is None or isinstance(tasks, (str, bytes)) or not isinstance(tasks, Sequence):
        raise ConfigError(f"{key} must be a list of task files, e.g. {key}=[dense_captioning,grounding]; "
                          f"got {tasks!r}")
    unknown = [str(t) for t in tasks if str(t) not in TASKS]
    if unknown:
        raise ConfigError(f"unknown task file(s) {unknown} in {key}; it takes {list(TASKS)}")
    return tuple(str(t) for t in tasks)


def _round(x: float) -> float:
    """Times in task files: seconds, rounded to the millisecond (ints stay ints in JSON readers)."""
    return round(float(x), 3)


Columns = dict[str, list]


def _grouped(videos: Columns, chapters: Columns) -> Iterator[tuple[str, float, list[tuple[int, float, float, str]]]]:
    """(video_id, duration, [(index, start, end, title)]) per video; both tables sorted by video id."""
    cv, ci, cs, ce, ct = (chapters[k] for k in ("video_id", "chapter_index", "start", "end", "title"))
    j, n = 0, len(cv)
    for vid, duration in zip(videos["video_id"], videos["duration"]):
        chs = []
        while j < n and cv[j] == vid:
            chs.append((ci[j], cs[j], ce[j], ct[j]))
            j += 1
        yield vid, duration, chs


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


def dense_captioning(videos: Columns, chapters: Columns) -> Iterator[tuple[str, dict]]:
    for vid, duration, chs in _grouped(videos, chapters):
        if chs:
            yield vid, {"duration": _round(duration), "timestamps": [[_round(s), _round(e)] for _, s, e, _ in chs],
                        "sentences": [t for _, _, _, t in chs]}


def grounding(videos: Columns, chapters: Columns, max_window_fraction: float = 0.9) -> Iterator[dict]:
    for vid, duration, chs in _grouped(videos, chapters):
        for i, s, e, t in chs:
            if e - s >= max_window_fraction * duration:
                continue
            yield {"qid": f"{vid}#{i}", "query": t, "vid": vid, "duration": _round(duration),
                   "relevant_windows": [[_round(s), _round(e)]]}


def chapter_captioning(videos: Columns, chapters: Columns) -> Iterator[tuple[str, dict]]:
    for vid, duration, chs in _grouped(videos, chapters):
        for i, s, e, t in chs:
            yield f"{vid}#{i}", {"vid": vid, "duration": _round(duration), "chapter_index": i,
                                 "segment": [_round(s), _round(e)], "sentence": t}


def videoqa(questions: list[dict]) -> Iterator[dict]:
    """`{qid, vid, question, answers, answer_idx, ts[, show_name][, category]}` per question.

    `show_name` and `category` are left out when unknown: the evaluator takes the first
    category field a reference row has, so an empty `show_name` must not hide `category`.
    """
    keys = ("qid", "vid", "question", "answers", "answer_idx", "ts")
    for q in sorted(questions, key=lambda q: (q["video_id"], str(q["qid"]))):
        row = {k: (q["video_id"] if k == "vid" else q.get(k)) for k in keys}
        row.update({k: q[k] for k in ("show_name", "category") if q.get(k) is not None})
        yield row


def pretrain(videos: Columns) -> Iterator[dict]:
    for vid, duration in zip(videos["video_id"], videos["duration"]):
        if duration:
            yield {"vid": vid, "duration": _round(duration)}


def write_tasks(out_dir: Path, split: str, videos: Columns, chapters: Columns, extra: dict[str, list[dict]],
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
        elif task == "pretrain":
            name = f"pretrain_{split}.jsonl"
            written[name] = _write_jsonl(folder / name, pretrain(videos))
    return written
