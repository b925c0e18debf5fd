"""ViTT (Video Timeline Tags): `ViTT-annotations.json`, one JSON object per line.

Each line: `{"id": <YouTube-8M id>, "annotations": [{"timestamp": <ms>, "tag": "..."}]}`.
Tags are points in milliseconds: a segment runs from its tag to the next one,
the last to the end of the video, as in VidChapters' ViTT preparation. Splits
come from `train_id.txt` / `dev_id.txt` / `test_id.txt`; a video annotated more
than once in dev/test yields one entry per annotation, keyed `<k>_<id>` with
`media_id` = the id; videos with more than `max_annotations` are left out
(they were in neither split of the paper). Durations come from a `durations`
file (JSON {id: seconds} or a video_id,duration table); `id_mapping` (JSON
{vitt id: YouTube id}) renames ids when given.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from videolang.builder.converters import AnnotationReader, number
from videolang.builder.readers import load_durations
from videolang.builder.records import VideoRecord
from videolang.builder.splits import read_id_list
from videolang.core.errors import BadInputError
from videolang.core.failures import Failure
from videolang.core.io import read_json
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

    def _read_lines(self) -> tuple[list[dict], list[Failure]]:
        path = Path(self.annotations)
        if not path.exists():
            raise BadInputError("ViTT annotation file not found", path)
        rows, failures = [], []
        text = path.read_text(encoding="utf-8")
        stripped = text.lstrip()
        if stripped.startswith("["):  # tolerate a JSON array of the same objects
            return read_json(path), []
        for number_, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                failures.append(Failure(f"line {number_}", f"malformed JSON: {e.msg}", str(path)))
        return rows, failures

    def records(self) -> tuple[list[VideoRecord], list[Failure]]:
        source = str(self.annotations)
        rows, failures = self._read_lines()
        splits = {vid: split for split, p in (self.split_ids or {}).items() for vid in read_id_list(p)}
        mapping = read_json(self.id_mapping) if self.id_mapping else {}
        durations = load_durations(self.durations) if self.durations else {}
        by_video: dict[str, list[dict]] = {}
        for row in rows:
            if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("annotations"), list):
                failures.append(Failure(str(row)[:40], "needs 'id' and an 'annotations' list", source))
                continue
            by_video.setdefault(str(row["id"]), []).append(row)
        records = []
        for vitt_id, sets in by_video.items():
            media_id = str(mapping.get(vitt_id, vitt_id))
            split = splits.get(vitt_id) if splits else "train"
            duration = durations.get(media_id, durations.get(vitt_id))
            many = len(sets) > 1
            for k, row in enumerate(sets):
                entry_id = f"{k}_{media_id}" if many else media_id
                rejected = None
                if len(sets) > self.max_annotations:
                    rejected = REJECT_TOO_MANY_ANNOTATIONS
                elif split is None:
                    rejected = REJECT_NO_SPLIT
                try:
                    tags = sorted(((number(a.get("timestamp"), "timestamp", source) / 1000.0, str(a.get("tag") or "").strip())
                                   for a in row["annotations"]), key=lambda t: t[0])
                except (BadInputError, AttributeError) as e:
                    failures.append(Failure(entry_id, getattr(e, "problem", str(e)), source))
                    continue
                chapters = (chapters_from_starts([t for t, _ in tags], [g for _, g in tags], duration)
                            if duration is not None else [])
                records.append(VideoRecord(video_id=entry_id, media_id=media_id, source=source, chapters=chapters,
                                           split=split or "none", duration=duration, rejected=rejected))
        return records, failures
