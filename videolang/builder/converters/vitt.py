"""ViTT (Video Timeline Tags): `ViTT-annotations.json`, one JSON object per line.

Each line: `{"id": <YouTube-8M id>, "annotations": [{"timestamp": <ms>, "tag": "..."}]}`.
Tags are points in milliseconds: a segment runs from its tag to the next one,
the last to the end of the video, as in VidChapters' ViTT preparation. Splits
come from `train_id.txt` / `dev_id.txt` / `test_id.txt`; a video annotated more
than once in dev/test yields one entry per annotation, keyed `<k>_<id>` with
`media_id` = the id (features are extracted once per media id and shared by its
entries); videos with more than `max_annotations` are left out (they were in
neither split of the paper). ViTT publishes no durations: they come from a
`durations` file (JSON {id: seconds} or a video_id,duration table) when given,
else from each video's media file in `media_dirs` (its container duration, what
VidChapters' preproc/vitt.py reads with `ffprobe -show_entries format=duration`);
a video with neither is rejected as `missing_duration`. `id_mapping` (JSON
{vitt id: YouTube id}, VidChapters' `id_mapping.json`) renames ids when given.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from videolang.builder.converters import AnnotationReader, number
from videolang.builder.readers import load_durations
from videolang.builder.records import VideoRecord
from videolang.builder.splits import read_id_list
from videolang.core.errors import BadInputError, VideolangError
from videolang.core.failures import Failure
from videolang.core.ids import id_to_filename
from videolang.core.io import json_kind, json_lines, parse_json_text, read_json, read_text
from videolang.core.spans import chapters_from_starts

REJECT_NO_SPLIT = "not_in_any_split"
REJECT_TOO_MANY_ANNOTATIONS = "more_than_max_annotations"


@dataclass
class ViTT(AnnotationReader):
    annotations: str
    split_ids: dict[str, str] | None = None
    durations: str | None = None
    id_mapping: str | None = None
    max_annotations: int = 3
    media_dirs: list[str] | None = None
    media_extensions: tuple[str, ...] = ("mp4", "mkv", "webm")

    @property
    def input_path(self) -> str:
        return str(self.annotations)

    def _read_lines(self) -> tuple[list[tuple[int, object]], list[Failure]]:
        path = Path(self.annotations)
        text = read_text(path, "ViTT annotation file")
        if not text.strip():
            raise BadInputError("file is empty, expected JSON Lines {id, annotations}", path)
        if text.lstrip().startswith("["):  # tolerate a JSON array of the same objects
            return list(enumerate(parse_json_text(text, path), start=1)), []
        rows, failures = [], []
        for number_, row, problem in json_lines(path, text=text):
            if problem is not None:
                failures.append(Failure(f"{path.name}:{number_}", f"line skipped: {problem}", str(path)))
            else:
                rows.append((number_, row))
        return rows, failures

    def records(self) -> tuple[list[VideoRecord], list[Failure]]:
        source = str(self.annotations)
        rows, failures = self._read_lines()
        splits = {vid: split for split, p in (self.split_ids or {}).items() for vid in read_id_list(p)}
        mapping = read_json(self.id_mapping, what="id mapping") if self.id_mapping else {}
        if not isinstance(mapping, dict):
            raise BadInputError(f"id mapping must be a JSON object {{ViTT id: YouTube id}}, got a JSON "
                                f"{json_kind(mapping)}", self.id_mapping)
        durations = load_durations(self.durations) if self.durations else {}
        by_video: dict[str, list[dict]] = {}
        name = Path(source).name
        for line, row in rows:
            if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("annotations"), list):
                failures.append(Failure(f"{name}:{line}", f"line skipped: needs 'id' and an 'annotations' list, got "
                                        f"{str(row)[:60]}", source))
                continue
            by_video.setdefault(str(row["id"]), []).append(row)
        records = []
        for vitt_id, sets in by_video.items():
            media_id = str(mapping.get(vitt_id, vitt_id))
            split = splits.get(vitt_id) if splits else "train"
            duration = durations.get(media_id, durations.get(vitt_id)) if self.durations else \
                self._media_duration(media_id)
            many = len(sets) > 1
            for k, row in enumerate(sets):
                entry_id = f"{k}_{media_id}" if many else media_id
                rejected = None
                if len(sets) > self.max_annotations:
                    rejected = REJECT_TOO_MANY_ANNOTATIONS
                elif split is None:
                    rejected = REJECT_NO_SPLIT
                try:
                    tags = sorted((_tag(a, i, source) for i, a in enumerate(row["annotations"])), key=lambda t: t[0])
                except BadInputError as e:
                    failures.append(Failure(entry_id, f"video skipped: {e.problem}", source))
                    continue
                chapters = (chapters_from_starts([t for t, _ in tags], [g for _, g in tags], duration)
                            if duration is not None else [])
                records.append(VideoRecord(video_id=entry_id, media_id=media_id, source=source, chapters=chapters,
                                           split=split or "none", duration=duration, rejected=rejected))
        return records, failures

    def _media_duration(self, media_id: str) -> float | None:
        """The container duration of `<file stem>.<ext>` in `media_dirs`; None when no file is found or it has none
        (the video is then rejected as missing_duration)."""
        try:
            stem = id_to_filename(media_id)
        except VideolangError:
            return None  # an unusable id: rejected by the id checks
        for folder in self.media_dirs or ():
            for ext in self.media_extensions:
                path = Path(folder) / f"{stem}.{ext}"
                if path.is_file():
                    return container_duration(path)
        return None


def container_duration(path: Path) -> float | None:
    """The container's duration in seconds (`ffprobe -show_entries format=duration`), or None."""
    import av

    try:
        with av.open(str(path)) as container:
            return container.duration / av.time_base if container.duration else None
    except (av.error.FFmpegError, OSError, ValueError):
        return None


def _tag(annotation: object, i: int, source: str) -> tuple[float, str]:
    """(seconds, tag) of one ViTT annotation; a timestamp that is not a finite number >= 0 is an error."""
    if not isinstance(annotation, dict):
        raise BadInputError(f"annotations[{i}] is a JSON {json_kind(annotation)}, not an object", source)
    ms = number(annotation.get("timestamp"), f"annotations[{i}].timestamp", source)
    if ms < 0:
        raise BadInputError(f"annotations[{i}].timestamp is negative: {annotation.get('timestamp')!r}", source)
    return ms / 1000.0, str(annotation.get("tag") or "").strip()
