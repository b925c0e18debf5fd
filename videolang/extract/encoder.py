"""`Encoder`: raw video in, every feature key out. The single code path of `stage=extract` and `stage=predict`.

    enc = Encoder.from_config(cfg.extractor)        # or encode_video(path, cfg)
    records = enc.encode("talk.mp4")                # {"visual": FeatureRecord, "audio": ..., "speech": ...}

Work is split in two halves so the stage can run them in different processes:
`stream(item)` decodes (probe, frames in chunks, audio) into `Piece`s and needs no
model; `Assembler.consume(piece)` feeds them to the extractors and hands back a
`VideoResult` when a video is complete. `encode` simply runs both in-process.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from videolang.core.errors import BadInputError, ConfigError
from videolang.extract.audio import SAMPLE_RATE, load_audio
from videolang.extract.base import Extractor, resolve_device
from videolang.extract.decode import FrameChunk, FrameSampling, make_decoder
from videolang.extract.media import MediaInfo, describe_error, probe
from videolang.extract.sources import VideoItem
from videolang.store.record import FeatureRecord, fingerprint_of

log = logging.getLogger(__name__)


@dataclass
class Piece:
    """One message from the decoding half: kind is "start", "frames", "audio", "error" or "end"."""

    kind: str
    item: VideoItem
    info: MediaInfo | None = None
    data: Any = None           # FrameChunk (frames as a torch uint8 tensor) or audio (torch float32)
    input: str | None = None   # for "error": which input failed ("frames", "audio" or None for the whole file)
    reason: str | None = None


@dataclass
class VideoResult:
    item: VideoItem
    records: dict[str, FeatureRecord] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class Encoder:
    def __init__(self, extractors: dict[str, Extractor], decode: dict[str, Any] | None = None,
                 audio: dict[str, Any] | None = None):
        if not extractors:
            raise ConfigError("no extractors configured (extractor.extractors is empty)")
        decode = dict(decode or {})
        self.backend = decode.pop("backend", "pyav")
        self.chunk_frames = int(decode.pop("chunk_frames", 64))
        self.threads = int(decode.pop("threads", 0))
        tolerance = float(decode.pop("truncation_tolerance_s", 2.0))
        self.sampling = FrameSampling(**decode)
        self.decoder = make_decoder(self.backend, sampling=self.sampling, chunk_frames=self.chunk_frames,
                                    threads=self.threads, truncation_tolerance_s=tolerance)
        audio = dict(audio or {})
        self.audio_backend = audio.get("backend", "auto")
        self.tolerance = tolerance
        self.extractors = order_by_requirements(extractors)
        for key, ext in self.extractors.items():  # requirements first: their fingerprints feed the dependants'
            ext.key = key
            ext.fingerprint = fingerprint_of(self.fingerprint_config(ext))
            if ext.input == "frames":
                ext.sampling_fps = None if self.sampling.num_frames else self.sampling.fps
                ext.sampling = self.sampling  # frame extractors that map pixels (regions) need the scale and crop
        self.device: torch.device | None = None

    @classmethod
    def from_config(cls, cfg) -> "Encoder":
        """Build from the `extractor` config group (or a full config holding one)."""
        import hydra.utils
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig) and "extractor" in cfg and "extractors" not in cfg:
            cfg = cfg.extractor
        if isinstance(cfg, DictConfig):
            cfg = OmegaConf.to_container(cfg, resolve=True)
        return cls(build_extractors(cfg.get("extractors") or {}), decode=cfg.get("decode"), audio=cfg.get("audio"))

    # ----- identity of the features
    def fingerprint_config(self, ext: Extractor) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        if ext.input == "frames":
            inputs = {"backend": self.backend, **vars(self.sampling)}
        elif ext.input == "audio":
            inputs = {"sample_rate": SAMPLE_RATE}
        described = {"class": f"{type(ext).__module__}.{type(ext).__qualname__}", "config": ext.config,
                     "input": inputs}
        if ext.requires:  # features computed from another key's output change when that key's do
            described["requires"] = {dep: self.extractors[dep].fingerprint for dep in ext.requires}
        return described

    @property
    def fingerprints(self) -> dict[str, str]:
        return {k: e.fingerprint for k, e in self.extractors.items()}

    def describe(self, key: str) -> dict[str, Any]:
        ext = self.extractors[key]
        return {"key": key, "model": ext.model_name, "fingerprint": ext.fingerprint, **self.fingerprint_config(ext)}

    def with_requirements(self, keys: tuple[str, ...] | None) -> tuple[str, ...]:
        """`keys` plus every key they need (transitively), in computing order (all keys for None)."""
        if not keys:
            return tuple(self.extractors)
        needed, stack = set(), list(keys)
        while stack:
            key = stack.pop()
            if key not in needed:
                needed.add(key)
                stack.extend(self.extractors[key].requires)
        return tuple(k for k in self.extractors if k in needed)

    # ----- the decoding half (no models; runs in DataLoader workers)
    def stream(self, item: VideoItem) -> Iterator[Piece]:
        keys = self.with_requirements(item.keys)
        inputs = {self.extractors[k].input for k in keys}
        if not inputs - {None}:  # e.g. imported transcripts only: the media file is not needed
            yield Piece("start", item)
            yield Piece("end", item)
            return
        try:
            info = probe(item.path)
        except BadInputError as e:
            yield Piece("error", item, reason=e.problem)
            return
        yield Piece("start", item, info=info)
        if "frames" in inputs:
            try:
                for chunk in self.decoder.frames(info):
                    yield Piece("frames", item, data=FrameChunk(chunk.times, torch.from_numpy(chunk.frames)))
            except BadInputError as e:
                yield Piece("error", item, input="frames", reason=e.problem)
        if "audio" in inputs:
            try:
                audio = load_audio(info, SAMPLE_RATE, self.audio_backend, self.tolerance)
                yield Piece("audio", item, data=torch.from_numpy(audio))
            except BadInputError as e:
                yield Piece("error", item, input="audio", reason=e.problem)
        yield Piece("end", item)

    # ----- the computing half (models; main process, one per device)
    def load(self, device: str | torch.device | None = "auto") -> "Encoder":
        device = resolve_device(device)
        if self.device != device:
            for ext in self.extractors.values():
                ext.load(device)
            self.device = device
        return self

    def assembler(self) -> "Assembler":
        return Assembler(self)

    def try_encode(self, item: VideoItem | str | Path) -> VideoResult:
        """Every feature of one video in this process; failures per key instead of exceptions."""
        if not isinstance(item, VideoItem):
            item = VideoItem(Path(item).stem, str(item))
        self.load(self.device or "auto")
        assembler = self.assembler()
        for piece in self.stream(item):
            result = assembler.consume(piece)
            if result is not None:
                return result
        raise RuntimeError("stream ended without an end piece")  # pragma: no cover

    def encode(self, path: str | Path | VideoItem, strict: bool = True) -> dict[str, FeatureRecord]:
        """{key: FeatureRecord} for one raw video. `strict`: raise BadInputError when any key failed."""
        result = self.try_encode(path)
        if strict and result.failures:
            problems = "; ".join(f"{k}: {r}" for k, r in result.failures.items())
            raise BadInputError(f"feature extraction failed ({problems})", result.item.path)
        return result.records


class Assembler:
    """Feeds the pieces of each video to the extractors; returns a VideoResult at each video's end.

    Pieces of different videos may interleave (several decoding workers); the pieces
    of one video always arrive in order.
    """

    def __init__(self, encoder: Encoder):
        self.encoder = encoder
        self.open: dict[str, tuple[VideoResult, dict[str, Any], float]] = {}

    def consume(self, piece: Piece) -> VideoResult | None:
        vid = piece.item.video_id
        wanted = piece.item.keys or tuple(self.encoder.extractors)
        keys = self.encoder.with_requirements(piece.item.keys)  # requirements before their dependants
        if piece.kind == "error" and piece.input is None:  # the file cannot be opened at all
            return VideoResult(piece.item, failures={k: piece.reason for k in wanted})
        if piece.kind == "start":
            result, states = VideoResult(piece.item), {}
            for key in keys:
                self._guard(result, key, lambda k=key: states.__setitem__(k, self.ext(k).begin(piece.item, piece.info)))
            for key in keys:
                if key not in result.failures and self.ext(key).requires and self._requirements_ok(result, key):
                    deps = {d: states[d] for d in self.ext(key).requires}
                    self._guard(result, key, lambda k=key, deps=deps: self.ext(k).link(states[k], deps))
            self.open[vid] = (result, states, time.perf_counter())
            return None
        result, states, started = self.open[vid]
        if piece.kind == "error":
            for key in keys:
                if self.ext(key).input == piece.input:
                    result.failures.setdefault(key, piece.reason)
        elif piece.kind in ("frames", "audio"):
            data = piece.data if piece.kind == "frames" else piece.data.numpy()
            for key in keys:
                if self.ext(key).input == piece.kind and key not in result.failures and \
                        self._requirements_ok(result, key):
                    self._guard(result, key, lambda k=key: self.ext(k).update(states[k], data))
        elif piece.kind == "end":
            for key in keys:
                if key not in result.failures and self._requirements_ok(result, key):
                    self._guard(result, key, lambda k=key: result.records.__setitem__(k, self.ext(k).finish(states[k])))
            del self.open[vid]
            # keys computed only because another key needs them are not reported (they are already stored)
            result.records = {k: r for k, r in result.records.items() if k in wanted}
            result.failures = {k: r for k, r in result.failures.items() if k in wanted}
            result.seconds = time.perf_counter() - started
            return result
        return None

    def _requirements_ok(self, result: VideoResult, key: str) -> bool:
        """False (and `key` recorded as failed) when a key it needs has failed."""
        for dep in self.ext(key).requires:
            if dep in result.failures:
                result.failures.setdefault(key, f"needs '{dep}', which failed: {result.failures[dep]}")
                return False
        return True

    def ext(self, key: str) -> Extractor:
        return self.encoder.extractors[key]

    @staticmethod
    def _guard(result: VideoResult, key: str, fn) -> None:
        try:
            fn()
        except BadInputError as e:
            result.failures[key] = e.problem
        except Exception as e:  # noqa: BLE001 - one video's model failure must not end a week-long run
            log.exception("extractor %s failed on %s", key, result.item.path)
            result.failures[key] = f"extractor error: {describe_error(e)}"


def build_extractors(specs: dict[str, Any]) -> dict[str, Extractor]:
    """{key: config with _target_} -> built extractors; an extractor's own config error stays one paragraph."""
    import hydra.utils
    from hydra.errors import InstantiationException

    from videolang.core.errors import VideolangError

    built = {}
    for key, spec in specs.items():
        if not spec:
            continue
        try:
            built[key] = hydra.utils.instantiate(spec)
        except InstantiationException as e:
            if isinstance(e.__cause__, VideolangError):  # hydra wraps it; the user needs the message, not a trace
                raise e.__cause__ from None
            raise
    return built


