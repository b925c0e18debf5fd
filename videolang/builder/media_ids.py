"""Which media file each entry of a built dataset is about: `videos.parquet`'s `video_id` -> `media_id`.

An entry's key (`video_id`, the key of every task file) and its media (`media_id`) differ only for
entries that share a video: ViTT's dev / test videos annotated k times are k entries `<j>_<id>`, one
media `<id>` (VidChapters' preproc/vitt.py names them so). Features are extracted once per media and
looked up through this map, so every entry of a video reads the same features.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from videolang.core.errors import BadInputError

VIDEOS_TABLE = "videos.parquet"


def media_ids(dataset_dir: str | Path) -> dict[str, dict[str, str]]:
    """{split: {video_id: media_id}} for the entries whose media id is not their own id; empty when the dataset
    has no `videos.parquet` (task files written by hand) or a table built before `media_id` existed."""
    table = Path(dataset_dir) / VIDEOS_TABLE
    if not table.is_file():
        return {}
    try:
        names = pq.read_schema(table).names
        if "media_id" not in names:
            return {}
        rows = pq.read_table(table, columns=["split", "video_id", "media_id"]).to_pydict()
    except (OSError, ValueError) as e:  # pyarrow's errors for a damaged file are OSError / ArrowInvalid
        raise BadInputError(f"cannot read as Parquet: {' '.join(str(e).split())[:200]}", table) from None
    out: dict[str, dict[str, str]] = {}
    for split, vid, media in zip(rows["split"], rows["video_id"], rows["media_id"]):
        if media is not None and media != vid:
            out.setdefault(str(split), {})[str(vid)] = str(media)
    return out


def media_durations(dataset_dir: str | Path) -> dict[str, float] | None:
    """{media_id: duration} of a built dataset's `videos.parquet` (None without one): the ids features are
    stored under (`video_id` in a table built before `media_id` existed)."""
    table = Path(dataset_dir) / VIDEOS_TABLE
    if not table.is_file():
        return None
    try:
        column = "media_id" if "media_id" in pq.read_schema(table).names else "video_id"
        rows = pq.read_table(table, columns=[column, "duration"]).to_pydict()
    except (OSError, ValueError) as e:
        raise BadInputError(f"cannot read as Parquet: {' '.join(str(e).split())[:200]}", table) from None
    return {str(m): float(d) for m, d in zip(rows[column], rows["duration"]) if m is not None and d is not None}
