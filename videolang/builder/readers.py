"""Input readers: folders of yt-dlp info JSON or .description files, CSV / Parquet dumps.

Every reader splits its input into small picklable *tasks* in the main process
(`tasks()`, streamed, never the whole corpus at once) and turns one task into
records in a worker (`load(task)`). A file that cannot be read becomes a
`Failure` naming the file, a table row that cannot be read a `Failure` naming
`file:line`; the run goes on. Text is read through `videolang.core.io`:
UTF-8, UTF-8 with BOM, UTF-16 and UTF-32 are detected, anything else is refused
with the line and byte at fault.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videolang.builder.questions import question_from_row
from videolang.builder.records import VideoRecord
from videolang.builder.srt import read_srt
from videolang.core.errors import BadInputError
from videolang.core.failures import Failure
from videolang.core.ids import filename_to_id
from videolang.core.io import (
    check_regular_file,
    describe_encoding,
    head_bytes,
    invalid_unicode,
    json_kind,
    json_lines,
    read_json,
    read_text,
    sniff_encoding,
    special_file_kind,
)

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
        raise BadInputError(f"expected a JSON object (yt-dlp info dict), got a JSON {json_kind(info)}", source)
    if "id" not in info:
        raise BadInputError("info JSON has no 'id'", source)
    description = info.get("description")
    title = info.get("title")
    chapters = info.get("chapters")
    texts = {"id": info["id"], "description": description, "title": title}
    if isinstance(chapters, list):
        texts.update({f"chapters[{i}].title": c.get("title") for i, c in enumerate(chapters) if isinstance(c, dict)})
    bad = [k for k, v in texts.items() if invalid_unicode(v)]
    if bad:
        raise BadInputError(f"invalid Unicode (a lone surrogate escape such as \\ud800) in {', '.join(bad)}", source)
    return VideoRecord(
        video_id=info["id"], source=source,
        description=description if isinstance(description, str) else None,
        duration=_duration(info.get("duration")), title=title if isinstance(title, str) else None,
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

    @property
    def input_path(self) -> str:
        return str(self.path)

    def tasks(self) -> Iterator[list[str]]:
        return _chunks(_scan(_require_dir(self.path, "info JSON"), INFO_SUFFIX), self.batch_size)

    def load(self, task: list[str]) -> LoadResult:
        records, failures = [], []
        for file in task:
            try:
                info = read_json(file, what="info JSON", expected="yt-dlp info JSON")
                record = record_from_info(info, file)
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
    if not path.exists():
        return None
    questions = []
    try:
        for n, row, problem in json_lines(path, "questions"):
            where = f"{path.name}:{n}"
            try:
                if problem is not None:
                    raise BadInputError(problem, where)
                if isinstance(row, dict) and row.get("vid_name") not in (None, video_id):
                    raise BadInputError(f"question for another video ({row['vid_name']!r}, not {video_id!r})", where)
                questions.append(question_from_row(row, where, str(path)))
            except BadInputError as e:
                failures.append(Failure(where, f"question skipped: {e.problem}", str(path)))
    except BadInputError as e:
        failures.append(Failure(path.name, f"questions unreadable: {e.problem}", str(path)))
        return None
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

    @property
    def input_path(self) -> str:
        return str(self.path)

    def tasks(self) -> Iterator[list[str]]:
        folder = _require_dir(self.path, "description")
        self._durations()  # a bad durations file stops the build before any work, naming it
        return _chunks(_scan(folder, DESCRIPTION_SUFFIX), self.batch_size)

    def _durations(self) -> dict[str, float]:
        """Loaded once per process (workers get the reader, not the table)."""
        if not self.durations:
            return {}
        if self._loaded is None:
            self._loaded = load_durations(self.durations)
        return self._loaded

    def load(self, task: list[str]) -> LoadResult:
        records, failures = [], []
        durations = self._durations()
        for file in task:
            path = Path(file)
            stem = path.name[: -len(DESCRIPTION_SUFFIX)]
            try:
                video_id = _id_of_stem(stem)
                text = read_text(path, "description")  # strict decoding: never a lone surrogate
            except BadInputError as e:
                failures.append(Failure(path.name, e.problem, file))
                continue
            duration = durations.get(video_id)
            title = None
            info_path = path.with_name(stem + INFO_SUFFIX)
            metadata: dict[str, Any] = {}
            if info_path.exists():
                try:
                    info = read_json(info_path, what="info JSON", expected="yt-dlp info JSON")
                    if not isinstance(info, dict):
                        raise BadInputError(f"expected a JSON object, got a JSON {json_kind(info)}", info_path)
                    duration = _duration(info.get("duration")) or duration
                    title = info.get("title") if isinstance(info.get("title"), str) else None
                    metadata = {k: info.get(k) for k in METADATA_KEYS if info.get(k) is not None}
                except BadInputError as e:
                    failures.append(Failure(info_path.name, f"sibling info JSON unreadable: {e.problem}",
                                            str(info_path)))
            records.append(VideoRecord(video_id=video_id, source=file, description=text, duration=duration,
                                       title=title, metadata=metadata))
        return records, failures


def _id_of_stem(stem: str) -> str:
    """The video id a file stem stands for (`~base32` stems decoded); BadInputError when it stands for none."""
    try:
        return filename_to_id(stem)
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        raise BadInputError(f"file name {stem!r} starts with '~' but is not an encoded video id "
                            "(videolang.core.ids.id_to_filename)") from None


def load_durations(path: str | Path) -> dict[str, float]:
    """{video_id: seconds} from a JSON object or a CSV/Parquet table with video_id, duration."""
    path = Path(path)
    if path.is_dir():
        raise BadInputError("durations file is a folder, expected a JSON or CSV file", path)
    check_regular_file(path, "durations file")
    if path.suffix == ".json":
        data = read_json(path, what="durations file", expected="a JSON object {video_id: seconds}")
        if not isinstance(data, dict):
            raise BadInputError(f"durations JSON must be an object {{video_id: seconds}}, got a JSON {json_kind(data)}",
                                path)
        return {str(k): d for k, v in data.items() if (d := _duration(v)) is not None}
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path, columns=["video_id", "duration"])
        else:
            encoding = sniff_encoding(head_bytes(path))
            table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding=_arrow_encoding(encoding)),
                                   convert_options=pacsv.ConvertOptions(
                                       column_types={"video_id": pa.string(), "duration": pa.string()},
                                       include_columns=["video_id", "duration"]))
    except (OSError, ValueError, pa.ArrowException) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BadInputError(f"cannot read durations table (needs columns video_id, duration): {reason}",
                            path) from None
    return {str(v): d for v, t in zip(table.column("video_id").to_pylist(), table.column("duration").to_pylist())
            if (d := _duration(t)) is not None}


def _arrow_encoding(encoding: str | None) -> str:
    """Arrow's CSV reader reads UTF-8 and skips a UTF-8 BOM itself; UTF-16/32 are transcoded."""
    return "utf8" if encoding in (None, "utf-8-sig") else encoding


