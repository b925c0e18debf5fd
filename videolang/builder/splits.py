"""Deterministic splits that stay put when the corpus grows.

`hash`: a video's split depends only on its (media) id and a salt: SHA-1 of
"salt:id" read as a number in [0, 1) is compared with the cumulative split
fractions, so adding videos never moves an existing one. `files`: lists of ids
per split (JSON list or one id per line); ids in no list go to `default`.
A converter whose source fixes the split (YouCook2 `subset`, ActivityNet
val_1/val_2) keeps it whatever the method.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.io import parse_json_text, read_text


def hash_unit(video_id: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by the id and the salt."""
    digest = hashlib.sha1(f"{salt}:{video_id}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def read_id_list(path: str | Path) -> list[str]:
    path = Path(path)
    text = read_text(path, "split file")
    if path.suffix == ".json":
        data = parse_json_text(text, path, "a JSON list of ids")
        if isinstance(data, dict):
            data = list(data)
        if not isinstance(data, list):
            raise BadInputError("split file must hold a JSON list of ids (or an object keyed by id)", path)
        return [str(x) for x in data]
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass
class SplitAssigner:
    method: str = "hash"
    salt: str = "videolang"
    fractions: dict[str, float] = field(default_factory=lambda: {"val": 0.01, "test": 0.01})
    default: str = "train"
    files: dict[str, str] | None = None
    _by_id: dict[str, str] | None = field(default=None, repr=False)

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any] | None) -> "SplitAssigner":
        mapping = dict(mapping or {})
        out = cls(**mapping)
        if out.method not in ("hash", "files"):
            raise ConfigError(f"splits.method must be 'hash' or 'files', got {out.method!r}")
        fractions = dict(out.fractions or {})
        if any(not (0 <= float(v) <= 1) for v in fractions.values()) or sum(map(float, fractions.values())) > 1:
            raise ConfigError(f"splits.fractions must be in [0, 1] and sum to at most 1, got {fractions}")
        if out.default in fractions:
            raise ConfigError(f"splits.default '{out.default}' must not also be listed in splits.fractions")
        out.fractions = {k: float(v) for k, v in fractions.items()}
        if out.method == "files":
            if not out.files:
                raise ConfigError("splits.method=files needs splits.files: {split: path}")
            out._by_id = {}
            for split, path in out.files.items():
                for vid in read_id_list(path):
                    out._by_id[vid] = split
        return out

    def assign(self, media_id: str) -> str:
        if self._by_id is not None:
            return self._by_id.get(media_id, self.default)
        u = hash_unit(media_id, self.salt)
        edge = 0.0
        for split, fraction in self.fractions.items():
            edge += fraction
            if u < edge:
                return split
        return self.default
