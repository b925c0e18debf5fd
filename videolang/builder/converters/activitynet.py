"""ActivityNet Captions: `train.json`, `val_1.json`, `val_2.json` in the DVC layout.

val_1 and val_2 annotate the same videos twice (two reference sets for
densevid_eval): they become two splits, `val_1` and `val_2`, so a video id is
unique within a split, not across them. Ids keep their usual `v_` prefix.
"""
from __future__ import annotations

from dataclasses import dataclass

from videolang.builder.converters import AnnotationReader
from videolang.builder.converters.dvc import read_dvc_file
from videolang.builder.records import VideoRecord
from videolang.core.errors import ConfigError
from videolang.core.failures import Failure


@dataclass
class ActivityNetCaptions(AnnotationReader):
    """`files`: {split: path}, e.g. {train: train.json, val_1: val_1.json, val_2: val_2.json}."""

    files: dict[str, str]
    strip_prefix: str | None = None

    @property
    def input_path(self) -> str:
        return ", ".join(str(p) for p in (self.files or {}).values())

    def records(self) -> tuple[list[VideoRecord], list[Failure]]:
        if not self.files:
            raise ConfigError("activitynet needs data.reader.files: {split: path}")
        records, failures = [], []
        for split, path in self.files.items():
            r, f = read_dvc_file(path, split, self.strip_prefix)
            records += r
            failures += f
        return records, failures
