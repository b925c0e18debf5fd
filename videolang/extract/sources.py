"""The video list: from a folder, a list file, a built dataset or one media file, sharded deterministically.

Ids are file stems (or the `media_id` column of a built dataset: entries that share a video are
one item). The list is sorted by id before sharding, so `shard=i num_shards=n` picks the same
videos on every machine, and every video has exactly one owner.

File names are bytes on POSIX: a name that is not UTF-8 keeps its exact bytes in
`VideoItem.path` (Python's surrogate escapes, so the file opens), while its id is
the name with the odd bytes written as `\\xNN` (valid text, stored under an encoded
file name like every id that is not plain). `display_path` gives the printable form
used in logs, journals and reports.
"""
from __future__ import annotations

import codecs
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from videolang.core.errors import BadInputError, ConfigError, VideolangError
from videolang.core.ids import validate_video_id
from videolang.core.io import check_regular_file, read_bytes, sniff_encoding
from videolang.core.frame_names import FRAME_EXTENSIONS

log = logging.getLogger(__name__)

MEDIA_EXTENSIONS = ("mp4", "mkv", "webm", "mov", "avi", "m4v", "flv", "mpg", "mpeg", "ts", "m4a", "mp3", "wav", "ogg", "opus")

SOURCE_HINT = ("videos= takes a folder of media files, a text file with one path per line, "
               "a built dataset's videos.parquet, or one media file")


@dataclass(frozen=True)
class VideoItem:
    video_id: str
    path: str
    keys: tuple[str, ...] | None = None  # which feature keys to make (None: all)