# At most this many skipped rows of one table file are listed one by one (file:line); the rest are
# counted in one more failure, so a wholly mis-encoded 10-million-row dump cannot flood the report.
MAX_LISTED_ROWS = 1000


@dataclass
class _RowBook:
    """The rows of one table file that were skipped, for failures with line numbers at the end of the file."""

    file: Path
    delimiter: str = ","
    encoding: str | None = None
    parquet: bool = False
    rows_seen: int = 0  # rows handed over by Arrow so far (rows of the wrong width are not among them)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (row index among rows_seen, reason)
    bad_total: int = 0
    malformed: list[tuple[int, int]] = field(default_factory=list)  # (fields, expected) per malformed row
    malformed_total: int = 0

    def invalid_row(self, row: Any) -> str:
        """Arrow's `invalid_row_handler`: a row with the wrong number of fields is skipped and noted."""
        self.malformed_total += 1
        if len(self.malformed) < MAX_LISTED_ROWS:
            self.malformed.append((row.actual_columns, row.expected_columns))
        return "skip"

    def skip(self, index: int, reason: str) -> None:
        self.bad_total += 1
        if len(self.bad) < MAX_LISTED_ROWS:
            self.bad.append((index, reason))

    def failures(self) -> list[Failure]:
        if not self.bad_total and not self.malformed_total:
            return []
        name, source = self.file.name, str(self.file)
        if self.parquet:
            out = [Failure(f"{name}:row {i + 1}", f"row {i + 1} skipped: {reason}", source) for i, reason in self.bad]
        else:
            lines, malformed_lines = _csv_record_lines(self.file, self.encoding, self.delimiter,
                                                       {i for i, _ in self.bad}, len(self.malformed))
            out = []
            for i, reason in self.bad:
                where = f"line {lines[i]}" if i in lines else f"data row {i + 1}"
                out.append(Failure(f"{name}:{lines.get(i, f'row {i + 1}')}", f"{where}: row skipped: {reason}", source))
            for k, (got, expected) in enumerate(self.malformed):
                line = malformed_lines[k] if k < len(malformed_lines) else None
                out.append(Failure(f"{name}:{line if line else '?'}",
                                   f"line {line if line else '?'}: row skipped: {got} field(s), the header has "
                                   f"{expected} (an unquoted delimiter, a stray quote or a cut-off last row?)", source))
        out.sort(key=lambda f: int(f.item.rsplit(":", 1)[1]) if f.item.rsplit(":", 1)[1].isdigit() else 1 << 62)
        more = (self.bad_total - len(self.bad)) + (self.malformed_total - len(self.malformed))
        if more:
            out.append(Failure(name, f"{more} more row(s) skipped for the same kinds of reasons (only the first "
                                     f"{MAX_LISTED_ROWS} are listed)", source))
        return out


