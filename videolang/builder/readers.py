"""Input readers: folders of yt-dlp info JSON or .description files, CSV / Parquet dumps.

Every reader splits its input into small picklable *tasks* in the main process
(`tasks()`, streamed, never the whole corpus at once) and turns one task into
records in a worker (`load(task)`). A file that cannot be read becomes a
`Failure` naming the file; the run goes on.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videolang.builder.converters.srt import read_srt
from videolang.builder.questions import question_from_row
from videolang.builder.records import VideoRecord
from videolang.core.errors import BadInputError
from videolang.core.failures import Failure

LoadResult = tuple[list[VideoRecord], list[Failure]]
INFO_SUFFIX = ".info.json"
DESCRIPTION_SUFFIX = ".description"
METADATA_KEYS = ("language", "channel_id", "upload_date", "categories", "tags", "chapters")


def _require_dir(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise BadInputError(f"{what} folder not found" if not path.exists() else f"{what} path is not a folder", path)
    return path


def _duration(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _chunks(paths: Iterator[Path], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for path in paths:
        chunk.append(str(path))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _scan(folder: Path, suffix: str) -> Iterator[Path]:
    """Files ending in `suffix`, sorted by name (deterministic output, scandir to stream big folders)."""
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(suffix) and not e.name.startswith("."))
    return (folder / n for n in names)


def record_from_info(info: Any, source: str) -> VideoRecord:
    """A record from one yt-dlp info dict (raises BadInputError when it is not one)."""
    if not isinstance(info, dict):
        raise BadInputError(f"expected a JSON object (yt-dlp info dict), got {type(info).__name__}", source)
    if "id" not in info:
        raise BadInputError("info JSON has no 'id'", source)
    description = info.get("description")
    return VideoRecord(
        video_id=info["id"], source=source,
        description=description if isinstance(description, str) else None,
        duration=_duration(info.get("duration")), title=info.get("title") if isinstance(info.get("title"), str) else None,
        metadata={k: info.get(k) for k in METADATA_KEYS if info.get(k) is not None},
    )


@dataclass
class InfoJsonFolder:
    """`<folder>/*.info.json` written by yt-dlp `--write-info-json` (or by our scraper).

    Optional sidecars next to `<stem>.info.json` (the sample corpus writes both):
    `<stem><questions_suffix>` (TVQA-style question rows, JSON Lines) -> the `questions`
    table, and `<stem><subtitles_suffix>` (SubRip) -> the `subtitles` table. A suffix of
    None turns its sidecar off; a missing sidecar is not an error.
    """

    path: str
    batch_size: int = 500
    name: str = "info_json"
    questions_suffix: str | None = ".qa.jsonl"
    subtitles_suffix: str | None = ".srt"

    def tasks(self) -> Iterator[list[str]]:
        return _chunks(_scan(_require_dir(self.path, "info JSON"), INFO_SUFFIX), self.batch_size)

    def load(self, task: list[str]) -> LoadResult:
        records, failures = [], []
        for file in task:
            try:
                with open(file, encoding="utf-8") as f:
                    text = f.read()
                if not text.strip():
                    raise BadInputError("file is empty, expected yt-dlp info JSON", file)
                try:
                    info = json.loads(text)
                except json.JSONDecodeError as e:
                    raise BadInputError(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}", file) from None
                record = record_from_info(info, file)
            except (OSError, UnicodeDecodeError) as e:
                failures.append(Failure(Path(file).name, f"unreadable: {e}", file))
                continue
            except BadInputError as e:
                failures.append(Failure(Path(file).name, e.problem, file))
                continue
            stem = file[: -len(INFO_SUFFIX)]
            questions = (read_questions(Path(stem + self.questions_suffix), record.video_id, failures)
                         if self.questions_suffix else None)
            subtitles = read_subtitles(Path(stem + self.subtitles_suffix), failures) if self.subtitles_suffix else None
            record.extra.update({t: rows for t, rows in (("questions", questions), ("subtitles", subtitles))
                                 if rows is not None})
            records.append(record)
        return records, failures


def read_questions(path: Path, video_id: str, failures: list[Failure]) -> list[dict] | None:
    """A video's question sidecar (None when there is none). A bad line skips its question with a
    Failure naming file:line; the video and its other questions stay."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        failures.append(Failure(path.name, f"questions unreadable: {e}", str(path)))
        return None
    questions = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise BadInputError(f"malformed JSON: {e.msg}", where) from None
            if isinstance(row, dict) and row.get("vid_name") not in (None, video_id):
                raise BadInputError(f"question for another video ({row['vid_name']!r}, not {video_id!r})", where)
            questions.append(question_from_row(row, where, str(path)))
        except BadInputError as e:
            failures.append(Failure(where, f"question skipped: {e.problem}", str(path)))
    return questions


