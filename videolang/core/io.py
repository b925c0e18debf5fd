"""Atomic, pickle-free reading and writing: the one place every stage reads and writes files through.

Every write goes to a temporary file in the destination folder and is renamed
into place, so a killed run never leaves a half-written file under a final name.
Every read detects the text encoding (UTF-8, BOM, UTF-16/32) and turns each
failure into a `BadInputError` naming the file, the line and the problem.
"""
from __future__ import annotations

import codecs
import contextlib
import errno
import gzip
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from videolang.core.errors import BadInputError, VideolangError


def _file_mode() -> int:
    """The mode a plain `open(path, "w")` would give: mkstemp's 0600 would hide datasets from other users."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, _FILE_MODE)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_target(name: str) -> str | None:
    """The file name a temporary file of `atomic_path` (".<final>.<random>.tmp<ext>") was to become, or None
    for any other name: what a killed writer left behind, for the writer that owns `<final>` to remove."""
    if not name.startswith(".") or ".tmp" not in name:
        return None
    head, _, ext = name[1:].rpartition(".tmp")
    final = head.rsplit(".", 1)[0]
    return final if "." in head and final.endswith(ext) else None


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False) + "\n")


def atomic_write_jsonl(path: str | Path, rows: Iterable[Any]) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in rows))


def atomic_write_parquet(path: str | Path, df: "pandas.DataFrame") -> Path:  # noqa: F821
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def atomic_save_npy(path: str | Path, array: "numpy.ndarray") -> Path:  # noqa: F821
    import numpy as np

    with atomic_path(path, suffix=".tmp.npy") as tmp:
        np.save(tmp, array, allow_pickle=False)
    return Path(path)


# ---------------------------------------------------------------------- reading text in any encoding
# Scraped metadata, annotation files, list files and predictions arrive as UTF-8, UTF-8 with a byte-order
# mark (Windows tools), UTF-16 (Excel's "Unicode text", PowerShell's `>`), or in a legacy 8-bit encoding.
# UTF-8, UTF-8 with BOM, UTF-16 and UTF-32 are detected from the first bytes (a BOM, or ASCII text with a
# NUL every other byte for UTF-16 without BOM) and read; anything else that is not valid UTF-8 is refused
# with a `BadInputError` naming the line and the byte, never decoded into NUL characters or mojibake.

# Longest first: a UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
REENCODE_HINT = "save it as UTF-8, e.g. iconv -f latin1 -t utf-8"


def sniff_encoding(head: bytes) -> str | None:
    """The encoding the first bytes of a file announce, or None for plain UTF-8 (the default).

    'utf-8-sig', 'utf-16', 'utf-32' from a byte-order mark; 'utf-16-le' / 'utf-16-be'
    for text without BOM where every other byte is NUL (ASCII text in UTF-16).
    """
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    sample = head[:256]
    half = len(sample) // 2
    if half >= 2:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd >= 0.4 * half and even == 0:
            return "utf-16-le"
        if even >= 0.4 * half and odd == 0:
            return "utf-16-be"
    return None


def describe_encoding(encoding: str | None) -> str:
    return {None: "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16", "utf-32": "UTF-32",
            "utf-16-le": "UTF-16 LE without BOM", "utf-16-be": "UTF-16 BE without BOM"}.get(encoding, str(encoding))


def not_utf8_problem(raw: bytes, err: UnicodeDecodeError, what: str = "text") -> str:
    """'not UTF-8 text: byte 0xe9 on line 3, column 7' for a failed UTF-8 decode of `raw`."""
    start = err.start
    line = raw.count(b"\n", 0, start) + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    return f"not UTF-8 {what}: byte 0x{raw[start]:02x} on line {line}, column {column}"


def decode_bytes(raw: bytes, path: str | Path, what: str = "text") -> str:
    """`raw` as text (UTF-8, UTF-8 BOM, UTF-16/32 detected), or BadInputError naming `path`, line and byte."""
    encoding = sniff_encoding(raw[:256])
    if encoding is None:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadInputError(not_utf8_problem(raw, e, what), path, REENCODE_HINT) from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        label = describe_encoding(encoding)
        raise BadInputError(f"not UTF-8 {what}, and not valid {label} either although it starts like {label} "
                            f"(byte {e.start})", path, "save it as UTF-8") from None


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks (checkpoints and models do not fit comfortably in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------- user-given files: regular, bounded
# A path a user gives may name anything: /dev/zero (endless), a named pipe (blocks until someone writes), a
# socket, a device. Every user-given file is checked to be a regular file before it is opened for reading, and
# text is read with a ceiling, so no input can make a run read without end or wait without a word.
TEXT_LIMIT_ENV = "VIDEOLANG_MAX_TEXT_MB"
DEFAULT_TEXT_LIMIT = 1 << 30  # 1 GiB: a JSON file that size already takes ~10 GB of memory once parsed

_KINDS = ((stat.S_ISCHR, "a character device (like /dev/zero)"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))


def special_file_kind(mode: int) -> str | None:
    """What a non-regular, non-folder file is ("a named pipe (FIFO)", ...), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def check_regular_file(path: str | Path, what: str = "file") -> os.stat_result:
    """`os.stat` of a user-given file that must be a regular file: missing, a folder, a device, a pipe or a
    socket is a BadInputError naming it and saying which (stat never opens the file, so a pipe cannot block)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise BadInputError(f"{what} not found", path) from None
    except OSError as e:
        raise BadInputError(f"cannot read {what}: {e.strerror or e}", path) from None
    if stat.S_ISDIR(st.st_mode):
        raise BadInputError(f"{what} is a folder, expected a file", path)
    kind = special_file_kind(st.st_mode)
    if kind is not None:
        raise BadInputError(f"{what} is {kind}, not a regular file", path, "give the path of a file")
    return st


def text_limit() -> int:
    """The ceiling on a text input's size in bytes: $VIDEOLANG_MAX_TEXT_MB (MiB), else 1 GiB."""
    value = os.environ.get(TEXT_LIMIT_ENV, "").strip()
    try:
        return int(float(value) * (1 << 20)) if value else DEFAULT_TEXT_LIMIT
    except ValueError:
        return DEFAULT_TEXT_LIMIT


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def read_bytes(path: str | Path, what: str = "file", limit: int | None = None) -> bytes:
    """A user-given file's bytes, at most `limit` of them (default `text_limit()`).

    A missing file, a folder, anything that is not a regular file (checked on the opened file: a path
    swapped for a pipe after a check cannot block the read), an unreadable file or one over the ceiling is a
    BadInputError naming it; the message states the ceiling and how to raise it."""
    path = Path(path)
    limit = text_limit() if limit is None else limit
    hint = f"raise it with {TEXT_LIMIT_ENV}=<MiB> if this file is meant to be read whole"
    check_regular_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError):
        raise BadInputError(f"{what} not found", path) from None
    except OSError as e:
        raise BadInputError(f"cannot read {what}: {e.strerror or e}", path) from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        kind = special_file_kind(st.st_mode)
        if kind is not None:
            raise BadInputError(f"{what} is {kind}, not a regular file", path, "give the path of a file")
        if st.st_size > limit:
            raise BadInputError(f"{what} is {st.st_size:,} bytes, over the {_size(limit)} limit for a text input",
                                path, hint)
        chunks, total, want = [], 0, (st.st_size + 1) if st.st_size else 1 << 16
        try:  # a file that grows, or reports no size (/proc), stops at the ceiling too
            while total <= limit:
                block = f.read(min(want, limit + 1 - total))
                if not block:
                    break
                chunks.append(block)
                total, want = total + len(block), 1 << 20
        except OSError as e:
            raise BadInputError(f"cannot read {what}: {e.strerror or e}", path) from None
    if total > limit:
        raise BadInputError(f"{what} holds more than the {_size(limit)} limit for a text input", path, hint)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_text(path: str | Path, what: str = "file") -> str:
    """A text file in any encoding `decode_bytes` reads; every failure names the file (`what` names its role)."""
    return decode_bytes(read_bytes(path, what), path, "text")


