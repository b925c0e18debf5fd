"""The manifest: what is done and what failed, with reasons.

Each writer (one shard on one rank) appends to its own JSON Lines journal, the
lines of one video in one write, so a killed run loses at most the lines being
written. An append always starts on a fresh line (a journal that does not end
with a newline, after a writer was killed mid-line, gets one first), so a torn
line never swallows the next run's first row; on read a torn line is dropped and
counted (`read_journal`, `merge_journals(..., torn=...)`). The features
themselves are the truth about what is done. The Parquet manifest is the merge
of all journals: the latest row per (video_id, key, fingerprint).

Row fields: `status` is "done" or "failed"; `reason` says why a key failed, or, on a
"done" row with `n` 0, why there is nothing to store (`no audio stream`, `no video
stream`); `file_stamp` is "<size>:<mtime_ns>" of the media file when it was
processed (None when it could not be read), so a file replaced since is noticed.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from videolang.core.io import ensure_dir

COLUMNS = ["video_id", "key", "fingerprint", "status", "reason", "model", "n", "path", "seconds", "finished_at", "run",
           "file_stamp"]


class Journal:
    """Append-only JSONL log of one writer."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        ensure_dir(self.path.parent)
        text = "".join(json.dumps({c: _printable(r.get(c)) for c in COLUMNS}, ensure_ascii=False) + "\n" for r in rows)
        with open(self.path, "a+b") as f:
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # the last append was torn (writer killed mid-line): start a fresh line
                    text = "\n" + text
            f.write(text.encode("utf-8"))


def _printable(value: Any) -> Any:
    """Text with surrogate escapes (a file name that is not UTF-8) with those bytes written as \\xNN."""
    if isinstance(value, str):
        try:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def file_stamp(path: str | os.PathLike) -> str | None:
    """"<size>:<mtime_ns>" of a media file (None when it cannot be read): whether a file changed since a run."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


def outcome_stands(row: Mapping[str, Any], current_stamp: str | None, retry_failed: bool = False) -> bool:
    """Whether a recorded outcome still holds, so the work is not redone: a failure is retried only when
    asked (`retry_failed`), and no outcome holds once the media file changed since (size or modification
    time; a missing file that appears since has changed too). Rows of older versions carry no file stamp:
    they hold only while the file still cannot be read, so those videos are retried once and stamped."""
    if row.get("status") == "failed" and retry_failed:
        return False
    recorded = row.get("file_stamp")
    if recorded != recorded:  # NaN: the column was missing from an older journal
        recorded = None
    return recorded == current_stamp


def read_journal(path: Path, torn: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """The rows of one journal; lines that are not a JSON object (torn by a kill) are dropped and, with
    `torn`, counted under the journal's file name."""
    rows, dropped = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:  # torn line of a killed writer
            row = None
        if isinstance(row, dict) and "video_id" in row and "key" in row:
            rows.append(row)
        else:
            dropped += 1
    if dropped and torn is not None:
        torn[path.name] = torn.get(path.name, 0) + dropped
    return rows


def current_rows(manifest, fingerprints: dict[str, str]):
    """The rows of a merged manifest made with these settings: per key, only its given fingerprint."""
    if not len(manifest):
        return manifest
    rows = manifest[manifest["key"].isin(list(fingerprints))]
    return rows[rows["fingerprint"] == rows["key"].map(fingerprints)]


def merge_journals(paths: list[Path], torn: dict[str, int] | None = None):
    """The latest row per (video_id, key, fingerprint) over all journals; `torn` collects dropped lines."""
    import pandas as pd

    rows = [r for p in paths for r in read_journal(p, torn)]
    df = pd.DataFrame(rows, columns=COLUMNS)
    if df.empty:
        return df
    df = df.sort_values("finished_at", kind="stable")
    df = df.drop_duplicates(["video_id", "key", "fingerprint"], keep="last")
    return df.sort_values(["video_id", "key"], kind="stable").reset_index(drop=True)
