"""Build one dataset: read -> parse (all cores) -> filter -> de-duplicate -> tables, task files, report.

Input is streamed in reader tasks through a bounded process pool, so memory
grows with what is kept (817k videos for VidChapters), never with what is
scanned (92M descriptions). Output layout (docs/DEVELOPING.md, "Built datasets"):
`<out_dir>/videos.parquet`, `chapters.parquet`, extra tables, `report.json`,
`report.md` + plots, `tasks/<task>_<split>.json[l]`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from videolang.builder.filters import REJECT_DUPLICATE
from videolang.builder.parallel import bounded_map, resolve_workers
from videolang.builder.process import Settings, init_worker, process_task
from videolang.builder.publish import dataset_home, publish, repair, staging_prefix
from videolang.builder.questions import drop_repeated_qids
from videolang.builder.report import build_report, write_report
from videolang.builder.tasks import write_tasks
from videolang.core.failures import FailureLog
from videolang.core.errors import BadInputError, VideolangError
from videolang.core.io import atomic_path, ensure_dir, ensure_writable_dir

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
    """Finds `<file_stem>.<ext>` in the media folders (listed once, not probed per video), else a sub-folder
    named `<file_stem>` (a frame folder: a video shipped as images, e.g. TVQA's `frames_hq/<show>_frames/`)."""

    folders: list[str] = field(default_factory=list)
    extensions: tuple[str, ...] = ("mp4", "mkv", "webm")
    _index: dict[str, str] | None = None

    def lookup(self, stem: str) -> str | None:
        if self._index is None:
            self._index, folders = {}, {}
            for folder in self.folders:
                if not folder or not os.path.isdir(folder):
                    continue
                with os.scandir(folder) as entries:
                    for e in entries:
                        base, dot, ext = e.name.rpartition(".")
                        if e.is_dir():
                            if not e.name.startswith("."):
                                folders.setdefault(e.name, str(Path(folder).resolve() / e.name))
                        elif dot and ext.lower() in self.extensions and base not in self._index:
                            self._index[base] = str(Path(folder).resolve() / e.name)
            for name, path in folders.items():  # a media file of the same stem wins
                self._index.setdefault(name, path)
        return self._index.get(stem)


def _schema(columns: dict[str, str]) -> pa.Schema:
    return pa.schema([(name, getattr(pa, kind)()) for name, kind in columns.items()])


def _write_parquet(path: Path, table: pa.Table) -> int:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return table.num_rows


def _columns(table: pa.Table) -> dict[str, list]:
    return {name: table.column(name).to_pylist() for name in table.column_names}


@dataclass
class KeptStore:
    """Kept videos and chapters as growing columns of plain values (no dict per row: VidChapters'
    817k videos and 6.8M chapters fit in a few GB), de-duplicated on (split, video_id)."""

    videos: dict[str, list] = field(default_factory=lambda: {k: [] for k in VIDEO_COLUMNS if k != "video_path"})
    chapters: dict[str, list] = field(default_factory=lambda: {k: [] for k in CHAPTER_COLUMNS})
    extra: dict[str, list[dict]] = field(default_factory=dict)
    keys: set = field(default_factory=set)
    duplicates: set = field(default_factory=set)

    def add(self, video: dict) -> bool:
        """Append a kept video; False (and remembered) when its (split, id) is already there."""
        key = (video["split"], video["video_id"])
        if key in self.keys:
            self.duplicates.add(key)
            return False
        self.keys.add(key)
        chapters = video.pop("_chapters")
        for table, rows in video.pop("_extra").items():
            self.extra.setdefault(table, []).extend(rows)
        for name, column in self.videos.items():
            column.append(video[name])
        c = self.chapters
        for i, (start, end, title) in enumerate(chapters):
            c["video_id"].append(video["video_id"])
            c["split"].append(video["split"])
            c["chapter_index"].append(i)
            c["start"].append(start)
            c["end"].append(end)
            c["title"].append(title)
        return True

    def tables(self, media: "MediaIndex", drop: set) -> tuple[pa.Table, pa.Table]:
        """(videos, chapters) as Arrow tables sorted by split and id, without the `drop` keys.

        Consumes the columns: the Python lists are released once Arrow holds the data.
        """
        videos = dict(self.videos, video_path=[media.lookup(s) for s in self.videos["file_stem"]])
        vt = pa.table(videos, schema=_schema(VIDEO_COLUMNS))
        ct = pa.table(self.chapters, schema=_schema(CHAPTER_COLUMNS))
        del videos
        for columns in (self.videos, self.chapters):
            for values in columns.values():
                values.clear()
        if drop:
            def keep(t):
                key = pc.binary_join_element_wise(t["split"], t["video_id"], "\x00")
                return t.filter(pc.invert(pc.is_in(key, pa.array([f"{s}\x00{v}" for s, v in drop]))))
            vt, ct = keep(vt), keep(ct)
        vt = vt.sort_by([("split", "ascending"), ("video_id", "ascending")])
        ct = ct.sort_by([("split", "ascending"), ("video_id", "ascending"), ("chapter_index", "ascending")])
        return vt, ct


# Failures listed in the run's summary.json (docs/DEVELOPING.md: the first 1,000; all are counted).
MAX_SUMMARY_FAILURES = 1000


def _dir_mode() -> int:
    """The mode a plain `mkdir` would give (mkdtemp's 0700 would hide the dataset from other users)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


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
        """Build into a staging folder beside `out_dir`, then make it the dataset in one atomic step
        (`videolang.builder.publish`).

        A build that fails, or that would hold no video, raises before anything is published: an
        existing dataset in `out_dir` stays byte for byte as it was, and no new folder is left behind.
        """
        out = dataset_home(Path(self.out_dir))
        created = [p for p in reversed(out.parents) if not p.exists()]
        parent = ensure_dir(out.parent)
        repair(out)
        existed = out.exists()
        if existed and not out.is_dir():
            raise VideolangError("the output path exists and is not a folder", out, "set stage.out_dir=<folder>")
        ensure_writable_dir(parent)
        try:
            staging = Path(tempfile.mkdtemp(prefix=staging_prefix(out.name), dir=parent))
            os.chmod(staging, _dir_mode())
        except OSError as e:
            raise VideolangError(f"cannot create a staging folder beside the output folder: {e.strerror or e}",
                                 parent) from None
        done = False
        try:
            summary = self._build(staging, out, existed)
            publish(staging, out)
            done = True
            return summary
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if not done:
                for folder in reversed(created):  # deepest first; only folders this build created
                    with contextlib.suppress(OSError):
                        folder.rmdir()

    def _build(self, out: Path, final: Path, existed: bool) -> dict[str, Any]:
        started = time.time()
        failures = FailureLog(f"build_dataset[{self.name}]")
        rejected: Counter = Counter()
        adjusted: Counter = Counter()
        scanned = 0
        kept = KeptStore()
        qids: set = set()
        workers = resolve_workers(self.workers)
        log.info("building %s with %d worker(s) into %s", self.name, workers, final)
        results = bounded_map(process_task, self.settings.reader.tasks(), workers, init_worker, (self.settings,))
        for result in results:
            scanned += result.scanned
            rejected.update(result.rejected)
            adjusted.update(result.adjusted)
            for f in result.failures:
                failures.record(f.item, f.reason, f.path)
            for video in result.videos:
                questions = video["_extra"].get("questions")
                if questions is not None and (video["split"], video["video_id"]) not in kept.keys:
                    video["_extra"]["questions"], repeated = drop_repeated_qids(questions, qids, video["source"],
                                                                                adjusted)
                    for f in repeated:
                        failures.record(f.item, f.reason, f.path)
                if not kept.add(video):
                    rejected[REJECT_DUPLICATE] += 1
        drop = set()
        if self.settings.filters.duplicate_ids == "reject_all":
            drop = kept.duplicates
            rejected[REJECT_DUPLICATE] += len(drop)  # the first copies go too
        if len(kept.keys) - len(drop) == 0:
            raise self._nothing_built(final, existed, scanned, rejected, failures)
        return self._write(out, final, kept, drop, scanned, rejected, adjusted, failures, workers,
                           time.time() - started)

    def _nothing_built(self, out: Path, existed: bool, scanned: int, rejected: Counter,
                       failures: FailureLog) -> BadInputError:
        """0 videos is an error, never an empty dataset: name the input and say why nothing was kept."""
        reader = self.settings.reader
        where = getattr(reader, "input_path", None) or str(self.describe.get("input") or self.name)
        listed = "; ".join(f"{f.item}: {f.reason}" for f in failures.failures[:3])
        if len(failures) > 3:
            listed += f"; and {len(failures) - 3} more"
        if scanned == 0 and failures:
            why = f"nothing could be read ({len(failures)} failure(s): {listed})"
        elif scanned == 0:
            why = "the input holds no videos (no data rows, no annotation entries, no files)"
        else:
            reasons = ", ".join(f"{reason} {n}" for reason, n in rejected.most_common(5))
            why = f"none of the {scanned} input video(s) was kept (rejected: {reasons or 'none'})"
            if failures:
                why += f"; {len(failures)} input(s) could not be read ({listed})"
        where_out = (f"the existing dataset in {out} was left as it was" if existed
                     else f"no dataset was written to {out}")
        return BadInputError(f"0 videos built: {why}", where, where_out)

    def _write(self, out: Path, final: Path, kept: KeptStore, drop: set, scanned: int, rejected: Counter,
               adjusted: Counter, failures: FailureLog, workers: int, seconds: float) -> dict[str, Any]:
        video_table, chapter_table = kept.tables(self.media, drop)
        extra = {t: [r for r in rows if (r["split"], r["video_id"]) not in drop] for t, rows in kept.extra.items()}
        kept.extra.clear()
        tables = {"videos.parquet": _write_parquet(out / "videos.parquet", video_table),
                  "chapters.parquet": _write_parquet(out / "chapters.parquet", chapter_table)}
        for table, rows in sorted(extra.items()):
            tables[f"{table}.parquet"] = _write_parquet(out / f"{table}.parquet", pa.Table.from_pylist(rows))
        task_files: dict[str, int] = {}
        present = set(video_table.column("split").unique().to_pylist())
        for split in sorted(present | set(self._configured_splits())):
            sv = _columns(video_table.filter(pc.equal(video_table["split"], split)))
            sc = _columns(chapter_table.filter(pc.equal(chapter_table["split"], split)))
            se = {t: [r for r in rows if r["split"] == split] for t, rows in extra.items()}
            task_files.update(write_tasks(out, split, sv, sc, se, self.tasks, self.max_window_fraction))
        videos = _columns(video_table.select(["split", "num_chapters", "duration", "language", "file_stem",
                                              "media_id"]))
        chapters = _columns(chapter_table.select(["start", "end", "title"]))
        failure_rows = failures.as_rows()
        counts = {"scanned": scanned, "read_failures": len(failures), "kept": video_table.num_rows,
                  "rejected": sum(rejected.values()), "chapters": chapter_table.num_rows}
        report = build_report(name=self.name, settings=self._settings_summary(workers), counts=counts,
                              rejected=rejected, adjusted=adjusted, videos=videos, chapters=chapters,
                              failures=failure_rows, warnings=self._warnings(videos), tables=tables,
                              task_files=task_files)
        write_report(out, report, videos, chapters)
        if failures:
            log.warning(failures.summary())
        log.info("%s: scanned %d, kept %d videos / %d chapters in %.1f s -> %s", self.name, scanned,
                 counts["kept"], counts["chapters"], seconds, final)
        return {"dataset": self.name, "out_dir": str(final), "build_seconds": round(seconds, 2), **counts,
                "splits": report["splits"],
                "task_files": sorted(task_files), "failed_inputs": len(failures),
                "failures": failure_rows[:MAX_SUMMARY_FAILURES]}

    def _configured_splits(self) -> list[str]:
        splits = self.settings.splits
        if getattr(self.settings.reader, "fixed_splits", False):
            return []
        names = list(splits.fractions) if splits.method == "hash" else list(splits.files or {})
        return names + [splits.default]

    @staticmethod
    def _warnings(videos: dict[str, list]) -> list[str]:
        warnings = []
        by_folded = Counter(stem.lower() for stem in set(videos["file_stem"]))
        clashes = sum(1 for n in by_folded.values() if n > 1)
        if clashes:
            warnings.append(f"{clashes} file stem(s) differ only by letter case: distinct on Linux, but they would "
                            "collide on case-insensitive file systems (macOS, Windows)")
        encoded = sum(1 for stem, media in zip(videos["file_stem"], videos["media_id"]) if stem != media)
        if encoded:
            warnings.append(f"{encoded} id(s) are not plain ids and are stored under encoded file stems "
                            "(`~` + base32, see videolang.core.ids)")
        return warnings

    def _settings_summary(self, workers: int) -> dict[str, Any]:
        """What report.json says the build was made with. No build time (it is in the run's summary.json): two
        builds of the same input are byte for byte the same dataset."""
        s = self.settings
        return {"ruleset": s.ruleset, "fallback": s.fallback, "filters": asdict(s.filters),
                "language": asdict(s.language), "splits": {"method": s.splits.method, "salt": s.splits.salt,
                                                           "fractions": s.splits.fractions, "default": s.splits.default},
                "tasks": list(self.tasks), "workers": workers, **self.describe}
