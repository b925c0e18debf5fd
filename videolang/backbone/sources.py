"""Where a video's frames and transcript come from: the feature store, or memory (tests, predict).

Both give a `VideoFeatures`: (T, D) float32 frames with their timestamps in
seconds, the ASR sentences as `Segment`s and, when asked for, the common-sense rows
(`RowStream`). A video with no speech has an empty transcript, never an error; a
video whose frames (or requested common-sense rows) are missing is an error the
caller counts and skips.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from videolang.backbone.sequences import Segment
from videolang.backbone.streams import RowStream
from videolang.core.errors import BadInputError, VideolangError
from videolang.store import FeatureStore


@dataclass
class VideoFeatures:
    frames: np.ndarray                      # (T, D) float32
    timestamps: np.ndarray                  # (T,) seconds
    speech: list[Segment] = field(default_factory=list)
    duration: float | None = None
    commonsense: RowStream | None = None    # (T', D') rows + mask, own timestamps; None = not read / missing


class FeatureSource(Protocol):
    def get(self, video_id: str) -> VideoFeatures: ...

    def available(self, stream: str = "visual") -> set[str]:
        """Ids that have `stream` ("visual" or "commonsense"), without reading features."""
        ...


def segments_from_transcript(segments: dict[str, Any] | None) -> list[Segment]:
    """VidChapters-style `{"text": [...], "start": [...], "end": [...]}` -> Segments (empty text dropped)."""
    if not segments:
        return []
    out = []
    for text, start, end in zip(segments.get("text", []), segments.get("start", []), segments.get("end", [])):
        if str(text).strip():
            out.append(Segment(float(start), float(max(end, start)), str(text).strip()))
    return out


class StoreFeatures:
    """Features of `stage=extract` read from `videolang.store.FeatureStore`.

    `fingerprints` pins one configuration per key when the store holds several.
    `speech_key=None` reads no transcript (the video-only ablation needs none).
    `commonsense_key=None` (the default) reads no common-sense rows; with a key, a video
    without them is an error (`get`) and missing from `available("commonsense")`.
    """

    def __init__(self, root: str | Path, visual_key: str = "visual", speech_key: str | None = "speech",
                 fingerprints: dict[str, str] | None = None, commonsense_key: str | None = None):
        self.store = FeatureStore(root, fingerprints=dict(fingerprints or {}))
        self.visual_key, self.speech_key, self.commonsense_key = visual_key, speech_key, commonsense_key

    def describe(self) -> dict[str, dict]:
        """What made these features, per key (the store's extractor.json + fingerprint): saved in checkpoints
        so `stage=predict` can extract a raw video exactly the same way. Keys named in a description's
        `requires` (the common-sense extractor needs `regions`) are described too, transitively."""
        out: dict[str, dict] = {}
        todo: list[tuple[str, str | None]] = [(k, None) for k in (self.visual_key, self.speech_key,
                                                                  self.commonsense_key) if k]
        while todo:
            key, pinned = todo.pop(0)
            if key in out:
                continue
            try:
                fp = self.store.resolve_fingerprint(key, pinned)
            except VideolangError:  # no such key, or several configurations: nothing to record
                continue
            out[key] = {**self.store.describe(key, fp), "fingerprint": fp}
            requires = out[key].get("requires") or ()
            # {key: fingerprint} (Encoder.describe) pins the configuration the dependant was made from
            todo += [(str(k), requires[k] if isinstance(requires, dict) else None) for k in requires]
        return out

    def available(self, stream: str = "visual") -> set[str]:
        """Ids with committed frames, or common-sense rows (one folder listing, no file read)."""
        if stream == "visual":
            return set(self.store.video_ids(self.visual_key))
        if stream != "commonsense" or not self.commonsense_key:
            return set()
        try:
            return set(self.store.video_ids(self.commonsense_key))
        except BadInputError:  # no such key in the store: every video lacks it (counted, skipped)
            return set()

    def get(self, video_id: str) -> VideoFeatures:
        rec = self.store.read(video_id, self.visual_key)
        frames = np.asarray(rec.array, dtype=np.float32)
        if frames.ndim != 2 or len(frames) == 0:
            raise BadInputError(f"'{self.visual_key}' features of {video_id!r} are empty or not (T, D)")
        speech: list[Segment] = []
        if self.speech_key:
            try:
                speech = segments_from_transcript(self.store.read(video_id, self.speech_key).segments)
            except BadInputError:
                speech = []  # no transcript extracted: treated like a silent video
        commonsense = RowStream.from_record(self.store.read(video_id, self.commonsense_key)) \
            if self.commonsense_key else None
        duration = rec.meta.get("duration") if isinstance(rec.meta, dict) else None
        return VideoFeatures(frames, rec.timestamps, speech, float(duration) if duration else None, commonsense)


class MemoryFeatures:
    """Features held in a dict `{video_id: VideoFeatures}` (tests, benchmarks, predict on one video)."""

    def __init__(self, videos: dict[str, VideoFeatures]):
        self.videos = videos

    def available(self, stream: str = "visual") -> set[str]:
        if stream == "commonsense":
            return {v for v, f in self.videos.items() if f.commonsense is not None}
        return set(self.videos)

    def get(self, video_id: str) -> VideoFeatures:
        try:
            return self.videos[video_id]
        except KeyError:
            raise BadInputError(f"no features for video {video_id!r}") from None
