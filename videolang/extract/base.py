"""The extractor interface: one feature key, fed the chunks of one video at a time.

A new extractor is one module with a subclass of `Extractor` plus one config file
in `conf/extractor/`. The encoder drives every extractor the same way:

    ext.load(device)                          # once, in the process that computes
    state = ext.begin(item, info)             # per video
    ext.update(state, chunk)                  # per FrameChunk (input "frames") or once with the audio array
    record = ext.finish(state)                # -> FeatureRecord

A video without the extractor's input stream (no audio stream, no video stream) is not
a failure: `begin` is never called, and `absent_record(item, info, reason)` says what,
if anything, to store (nothing by default).

`config` holds every option that changes the output (it is hashed into the
fingerprint); runtime options (batch size, device, threads) stay out of it.
"""
from __future__ import annotations

from typing import Any

import torch

from videolang.extract.sources import VideoItem
from videolang.media.probe import MediaInfo
from videolang.store.record import FeatureRecord


class Extractor:
    #: what the extractor consumes: "frames" (FrameChunk), "audio" (16 kHz mono float32) or None (no media)
    input: str | None = None
    #: keys whose per-video state this extractor reads (computed first, in the same process; see `link`)
    requires: tuple[str, ...] = ()

    def __init__(self, **config: Any):
        self.config = config
        self.key = type(self).__name__.lower()  # set by the Encoder to the configured key name
        self.fingerprint = ""                   # set by the Encoder
        self.device = torch.device("cpu")

    @property
    def model_name(self) -> str:
        return str(self.config.get("model", type(self).__name__))

    def load(self, device: torch.device) -> None:
        self.device = device

    def torch_modules(self) -> list[torch.nn.Module]:
        """The loaded torch models this extractor runs (its attributes that are modules): what the large-model
        warning counts. Models of other runtimes (faster-whisper's CTranslate2) are not torch modules."""
        return [value for value in vars(self).values() if isinstance(value, torch.nn.Module)]

    def begin(self, item: VideoItem, info: MediaInfo | None) -> Any:
        return []

    def link(self, state: Any, required: dict[str, Any]) -> None:
        """Called once per video after every `begin`, with the states of the `requires` keys, which are
        always updated before this extractor on each chunk."""

    def check_items(self, items: list[VideoItem]) -> list[str]:
        """Warnings about the run's video list as a whole (e.g. input files that match no video); none here."""
        return []

    def update(self, state: Any, data: Any) -> None:
        raise NotImplementedError

    def absent_record(self, item: VideoItem, info: MediaInfo | None, reason: str) -> FeatureRecord | None:
        """What to store for a video that has no stream of this extractor's input (`reason`: "no audio stream"
        or "no video stream"). None (the default): nothing is stored, the manifest records the key as done with
        that reason and n=0, and readers find no features for it, as for any video without them. An extractor
        whose feature has a natural empty value returns it instead (speech: an empty transcript)."""
        return None

    def finish(self, state: Any) -> FeatureRecord:
        raise NotImplementedError

    def amp(self):
        """bf16 autocast (fp16 where bf16 is missing) on GPU when the `autocast` option is on; off on CPU."""
        enabled = bool(getattr(self, "autocast", False)) and self.device.type == "cuda"
        return torch.autocast(self.device.type, dtype=autocast_dtype(self.device), enabled=enabled)

    def record(self, array, timestamps, fps: float | None, **kwargs: Any) -> FeatureRecord:
        return FeatureRecord(key=self.key, array=array, timestamps=timestamps, fps=fps, model=self.model_name,
                             fingerprint=self.fingerprint, **kwargs)


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """"auto" (or None) -> the current CUDA device when there is one, else CPU."""
    if device in (None, "auto"):
        return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    return torch.device(device)


def autocast_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