def _csv_record_lines(file: Path, encoding: str | None, delimiter: str, wanted: set[int],
                      n_malformed: int) -> tuple[dict[int, int], list[int]]:
    """First line of the well-formed data rows `wanted` (indices among well-formed rows) and of the
    first `n_malformed` rows of the wrong width, by a second pass with Python's csv module (only
    run when a file had rows to skip; Arrow's reader does not know line numbers of quoted text)."""
    import csv
    import gzip

    text_encoding = "latin-1" if encoding in (None, "utf-8-sig") else encoding  # latin-1: bytes 1:1
    opener = gzip.open if file.name.endswith(".gz") else open
    found: dict[int, int] = {}
    malformed: list[int] = []
    last = max(wanted) if wanted else -1
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        with opener(file, "rt", encoding=text_encoding, errors="replace", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            expected, index, previous = None, 0, 0
            for record in reader:
                start, previous = previous + 1, reader.line_num
                if not record:
                    continue
                if expected is None:
                    expected = len(record)
                elif len(record) == expected:
                    if index in wanted:
                        found[index] = start
                    index += 1
                else:
                    malformed.append(start)
                if index > last and len(malformed) >= n_malformed:
                    break
    except (OSError, csv.Error, UnicodeError, EOFError):
        pass  # best effort: rows without a line number are named by their position
    finally:
        csv.field_size_limit(limit)
    return found, malformed


def _is_text(kind: Any) -> bool:
    import pyarrow as pa

    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind))