def read_subtitles(path: Path, failures: list[Failure]) -> list[dict] | None:
    """A video's SubRip sidecar as `{index, start, end, text}` rows (None when there is none). An
    unreadable file, or a non-empty one without a single cue, is a Failure; the video stays."""
    if not path.exists():
        return None
    try:
        cues = read_srt(path)
    except BadInputError as e:
        failures.append(Failure(path.name, f"subtitles: {e.problem}", str(path)))
        return None
    if not cues and path.stat().st_size and path.read_bytes().strip():
        failures.append(Failure(path.name, "subtitles: no readable cue (not SubRip?)", str(path)))
        return None
    return cues


@dataclass
class DescriptionFolder:
    """`<folder>/<id>.description` text files (yt-dlp `--write-description`); the id is the file stem.

    Durations come from a sibling `<id>.info.json` when there is one, else from
    an optional `durations` file (JSON {id: seconds} or CSV video_id,duration).
    """

    path: str
    durations: str | None = None
    batch_size: int = 500
    name: str = "descriptions"
    _loaded: dict[str, float] | None = field(default=None, init=False, repr=False)

    def tasks(self) -> Iterator[list[str]]:
        return _chunks(_scan(_require_dir(self.path, "description"), DESCRIPTION_SUFFIX), self.batch_size)

    def _durations(self) -> dict[str, float]:
        """Loaded once per process (workers get the reader, not the table)."""
        if not self.durations:
            return {}
        if self._loaded is None:
            self._loaded = load_durations(self.durations)
        return self._loaded

    def load(self, task: list[str]) -> LoadResult:
        from videolang.core.ids import filename_to_id

        records, failures = [], []
        durations = self._durations()
        for file in task:
            path = Path(file)
            stem = path.name[: -len(DESCRIPTION_SUFFIX)]
            try:
                raw = path.read_bytes()
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                failures.append(Failure(path.name, f"not UTF-8 text: {e.reason} at byte {e.start}", file))
                continue
            except OSError as e:
                failures.append(Failure(path.name, f"unreadable: {e.strerror or e}", file))
                continue
            video_id = filename_to_id(stem)
            duration = durations.get(video_id)
            title = None
            info_path = path.with_name(stem + INFO_SUFFIX)
            metadata: dict[str, Any] = {}
            if info_path.exists():
                try:
                    info = json.loads(info_path.read_text(encoding="utf-8"))
                    duration = _duration(info.get("duration")) or duration
                    title = info.get("title")
                    metadata = {k: info.get(k) for k in METADATA_KEYS if info.get(k) is not None}
                except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as e:
                    failures.append(Failure(info_path.name, f"sibling info JSON unreadable: {e}", str(info_path)))
            records.append(VideoRecord(video_id=video_id, source=file, description=text, duration=duration,
                                       title=title, metadata=metadata))
        return records, failures


def load_durations(path: str | Path) -> dict[str, float]:
    """{video_id: seconds} from a JSON object or a CSV/Parquet table with video_id, duration."""
    path = Path(path)
    if path.suffix == ".json":
        from videolang.core.io import read_json

        data = read_json(path)
        if not isinstance(data, dict):
            raise BadInputError("durations JSON must be an object {video_id: seconds}", path)
        return {str(k): d for k, v in data.items() if (d := _duration(v)) is not None}
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path, columns=["video_id", "duration"])
        else:
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types={"video_id": pa.string()}, include_columns=["video_id", "duration"]))
    except (OSError, pa.ArrowException) as e:
        raise BadInputError(f"cannot read durations table (needs columns video_id, duration): {e}", path) from None
    return {str(v): d for v, t in zip(table.column("video_id").to_pylist(), table.column("duration").to_pylist())
            if (d := _duration(t)) is not None}


