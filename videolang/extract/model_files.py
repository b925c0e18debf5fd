"""The content identity of a local model, for feature fingerprints.

A fingerprint made of the extractor's options alone names a local model by its path, so a
model rebuilt or replaced under the same path (`stage=make_zoo` after the sample corpus
changed, a fine-tuned copy saved over the old one) would reuse features another model
computed, and training and prediction would read different features. The digest of the
model's files closes that: same files, same digest, wherever the folder lives. Hub names
(nothing on disk) keep their name as their identity.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["model_files_digest"]

_CHUNK = 1 << 20
# (path, size, mtime_ns) -> sha256 of the file: a 145 MB model is hashed once per process, not per encoder
_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def model_files_digest(name: str | os.PathLike | None) -> str | None:
    """SHA-256 over the relative names and contents of a local model file or folder; None when `name`
    is not a path on this machine (a hub name). Hidden files (staging leftovers, `.cache`) are left out."""
    if not name:
        return None
    path = Path(os.path.expanduser(str(name)))
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
    total = hashlib.sha256()
    for file in files:
        rel = file.name if file == path else file.relative_to(path).as_posix()
        total.update(rel.encode("utf-8") + b"\0" + _file_digest(file).encode("ascii") + b"\n")
    return total.hexdigest()[:16]


def _file_digest(file: Path) -> str:
    stat = file.stat()
    key = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        digest = hashlib.sha256()
        with open(file, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        _FILE_DIGESTS[key] = digest.hexdigest()
    return _FILE_DIGESTS[key]