def _decoded(batch: Any, book: _RowBook) -> Any:
    """The batch with every text column as valid UTF-8 strings: rows holding bytes that are not
    UTF-8 are dropped (and noted in `book` with the column and byte); the rest are kept."""
    import pyarrow as pa

    start, n = book.rows_seen, batch.num_rows
    book.rows_seen += n
    text = [i for i, f in enumerate(batch.schema) if _is_text(f.type)]
    converted: dict[int, Any] = {}
    bad: dict[int, str] = {}
    for i in text:
        column = batch.column(i)
        try:
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                column.validate(full=True)
                converted[i] = column
            else:
                converted[i] = column.cast(pa.large_string() if pa.types.is_large_binary(column.type) else pa.string())
        except pa.ArrowInvalid:
            values = column.cast(pa.large_binary()).to_pylist()
            for row, value in enumerate(values):
                if value is None or row in bad:
                    continue
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError as e:
                    bad[row] = (f"{batch.schema.field(i).name!r} is not UTF-8 text (byte 0x{value[e.start]:02x} "
                                f"at position {e.start}; the file may be latin-1 / Windows-1252)")
    if bad:
        for row in sorted(bad):
            book.skip(start + row, bad[row])
        keep = pa.array([row not in bad for row in range(n)])
        return _decoded(batch.filter(keep), _RowBook(book.file))  # the kept rows decode now
    if not converted:
        return batch
    arrays = [converted.get(i, batch.column(i)) for i in range(batch.num_columns)]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


