"""YouCook2: the original `youcookii_annotations_trainval.json` or a PDVC-style DVC file.

Original layout: `{"database": {vid: {"duration", "subset": training|validation|testing,
"recipe_type", "video_url", "annotations": [{"segment": [s, e], "id", "sentence"}]}}}`.
PDVC layout: `{"v_<vid>": {"duration", "timestamps", "sentences"}}` (one file per split).
Both give the same ids: the `v_` prefix of the PDVC files is removed (`strip_prefix`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from videolang.builder.converters import AnnotationReader, duration_of, segment, strip_prefix
from videolang.builder.converters.dvc import read_dvc_file
from videolang.builder.records import VideoRecord
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.failures import Failure
from videolang.core.io import json_kind, read_json
from videolang.core.spans import Chapter

SUBSETS = {"training": "train", "validation": "val", "testing": "test"}


def split_from_name(path: str | Path) -> str | None:
    name = Path(path).name.lower()
    for key, split in (("train", "train"), ("val", "val"), ("test", "test")):
        if key in name:
            return split
    return None


@dataclass
class YouCook2(AnnotationReader):
    """`path`: one annotation file. `split`: for a PDVC-style file (default: from its name)."""

    path: str
    split: str | None = None
    strip_prefix: str | None = "v_"
    format: str = "auto"

    @property
    def input_path(self) -> str:
        return str(self.path)

    def records(self) -> tuple[list[VideoRecord], list[Failure]]:
        data = read_json(self.path, what="annotation file")
        if isinstance(data, dict) and "database" in data and not isinstance(data["database"], dict):
            raise BadInputError(f"'database' must be a JSON object {{video_id: {{...}}}}, got a JSON "
                                f"{json_kind(data['database'])}", self.path)
        fmt = self.format
        if fmt == "auto":
            fmt = "original" if isinstance(data, dict) and isinstance(data.get("database"), dict) else "dvc"
        if fmt == "original":
            return self._original(data)
        if fmt != "dvc":
            raise ConfigError(f"youcook2 format must be auto, original or dvc, got {self.format!r}")
        split = self.split or split_from_name(self.path)
        if split is None:
            raise ConfigError(f"cannot tell the split of {self.path}: set data.reader.split")
        return read_dvc_file(self.path, split, self.strip_prefix)

    def _original(self, data: dict) -> tuple[list[VideoRecord], list[Failure]]:
        source = str(self.path)
        records, failures = [], []
        for vid, entry in data["database"].items():
            try:
                if not isinstance(entry, dict):
                    raise BadInputError(f"entry is a JSON {json_kind(entry)}, not an object", source)
                subset = entry.get("subset")
                if subset not in SUBSETS:
                    raise BadInputError(f"unknown subset {subset!r}", source)
                annotations = entry.get("annotations") or []
                if not isinstance(annotations, list):
                    raise BadInputError(f"'annotations' is a JSON {json_kind(annotations)}, not a list", source)
                chapters = []
                for i, ann in enumerate(annotations):
                    seg = ann.get("segment") if isinstance(ann, dict) else None
                    if not isinstance(seg, list) or len(seg) != 2:
                        raise BadInputError(f"annotations[{i}].segment is not [start, end]: {seg!r}", source)
                    start, end = segment(seg[0], seg[1], f"annotations[{i}].segment", source)
                    chapters.append(Chapter(start, end, str(ann.get("sentence") or "").strip()))
                chapters.sort(key=lambda c: (c.start, c.end))
                records.append(VideoRecord(
                    video_id=strip_prefix(str(vid), self.strip_prefix), source=source, chapters=chapters,
                    split=SUBSETS[subset], duration=duration_of(entry.get("duration"), source),
                    metadata={"categories": [str(entry.get("recipe_type"))]} if entry.get("recipe_type") else {}))
            except BadInputError as e:
                failures.append(Failure(str(vid), f"video skipped: {e.problem}", source))
        return records, failures