def display_path(path: str | Path) -> str:
    """`path` as printable text: bytes that are not UTF-8 written as \\xNN (for logs, JSON and reports)."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def id_from_name(stem: str) -> str:
    """A file stem as a video id: itself, or with bytes that are not UTF-8 written as \\xNN."""
    return display_path(stem)


def _exts(extensions) -> set[str]:
    return {e.lower().lstrip(".") for e in extensions}


def is_media_name(path: str | Path, extensions=MEDIA_EXTENSIONS) -> bool:
    return Path(path).suffix.lower().lstrip(".") in _exts(extensions)


def list_videos(source: str | Path, extensions: tuple[str, ...] | list[str] = MEDIA_EXTENSIONS,
                frame_extensions: tuple[str, ...] | None = None) -> list[VideoItem]:
    """Videos from a folder (recursive), a text file with one path per line, a `videos.parquet` (one item per
    `media_id`), or one media file.

    `frame_extensions` (given when the frame folders' rate is stated): in a folder source, every folder that
    directly holds such images and no media file is a video too (a frame folder; id = the folder's name)."""
    if source is None or not str(source).strip():
        raise ConfigError("videos= is empty", hint=SOURCE_HINT)
    source = Path(source)
    if not source.exists():
        raise BadInputError("video source not found", source, hint=SOURCE_HINT)
    if source.is_dir():
        exts = _exts(extensions)
        paths, frame_dirs = _scan_folder(source, exts, _exts(frame_extensions or FRAME_EXTENSIONS))
        if frame_dirs and frame_extensions is None:
            if paths:  # images beside or away from the videos (thumbnails, posters) are not videos
                log.info("%s: %d folder(s) of images not listed as videos (no frame rate stated: "
                         "extractor.frames.fps)", display_path(source), len(frame_dirs))
                frame_dirs = []
            else:
                raise ConfigError(f"videos={display_path(source)} holds no media file but {len(frame_dirs)} frame "
                                  f"folder(s) (JPEG / PNG sequences, e.g. {display_path(frame_dirs[0])}), and "
                                  "no frame rate is stated for them", "extractor.frames.fps",
                                  hint="set extractor.frames.fps=<the rate the frames were dumped at> "
                                       "(TVQA's frames_hq: 3)")
        if not paths and not frame_dirs:
            raise BadInputError(f"no media file in this folder (looked for .{', .'.join(sorted(exts))}, "
                                "in sub-folders too)", source, hint=SOURCE_HINT)
        entries = [(None, VideoItem(id_from_name(p.stem), str(p))) for p in paths] + \
            [(None, VideoItem(id_from_name(d.name), str(d))) for d in frame_dirs]
    elif check_regular_file(source, "video source") and source.suffix.lower() == ".parquet":
        entries = _from_parquet(source)
    elif is_media_name(source, extensions) or is_media_name(source):
        return [VideoItem(id_from_name(source.stem), str(source))]
    else:
        entries = _from_list_file(source)
    return _unique(entries, source)


def _scan_folder(source: Path, media: set[str], images: set[str]) -> tuple[list[Path], list[Path]]:
    """One walk of `source`: its media files (sub-folders too, hidden skipped) and its frame folders (folders
    holding images and no media file)."""
    paths, image_dirs = [], set()
    try:
        for p in source.rglob("*"):
            ext = p.suffix.lower().lstrip(".")
            if p.name.startswith(".") or ext not in media and ext not in images or p.is_dir():
                continue
            if ext in media:
                paths.append(p)
            else:
                image_dirs.add(p.parent)
    except OSError as e:
        raise BadInputError(f"cannot list the folder: {e.strerror or e}", source) from None
    with_media = {p.parent for p in paths}
    return sorted(paths), sorted(d for d in image_dirs if d not in with_media)


def _from_parquet(path: Path) -> list[tuple[int | None, VideoItem]]:
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises many kinds for a damaged file
        raise BadInputError(f"cannot read as Parquet: {' '.join(str(e).split())[:200]}", path,
                            hint="a built dataset's videos.parquet (stage=build_dataset), with video_id and "
                                 "video_path columns") from None
    for col in ("video_id", "video_path"):
        if col not in df.columns:
            raise BadInputError(f"no '{col}' column (has {list(df.columns)})", path,
                                hint="a built dataset's videos.parquet has video_id and video_path")
    paths = df["video_path"]
    has_path = paths.notna() & (paths.astype(str).str.strip() != "")
    if not has_path.any():
        raise BadInputError(f"no row has a video_path ({len(df)} row(s); the build found no media file)", path,
                            hint="build the dataset with its media folder, or give the media folder as videos=")
    if not has_path.all():
        log.warning("%s: %d of %d row(s) have no video_path (media not found at build time): skipped",
                    display_path(path), int((~has_path).sum()), len(df))
    base = path.parent
    # one item per media file: entries that share a video (ViTT's `<k>_<id>`) are extracted once, under its
    # media id, which is where the data module looks their features up (videolang.builder.media_ids)
    ids = df["media_id"].where(df["media_id"].notna(), df["video_id"]) if "media_id" in df.columns else df["video_id"]
    out = []
    for row, (vid, p) in enumerate(zip(ids, paths)):
        if not has_path.iloc[row]:
            continue
        try:
            vid = validate_video_id(vid)
        except BadInputError as e:
            raise BadInputError(f"row {row}: {e.problem}", path) from None
        p = str(p)
        out.append((row, VideoItem(vid, p if Path(p).is_absolute() else str(base / p))))
    return out


def _decode_list(data: bytes, path: Path) -> list[str] | None:
    """Text of a list file as lines; None when it is not text at all."""
    encoding = sniff_encoding(data[:256])
    if encoding not in (None, "utf-8-sig"):  # UTF-16 / UTF-32, with or without byte-order mark
        try:
            return data.decode(encoding).splitlines()
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None
    data = data.removeprefix(codecs.BOM_UTF8)
    # each line on its own: valid UTF-8 as such, anything else as the file system's bytes (surrogate escapes)
    return [os.fsdecode(line) for line in data.split(b"\n")]


def _resolve_line(text: str, folder: Path) -> str:
    path = Path(text) if Path(text).is_absolute() else folder / text
    if not os.path.exists(path) and any(0xDC80 <= ord(c) <= 0xDCFF for c in text):
        # a list written in Latin-1 / cp1252 naming files whose names are UTF-8: use the name that exists
        raw = os.fsencode(text)
        for codec in ("cp1252", "latin-1"):
            try:
                other = raw.decode(codec)
            except UnicodeDecodeError:
                continue
            candidate = Path(other) if Path(other).is_absolute() else folder / other
            if os.path.exists(candidate):
                return str(candidate)
    return str(path)


def _from_list_file(source: Path) -> list[tuple[int | None, VideoItem]]:
    data = read_bytes(source, "list file")
    lines = _decode_list(data, source)
    if lines is None:
        raise BadInputError("binary file, not a list of video paths (it holds NUL bytes and is not UTF-16 "
                            "or UTF-32 text)", source,
                            hint=f"{SOURCE_HINT}; a media file is recognised by its extension, one of "
                                 f"stage.extensions: .{', .'.join(MEDIA_EXTENSIONS)}")
    entries = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        path = _resolve_line(text, source.parent)
        item = VideoItem(id_from_name(Path(path).stem), path)
        try:
            validate_video_id(item.video_id)
        except VideolangError as e:
            raise BadInputError(f"line {number}: {e.problem} ({display_path(path)})", source) from None
        entries.append((number, item))
    if not entries:
        raise BadInputError("the list file lists no video (it is empty, or only comments and blank lines)", source,
                            hint="one media path per line, relative to the list file's folder or absolute")
    if not any(os.path.exists(it.path) for _, it in entries):  # stops at the first that exists: cheap
        first_line, first = entries[0]
        raise BadInputError(f"none of the {len(entries)} listed files exists (line {first_line}: "
                            f"{display_path(first.path)})", source,
                            hint="paths are relative to the list file's folder, or absolute")
    return entries


def _unique(entries: list[tuple[int | None, VideoItem]], source: Path) -> list[VideoItem]:
    seen: dict[str, tuple[int | None, VideoItem]] = {}
    for number, item in entries:
        where = f"line {number}: " if number is not None and source.suffix.lower() != ".parquet" else \
            (f"row {number}: " if number is not None else "")
        try:
            validate_video_id(item.video_id)
        except VideolangError as e:
            raise BadInputError(f"{where}{e.problem} ({display_path(item.path)})", source) from None
        if item.video_id in seen:
            before_number, before = seen[item.video_id]
            if os.path.abspath(before.path) == os.path.abspath(item.path):
                continue  # the same file listed twice is one video
            earlier = f"line {before_number}: " if where.startswith("line") else ""
            raise BadInputError(f"two videos share the id {item.video_id!r}: {earlier}{display_path(before.path)} and "
                                f"{where}{display_path(item.path)}", source, hint="ids are file stems; rename one")
        seen[item.video_id] = (number, item)
    return sorted((it for _, it in seen.values()), key=lambda it: it.video_id)


def shard(items: list, index: int, count: int) -> list:
    """Every `count`-th item from `index`: deterministic, balanced, and disjoint across shards."""
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"shard={index} num_shards={count}: need 0 <= shard < num_shards")
    return items[index::count]
