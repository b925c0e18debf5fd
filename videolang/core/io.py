"""Atomic, pickle-free reading and writing.

Every write goes to a temporary file in the destination folder and is renamed
into place, so a killed run never leaves a half-written file under a final name.
"""
from __future__ import annotations

import contextlib
import json
import os
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


def read_text(path: str | Path, what: str = "file") -> str:
    """Read UTF-8 text, turning every failure into an error that names the file (`what` names its role)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"{what} not found", path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(f"cannot read {what}: {e}", path) from None


def read_json(path: str | Path, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """Read JSON, turning every failure into an error that names the file."""
    path = Path(path)
    text = read_text(path)
    if not text.strip():
        raise BadInputError("file is empty, expected JSON", path)
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as e:
        raise BadInputError(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}", path) from None


def read_jsonl(path: str | Path) -> list[Any]:
    """Read JSON Lines (blank lines allowed), naming the file and line of the first bad row."""
    path = Path(path)
    lines = read_text(path).splitlines()
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise BadInputError(f"malformed JSON on line {number}: {e.msg}", path) from None
    return rows


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
        raise VideolangError(f"output folder is not writable: {e.strerror or e}", path) from None
    return path