def parse_json_text(text: str, path: str | Path, expected: str = "JSON",
                    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """Parsed JSON; empty, truncated or malformed text is a BadInputError naming `path` (and the line)."""
    if not text.strip():
        raise BadInputError(f"file is empty, expected {expected}", path)
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as e:
        problem = f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}"
        raise BadInputError(problem + (" (the file looks truncated)" if _ends_open(text) else ""), path) from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _ends_open(text: str) -> bool:
    """True when the text ends inside a string, an object or a list: cut off, not just malformed."""
    rest = _JSON_STRING.sub("", text)
    return '"' in rest or rest.count("{") > rest.count("}") or rest.count("[") > rest.count("]")


def read_json(path: str | Path, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
              what: str = "file", expected: str = "JSON") -> Any:
    """Parsed JSON of a file in any detected encoding; empty, truncated, malformed: BadInputError naming it."""
    return parse_json_text(read_text(path, what), path, expected, object_pairs_hook)


def read_jsonl(path: str | Path, what: str = "file") -> list[Any]:
    """JSON Lines (blank lines allowed), strict: the first bad row is a BadInputError naming file and line."""
    rows = []
    for number, line in enumerate(read_text(path, what).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise BadInputError(f"malformed JSON on line {number}: {e.msg}", path) from None
    return rows


def json_lines(path: str | Path, what: str = "file", text: str | None = None
               ) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, row, None) per JSON line, or (line number, None, problem) for a malformed one.

    Blank lines are skipped; a file that cannot be read at all raises BadInputError. `text`: the file's
    text when the caller has read it already.
    """
    text = read_text(path, what) if text is None else text
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line), None
        except json.JSONDecodeError as e:
            yield number, None, f"malformed JSON: {e.msg}"


def head_bytes(path: str | Path, n: int = 256) -> bytes:
    """The first `n` bytes of a file (decompressed for .gz)."""
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read(n)


def json_kind(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages ("expected an object, got a JSON list")."""
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def invalid_unicode(value: Any) -> bool:
    """True for a string that cannot be written as UTF-8 (a lone surrogate from a JSON `\\ud800` escape)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def ensure_dir(path: str | Path) -> Path:
    """Create a folder (and parents), or explain why it cannot be used as an output folder."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (OSError, NotADirectoryError) as e:
        raise VideolangError(f"cannot create output folder: {e.strerror or e}", path) from None
    return path


def ensure_writable_dir(path: str | Path) -> Path:
    """Like `ensure_dir`, and also prove we can write there before a long run starts."""
    path = ensure_dir(path)
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise VideolangError(unwritable_problem(e), path) from None
    return path


def unwritable_problem(err: OSError) -> str:
    """Why a file cannot be created in a folder that exists, in words that fit the folder (the OS's own
    "No such file or directory" for /proc/1 names a folder that is there)."""
    reason = err.strerror or str(err)
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"output folder is not writable: permission denied ({reason})"
    if err.errno == errno.EROFS:
        return "output folder is on a read-only file system"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no room to write in the output folder ({reason})"
    return (f"the output folder exists, but its file system refuses to create files in it ({reason}): "
            "a special file system such as /proc or /sys, or a folder that is not a real folder")