@dataclass
class TableReader:
    """CSV or Parquet tables `video_id, description[, duration]` (the VidChapters dump format).

    `path` is a file or a folder of *.csv / *.csv.gz / *.tsv / *.parquet shards. Tables are
    read in Arrow record batches of `batch_size` rows, so memory stays bounded
    however long the table is. `columns` renames input columns to ours.

    Bad rows are skipped, never the whole file: a row with bytes that are not UTF-8, or
    with the wrong number of fields, becomes a failure naming `file:line` and the rest of
    the file is built. UTF-8 with BOM and UTF-16 / UTF-32 files are detected and read.
    """

    path: str
    batch_size: int = 5000
    columns: dict[str, str] | None = None
    name: str = "table"

    @property
    def input_path(self) -> str:
        return str(self.path)

    def _files(self) -> list[Path]:
        path = Path(self.path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir()
                           if p.name.endswith((".csv", ".csv.gz", ".parquet", ".tsv")) and not p.name.startswith("."))
            if not files:
                raise BadInputError("no .csv, .csv.gz, .tsv or .parquet files in folder", path)
            return files
        if not path.exists():
            raise BadInputError("table not found", path)
        check_regular_file(path, "table")
        return [path]

    def _mapping(self) -> dict[str, str]:
        base = {"video_id": "video_id", "description": "description", "duration": "duration"}
        base.update(dict(self.columns or {}))
        return base

    def tasks(self) -> Iterator[Any]:
        """(file, Arrow record batch, []) per batch, one file after another; then (file, None,
        failures) for the rows of that file that were skipped, or for a file that could not be read."""
        for file in self._files():
            yield from self._file_tasks(file)

    def _file_tasks(self, file: Path) -> Iterator[Any]:
        source = str(file)
        book = _RowBook(file, delimiter="\t" if file.name.endswith(".tsv") else ",",
                        parquet=file.name.endswith(".parquet"))
        broken = None
        try:
            kind = special_file_kind(file.stat().st_mode)
            if kind is not None:  # a pipe in the folder would block the reader, a device never end
                broken = f"{kind}, not a regular file"
            elif not file.name.endswith(".gz") and file.stat().st_size == 0:
                broken = "file is empty (no header, no rows)"
            else:
                for batch in self._batches(file, book):
                    batch = _decoded(batch, book)
                    if batch.num_rows:
                        yield (source, batch, [])
        except BadInputError:
            raise
        except UnicodeDecodeError as e:  # Arrow decodes the header in Python, and transcodes UTF-16 with Python codecs
            if book.encoding in (None, "utf-8-sig"):
                broken = f"the header line is not UTF-8 text (byte {e.start}); save the file as UTF-8"
            else:
                label = describe_encoding(book.encoding)
                after = f" after {book.rows_seen} row(s)" if book.rows_seen else ""
                broken = (f"starts like {label} text but is not valid {label}{after} ({e.reason}); "
                          "save the file as UTF-8")
        except Exception as e:  # noqa: BLE001 - Arrow raises many types for one broken file
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if "magic bytes" in reason or "Parquet file size is 0" in reason:
                reason = f"not a Parquet file, or a truncated one ({reason})"
            after = f" after {book.rows_seen} row(s)" if book.rows_seen else ""
            broken = f"unreadable table{after}: {reason}"
        failures = book.failures()
        if broken is not None:
            failures.append(Failure(file.name, broken, source))
        if failures:
            yield (source, None, failures)

    def _batches(self, file: Path, book: _RowBook) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        wanted = self._mapping()
        if book.parquet:
            pf = pq.ParquetFile(file, pre_buffer=False, buffer_size=1 << 20)  # stream: bounded memory
            schema = pf.schema_arrow
            self._check_columns(schema.names, wanted, file)
            cols = [c for c in wanted.values() if c in schema.names]
            for ours, theirs in wanted.items():
                if theirs in schema.names:
                    self._check_type(ours, theirs, schema.field(theirs).type, file)
            yield from pf.iter_batches(batch_size=self.batch_size, columns=cols)
            return
        book.encoding = sniff_encoding(head_bytes(file))
        read = pacsv.ReadOptions(block_size=1 << 22, encoding=_arrow_encoding(book.encoding))
        probe = pacsv.open_csv(file, read_options=read, parse_options=pacsv.ParseOptions(
            delimiter=book.delimiter, newlines_in_values=True, invalid_row_handler=lambda row: "skip"))
        names = probe.schema.names
        probe.close()
        if book.encoding is None and any("\x00" in n for n in names):
            raise BadInputError("the header holds NUL bytes: this is not UTF-8 text (UTF-16 without a "
                                "byte-order mark?)", file, "save it as UTF-8")
        self._check_columns(names, wanted, file)
        include = [c for c in wanted.values() if c in names]
        # Every column as bytes, decoded row by row in `_decoded`: ids like "0123" or "1e10" stay
        # text, a duration like "12.5" in a later block cannot break a column typed from the first
        # one, and a bad byte costs its row, not the file.
        yield from pacsv.open_csv(
            file, read_options=read,
            parse_options=pacsv.ParseOptions(delimiter=book.delimiter, newlines_in_values=True,
                                             invalid_row_handler=book.invalid_row),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.binary() for c in include},
                                                 include_columns=include),
        )

    @staticmethod
    def _check_columns(names: list[str], wanted: dict[str, str], file: Path) -> None:
        missing = [theirs for ours, theirs in wanted.items() if ours != "duration" and theirs not in names]
        if missing:
            raise BadInputError(f"table has no column(s) {missing}; it has {names} "
                                "(map them with columns: {video_id: ..., description: ...})", file)

    @staticmethod
    def _check_type(ours: str, theirs: str, kind: Any, file: Path) -> None:
        import pyarrow as pa

        ok = {"video_id": _is_text(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind),
              "description": _is_text(kind) or pa.types.is_null(kind),
              "duration": pa.types.is_integer(kind) or pa.types.is_floating(kind) or _is_text(kind)
              or pa.types.is_null(kind) or pa.types.is_decimal(kind)}[ours]
        if not ok:
            raise BadInputError(f"column {theirs!r} holds {kind}, expected "
                                f"{'numbers' if ours == 'duration' else 'text'}", file)

    def load(self, task: Any) -> tuple[TableRows | list, list[Failure]]:
        source, batch, failures = task
        if batch is None:
            return [], failures
        mapping = self._mapping()
        names = batch.schema.names
        ours = [k for k in ("video_id", "description", "duration") if mapping[k] in names]
        return TableRows(source, batch.select([mapping[k] for k in ours]).rename_columns(ours)), failures


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
