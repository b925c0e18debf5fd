"""Build one dataset: read -> parse (all cores) -> filter -> de-duplicate -> tables, task files, report.

Input is streamed in reader tasks through a bounded process pool, so memory
grows with what is kept (817k videos for VidChapters), never with what is
scanned (92M descriptions). Output layout (docs/DEVELOPING.md, "Built datasets"):
`<out_dir>/videos.parquet`, `chapters.parquet`, extra tables, `report.json`,
`report.md` + plots, `tasks/<task>_<split>.json[l]`.
"""
from __future__ import annotations

import logging
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from videolang.builder.filters import REJECT_DUPLICATE
from videolang.builder.parallel import bounded_map, resolve_workers
from videolang.builder.process import BatchResult, Settings, init_worker, process_task
from videolang.builder.report import build_report, write_report
from videolang.builder.tasks import write_tasks
from videolang.core.failures import FailureLog
from videolang.core.io import atomic_path, ensure_writable_dir

log = logging.getLogger(__name__)

VIDEO_COLUMNS = {
    "video_id": "string", "media_id": "string", "file_stem": "string", "split": "string", "duration": "float64",
    "title": "string", "num_chapters": "int32", "language": "string", "language_confidence": "float64",
    "source_language": "string", "channel_id": "string", "upload_date": "string", "source": "string",
    "video_path": "string",
}
CHAPTER_COLUMNS = {"video_id": "string", "split": "string", "chapter_index": "int32", "start": "float64",
                   "end": "float64", "title": "string"}


@dataclass
class MediaIndex:
    """Finds `<file_stem>.<ext>` in the media folders (listed once, not probed per video)."""

    folders: list[str] = field(default_factory=list)
    extensions: tuple[str, ...] = ("mp4", "mkv", "webm")
    _index: dict[str, str] | None = None

    def lookup(self, stem: str) -> str | None:
        if self._index is None:
            self._index = {}
            for folder in self.folders:
                if not folder or not os.path.isdir(folder):
                    continue
                with os.scandir(folder) as entries:
                    for e in entries:
                        base, dot, ext = e.name.rpartition(".")
                        if dot and ext.lower() in self.extensions and base not in self._index:
                            self._index[base] = str(Path(folder).resolve() / e.name)
        return self._index.get(stem)


def _write_table(path: Path, rows: list[dict], columns: dict[str, str] | None = None) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if columns is not None:
        schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in columns.items()])
        table = pa.Table.from_pylist([{k: r.get(k) for k in columns} for r in rows], schema=schema)
    else:
        table = pa.Table.from_pylist(rows)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return table.num_rows