def order_by_requirements(extractors: dict[str, Extractor]) -> dict[str, Extractor]:
    """The extractors with every key after the keys it `requires` (config order otherwise kept)."""
    ordered: dict[str, Extractor] = {}
    visiting: set[str] = set()

    def visit(key: str, needed_by: str | None) -> None:
        if key in ordered:
            return
        if key not in extractors:
            raise ConfigError(f"extractor '{needed_by}' needs the '{key}' extractor, which is not configured "
                              f"(configured: {', '.join(extractors)})")
        if key in visiting:
            raise ConfigError(f"extractors require each other in a cycle through '{key}'")
        visiting.add(key)
        for dep in extractors[key].requires:
            visit(dep, key)
        visiting.discard(key)
        ordered[key] = extractors[key]

    for key in extractors:
        visit(key, None)
    return ordered


def encode_video(path: str | Path, cfg_or_encoder, strict: bool = True) -> dict[str, FeatureRecord]:
    """One raw video -> {key: FeatureRecord}, exactly as `stage=extract` computes them.

    `cfg_or_encoder`: an `Encoder`, a dict of built extractors, or a config (the `extractor` group
    or a full run config). Build an `Encoder` once and call `.encode` to reuse loaded models.
    """
    if isinstance(cfg_or_encoder, Encoder):
        encoder = cfg_or_encoder
    elif isinstance(cfg_or_encoder, dict) and cfg_or_encoder and all(isinstance(v, Extractor) for v in cfg_or_encoder.values()):
        encoder = Encoder(cfg_or_encoder)
    else:
        encoder = Encoder.from_config(cfg_or_encoder)
    return encoder.encode(path, strict=strict)
