"""The manifest: what is done and what failed, with reasons.

Each writer (one shard on one rank) appends to its own JSON Lines journal, the
lines of one video in one write, so a killed run loses at most the lines being
written (a torn last line is ignored on read; the features themselves are the
truth about what is done). The Parquet manifest is the merge
of all journals: the latest row per (video_id, key, fingerprint).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from videolang.core.io import ensure_dir

COLUMNS = ["video_id", "key", "fingerprint", "status", "reason", "model", "n", "path", "seconds", "finished_at", "run"]


class Journal:
    """Append-only JSONL log of one writer."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        ensure_dir(self.path.parent)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("".join(json.dumps({c: r.get(c) for c in COLUMNS}, ensure_ascii=False) + "\n" for r in rows))


def read_journal(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # torn line of a killed writer
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def merge_journals(paths: list[Path]):
    import pandas as pd

    rows = [r for p in paths for r in read_journal(p)]
    df = pd.DataFrame(rows, columns=COLUMNS)
    if df.empty:
        return df
    df = df.sort_values("finished_at", kind="stable")
    df = df.drop_duplicates(["video_id", "key", "fingerprint"], keep="last")
    return df.sort_values(["video_id", "key"], kind="stable").reset_index(drop=True)