@dataclass
class DatasetBuilder:
    name: str
    out_dir: str
    settings: Settings
    tasks: tuple[str, ...] = ("dense_captioning", "grounding", "chapter_captioning")
    workers: int | str = "auto"
    max_window_fraction: float = 0.9
    media: MediaIndex = field(default_factory=MediaIndex)
    describe: dict[str, Any] = field(default_factory=dict)

    def build(self) -> dict[str, Any]:
        started = time.time()
        out = ensure_writable_dir(self.out_dir)
        failures = FailureLog(f"build_dataset[{self.name}]")
        rejected: Counter = Counter()
        adjusted: Counter = Counter()
        scanned = 0
        kept: dict[tuple[str, str], dict] = {}
        duplicates: set[tuple[str, str]] = set()
        workers = resolve_workers(self.workers)
        log.info("building %s with %d worker(s) into %s", self.name, workers, out)
        results = bounded_map(process_task, self.settings.reader.tasks(), workers, init_worker, (self.settings,))
        for result in results:
            scanned += result.scanned
            rejected.update(result.rejected)
            adjusted.update(result.adjusted)
            for f in result.failures:
                failures.record(f.item, f.reason, f.path)
            self._collect(result, kept, duplicates, rejected)
        if self.settings.filters.duplicate_ids == "reject_all" and duplicates:
            for key in duplicates:
                del kept[key]
                rejected[REJECT_DUPLICATE] += 1
        return self._write(out, kept, scanned, rejected, adjusted, failures, workers, time.time() - started)

    @staticmethod
    def _collect(result: BatchResult, kept: dict, duplicates: set, rejected: Counter) -> None:
        for video in result.videos:
            key = (video["split"], video["video_id"])
            if key in kept:
                duplicates.add(key)
                rejected[REJECT_DUPLICATE] += 1
                continue
            kept[key] = video

    def _write(self, out: Path, kept: dict, scanned: int, rejected: Counter, adjusted: Counter,
               failures: FailureLog, workers: int, seconds: float) -> dict[str, Any]:
        videos = list(kept.values())
        chapters: list[dict] = []
        extra: dict[str, list[dict]] = {}
        for v in videos:
            chapters.extend(v.pop("_chapters"))
            for table, rows in v.pop("_extra").items():
                extra.setdefault(table, []).extend(rows)
            v["video_path"] = self.media.lookup(v["file_stem"])
        videos.sort(key=lambda v: (v["split"], v["video_id"]))
        tables = {"videos.parquet": _write_table(out / "videos.parquet", videos, VIDEO_COLUMNS),
                  "chapters.parquet": _write_table(out / "chapters.parquet", chapters, CHAPTER_COLUMNS)}
        for table, rows in sorted(extra.items()):
            tables[f"{table}.parquet"] = _write_table(out / f"{table}.parquet", rows)
        splits = sorted({v["split"] for v in videos} | set(self._configured_splits()))
        task_files: dict[str, int] = {}
        for split in splits:
            sv = [v for v in videos if v["split"] == split]
            sc = [c for c in chapters if c["split"] == split]
            se = {t: [r for r in rows if r["split"] == split] for t, rows in extra.items()}
            task_files.update(write_tasks(out, split, sv, sc, se, self.tasks, self.max_window_fraction))
        warnings = self._warnings(videos)
        counts = {"scanned": scanned, "read_failures": len(failures), "kept": len(videos),
                  "rejected": sum(rejected.values()), "chapters": len(chapters)}
        report = build_report(name=self.name, settings=self._settings_summary(workers, seconds), counts=counts,
                              rejected=rejected, adjusted=adjusted, videos=videos, chapters=chapters,
                              failures=failures.as_rows(), warnings=warnings, tables=tables, task_files=task_files)
        write_report(out, report, videos, chapters)
        if failures:
            log.warning(failures.summary())
        log.info("%s: scanned %d, kept %d videos / %d chapters in %.1f s -> %s", self.name, scanned, len(videos),
                 len(chapters), seconds, out)
        return {"dataset": self.name, "out_dir": str(out), **counts, "splits": report["splits"],
                "task_files": sorted(task_files), "failed_inputs": len(failures)}

    def _configured_splits(self) -> list[str]:
        splits = self.settings.splits
        if getattr(self.settings.reader, "fixed_splits", False):
            return []
        names = list(splits.fractions) if splits.method == "hash" else list(splits.files or {})
        return names + [splits.default]

    @staticmethod
    def _warnings(videos: list[dict]) -> list[str]:
        warnings = []
        by_folded = Counter(v["file_stem"].lower() for v in videos)
        clashes = sum(1 for n in by_folded.values() if n > 1)
        if clashes:
            warnings.append(f"{clashes} file stem(s) differ only by letter case: distinct on Linux, but they would "
                            "collide on case-insensitive file systems (macOS, Windows)")
        encoded = sum(1 for v in videos if v["file_stem"] != v["media_id"])
        if encoded:
            warnings.append(f"{encoded} id(s) are not plain ids and are stored under encoded file stems "
                            "(`~` + base32, see videolang.core.ids)")
        return warnings

    def _settings_summary(self, workers: int, seconds: float) -> dict[str, Any]:
        s = self.settings
        return {"ruleset": s.ruleset, "fallback": s.fallback, "filters": asdict(s.filters),
                "language": asdict(s.language), "splits": {"method": s.splits.method, "salt": s.splits.salt,
                                                           "fractions": s.splits.fractions, "default": s.splits.default},
                "tasks": list(self.tasks), "workers": workers, "seconds": round(seconds, 2), **self.describe}
