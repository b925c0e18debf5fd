"""The video list: from a folder, a list file or a built dataset, sharded deterministically.

Ids are file stems (or the `video_id` column of a built dataset). The list is
sorted by id before sharding, so `shard=i num_shards=n` picks the same videos on
every machine, and every video has exactly one owner.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.ids import validate_video_id

MEDIA_EXTENSIONS = ("mp4", "mkv", "webm", "mov", "avi", "m4v", "flv", "mpg", "mpeg", "ts", "m4a", "mp3", "wav", "ogg", "opus")


@dataclass(frozen=True)
class VideoItem:
    video_id: str
    path: str
    keys: tuple[str, ...] | None = None  # which feature keys to make (None: all)


def list_videos(source: str | Path, extensions: tuple[str, ...] | list[str] = MEDIA_EXTENSIONS) -> list[VideoItem]:
    """Videos from a folder (recursive), a text file with one path per line, or a `videos.parquet`."""
    source = Path(source)
    if not source.exists():
        raise BadInputError("video source not found (a folder, a list file or a videos.parquet)", source)
    if source.is_dir():
        exts = {e.lower().lstrip(".") for e in extensions}
        paths = sorted(p for p in source.rglob("*") if p.suffix.lower().lstrip(".") in exts and not p.name.startswith("."))
        items = [VideoItem(p.stem, str(p)) for p in paths]
    elif source.suffix == ".parquet":
        items = _from_parquet(source)
    else:
        lines = [ln.strip() for ln in source.read_text(encoding="utf-8").splitlines()]
        items = []
        for line in lines:
            if line and not line.startswith("#"):
                path = Path(line) if Path(line).is_absolute() else source.parent / line
                items.append(VideoItem(path.stem, str(path)))
    return _unique(items, source)


def _from_parquet(path: Path) -> list[VideoItem]:
    import pandas as pd

    df = pd.read_parquet(path)
    for col in ("video_id", "video_path"):
        if col not in df.columns:
            raise BadInputError(f"no '{col}' column (has {list(df.columns)})", path)
    rows = df[df["video_path"].notna() & (df["video_path"].astype(str) != "")]
    base = path.parent
    return [VideoItem(validate_video_id(vid, str(path)), str(p if Path(p).is_absolute() else base / p))
            for vid, p in zip(rows["video_id"], rows["video_path"].astype(str))]


def _unique(items: list[VideoItem], source: Path) -> list[VideoItem]:
    seen: dict[str, str] = {}
    for item in items:
        validate_video_id(item.video_id, str(source))
        if item.video_id in seen:
            raise BadInputError(f"two videos share the id {item.video_id!r}: {seen[item.video_id]} and {item.path}", source,
                                hint="ids are file stems; rename one")
        seen[item.video_id] = item.path
    return sorted(items, key=lambda it: it.video_id)


def shard(items: list, index: int, count: int) -> list:
    """Every `count`-th item from `index`: deterministic, balanced, and disjoint across shards."""
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"shard={index} num_shards={count}: need 0 <= shard < num_shards")
    return items[index::count]