@dataclass
class TableReader:
    """CSV or Parquet tables `video_id, description[, duration]` (the VidChapters dump format).

    `path` is a file or a folder of *.csv / *.csv.gz / *.parquet shards. Tables are
    read in Arrow record batches of `batch_size` rows, so memory stays bounded
    however long the table is. `columns` renames input columns to ours.
    """

    path: str
    batch_size: int = 5000
    columns: dict[str, str] | None = None
    name: str = "table"

    def _files(self) -> list[Path]:
        path = Path(self.path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.name.endswith((".csv", ".csv.gz", ".parquet", ".tsv")))
            if not files:
                raise BadInputError("no .csv, .csv.gz, .tsv or .parquet files in folder", path)
            return files
        if not path.exists():
            raise BadInputError("table not found", path)
        return [path]

    def _mapping(self) -> dict[str, str]:
        base = {"video_id": "video_id", "description": "description", "duration": "duration"}
        base.update(dict(self.columns or {}))
        return base

    def tasks(self) -> Iterator[Any]:
        """Arrow record batches (with a `__source__` note), one file after another."""
        for file in self._files():
            try:
                for batch in self._batches(file):
                    yield (str(file), batch)
            except BadInputError:
                raise
            except Exception as e:  # noqa: BLE001 - Arrow raises many types for one broken file
                yield (str(file), Failure(file.name, f"unreadable table: {str(e).splitlines()[0]}", str(file)))

    def _batches(self, file: Path) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        mapping = self._mapping()
        wanted = {ours: theirs for ours, theirs in mapping.items()}
        if file.name.endswith(".parquet"):
            pf = pq.ParquetFile(file, pre_buffer=False, buffer_size=1 << 20)  # stream: bounded memory
            names = pf.schema_arrow.names
            self._check_columns(names, wanted, file)
            cols = [c for c in wanted.values() if c in names]
            iterator = pf.iter_batches(batch_size=self.batch_size, columns=cols)
        else:
            delimiter = "\t" if file.name.endswith(".tsv") else ","
            # Read every column as text: ids like "0123" or "1e10" must not become numbers.
            reader = pacsv.open_csv(
                file,
                read_options=pacsv.ReadOptions(block_size=1 << 22),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(column_types={wanted["video_id"]: pa.string(),
                                                                   wanted["description"]: pa.string()}),
            )
            self._check_columns(reader.schema.names, wanted, file)
            iterator = reader
        for batch in iterator:
            yield batch

    @staticmethod
    def _check_columns(names: list[str], wanted: dict[str, str], file: Path) -> None:
        missing = [theirs for ours, theirs in wanted.items() if ours != "duration" and theirs not in names]
        if missing:
            raise BadInputError(f"table has no column(s) {missing}; it has {names} "
                                "(map them with columns: {video_id: ..., description: ...})", file)

    def load(self, task: Any) -> tuple[TableRows | list, list[Failure]]:
        source, batch = task
        if isinstance(batch, Failure):
            return [], [batch]
        mapping = self._mapping()
        names = batch.schema.names
        ours = [k for k in ("video_id", "description", "duration") if mapping[k] in names]
        return TableRows(source, batch.select([mapping[k] for k in ours]).rename_columns(ours)), []


@dataclass
class TableRows:
    """One table batch not yet turned into records, so the builder can skip, in bulk, rows that
    cannot hold chapters (`videolang.builder.fastparse.candidate_rows`) before any per-row work."""

    source: str
    batch: Any  # pyarrow.RecordBatch with columns video_id, description[, duration]

    def __len__(self) -> int:
        return self.batch.num_rows

    @property
    def descriptions(self) -> Any:
        return self.batch.column("description")

    def records(self, rows: Any = None) -> list[VideoRecord]:
        batch = self.batch if rows is None else self.batch.take(rows)
        ids = batch.column("video_id").to_pylist()
        descriptions = batch.column("description").to_pylist()
        durations = (batch.column("duration").to_pylist() if "duration" in batch.schema.names
                     else [None] * len(ids))
        return [VideoRecord(video_id=v, source=self.source, description=d, duration=_duration(t))
                for v, d, t in zip(ids, descriptions, durations)]
