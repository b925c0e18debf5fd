"""`FeatureRecord`: one feature key of one video, as the extractors make it and the store reads it.

Arrays (`visual`, `audio`, ...) are (T, D) with one row per timestamp; speech is
a transcript (`segments`) whose sentence start times double as `timestamps`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class FeatureRecord:
    """Features of one video for one key, with everything needed to interpret them.

    - `array`: (T, D) features (None for speech), row t belongs to `timestamps[t]` seconds.
    - `timestamps`: (T,) float64 seconds; for speech the sentence start times.
    - `fps`: sampling rate of the rows when they lie on a regular grid, else None.
    - `model`: the model name or path that made them; `fingerprint`: hash of every config
      value that changes them (see `fingerprint_of`).
    - `segments`: speech only, VidChapters-style `{"text", "start", "end"}` sentence lists plus
      `"words"` (`[{"word", "start", "end", "probability"}]` per sentence) and `"language"`.
    - `meta`: small extras (duration, frame size, decoder), JSON-able.
    """

    key: str
    array: np.ndarray | None
    timestamps: np.ndarray
    fps: float | None
    model: str
    fingerprint: str
    segments: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.timestamps = np.asarray(self.timestamps, dtype=np.float64).reshape(-1)
        if self.array is not None and len(self.array) != len(self.timestamps):
            raise ValueError(f"{self.key}: {len(self.array)} rows but {len(self.timestamps)} timestamps")

    def __len__(self) -> int:
        return len(self.timestamps)


def fingerprint_of(config: dict[str, Any]) -> str:
    """A short stable hash of a JSON-able config: equal configs, equal fingerprints."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def empty_transcript(language: str | None = None) -> dict[str, Any]:
    """The transcript of a video with no speech: valid, just empty."""
    return {"text": [], "start": [], "end": [], "words": [], "language": language}
