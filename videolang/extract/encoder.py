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
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from videolang.core.errors import BadInputError, ConfigError, VideolangError
from videolang.core.frame_names import FRAME_EXTENSIONS, check_fps
from videolang.extract.base import Extractor, resolve_device
from videolang.extract.model_files import model_files_digest
from videolang.extract.sources import VideoItem
from videolang.media.audio import SAMPLE_RATE, load_audio
from videolang.media.decode import DECODERS, FrameChunk, FrameSampling, make_decoder
from videolang.media.frames import probe_frames
from videolang.media.probe import MediaInfo, describe_error, probe
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
    """One video's outcome per key: `records` made, `failures` (key -> reason), and `absent` (key -> "no audio
    stream" / "no video stream"): keys whose input stream the file does not have. An absent key is done, not
    failed; its extractor's `absent_record` (if any, e.g. speech's empty transcript) is in `records` too."""

    item: VideoItem
    records: dict[str, FeatureRecord] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    absent: dict[str, str] = field(default_factory=dict)


STREAM_OF_INPUT = {"frames": "video", "audio": "audio"}


def missing_stream(input_kind: str | None, info: MediaInfo | None) -> str | None:
    """"no video stream" / "no audio stream" when the file lacks the stream an input kind is decoded from."""
    if info is None or input_kind not in STREAM_OF_INPUT:
        return None
    has = info.has_video if input_kind == "frames" else info.has_audio
    return None if has else f"no {STREAM_OF_INPUT[input_kind]} stream"


class Encoder:
    def __init__(self, extractors: dict[str, Extractor], decode: dict[str, Any] | None = None,
                 audio: dict[str, Any] | None = None, frames: dict[str, Any] | None = None):
        if not extractors:
            raise ConfigError("no extractors configured (extractor.extractors is empty)")
        decode = check_decode_settings(decode)
        self.backend = decode.pop("backend", "pyav")
        self.chunk_frames = int(decode.pop("chunk_frames", 64))
        self.threads = int(decode.pop("threads", 0))
        tolerance = float(decode.pop("truncation_tolerance_s", 2.0))
        self.sampling = FrameSampling(**decode)
        self.decoder = make_decoder(self.backend, sampling=self.sampling, chunk_frames=self.chunk_frames,
                                    threads=self.threads, truncation_tolerance_s=tolerance)
        audio = dict(audio or {})
        unknown = set(audio) - {"backend"}
        if unknown:
            raise ConfigError(f"unknown extractor.audio option(s) {sorted(unknown)}; known: ['backend']")
        self.audio_backend = audio.get("backend", "auto")
        if self.audio_backend not in AUDIO_BACKENDS:
            raise ConfigError(f"extractor.audio.backend={self.audio_backend!r}: choose one of {list(AUDIO_BACKENDS)}")
        self.tolerance = tolerance
        self.frame_fps, self.frame_extensions = check_frame_settings(frames)
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
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig) and "extractor" in cfg and "extractors" not in cfg:
            cfg = cfg.extractor
        if isinstance(cfg, DictConfig):
            cfg = OmegaConf.to_container(cfg, resolve=True)
        return cls(build_extractors(cfg.get("extractors") or {}), decode=cfg.get("decode"), audio=cfg.get("audio"),
                   frames=cfg.get("frames"))

    # ----- identity of the features
    def fingerprint_config(self, ext: Extractor) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        if ext.input == "frames":
            inputs = {"backend": self.backend, **vars(self.sampling)}
        elif ext.input == "audio":
            inputs = {"sample_rate": SAMPLE_RATE}
        described = {"class": f"{type(ext).__module__}.{type(ext).__qualname__}", "config": ext.config,
                     "input": inputs}
        digest = model_files_digest(ext.config.get("model"))
        if digest:  # a local model: its files, not only its path, name the features (videolang.extract.model_files)
            described["model_files"] = digest
        if ext.requires:  # features computed from another key's output change when that key's do
            described["requires"] = {dep: self.extractors[dep].fingerprint for dep in ext.requires}
        return described

    @property
    def fingerprints(self) -> dict[str, str]:
        return {k: e.fingerprint for k, e in self.extractors.items()}

    def describe(self, key: str) -> dict[str, Any]:
        """What the store's extractor.json (and so a trained checkpoint) records of `key`: its fingerprinted
        configuration, plus the frame folders' stated rate when one is set (`frames`: not fingerprinted, it
        changes no container's features; `stage=predict` reuses it for a frame folder)."""
        ext = self.extractors[key]
        described = {"key": key, "model": ext.model_name, "fingerprint": ext.fingerprint,
                     **self.fingerprint_config(ext)}
        if ext.input == "frames" and self.frame_fps is not None:
            described["frames"] = {"fps": self.frame_fps, "extensions": list(self.frame_extensions)}
        return described

    @contextmanager
    def frame_rate(self, fps: float | None) -> Iterator["Encoder"]:
        """Frame folders are read at `fps` inside the block (None: the configured rate): a per-call rate for
        `encode_video(folder, frames_fps=...)` without rebuilding the extractors."""
        before = self.frame_fps
        if fps is not None:
            self.frame_fps = check_frame_settings({"fps": fps})[0]
        try:
            yield self
        finally:
            self.frame_fps = before

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
        try:  # a folder is a frame folder (JPEG / PNG sequence): a video without audio, decoded the same way
            info = probe_frames(item.path, self.frame_fps, self.frame_extensions) if os.path.isdir(item.path) \
                else probe(item.path)
        except BadInputError as e:
            yield Piece("error", item, reason=e.problem)
            return
        if not info.has_video and not info.has_audio:
            yield Piece("error", item, reason="no audio or video stream in the file")
            return
        yield Piece("start", item, info=info)
        # a stream the file does not have is not decoded: the Assembler records its keys as absent, not failed
        if "frames" in inputs and info.has_video:
            try:
                for chunk in self.decoder.frames(info):
                    yield Piece("frames", item, data=FrameChunk(chunk.times, torch.from_numpy(chunk.frames)))
            except BadInputError as e:
                yield Piece("error", item, input="frames", reason=e.problem)
        if "audio" in inputs and info.has_audio:
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
            for key, ext in self.extractors.items():
                try:
                    ext.load(device)
                except VideolangError:
                    raise
                except (OSError, ValueError, ImportError) as e:  # a model folder or name that does not load
                    name = ext.model_name
                    looks_local = os.path.isabs(name) or name.startswith((".", "~")) or os.sep + os.sep in name
                    text = "no such folder" if looks_local and not os.path.exists(os.path.expanduser(name)) else \
                        " ".join(str(e).split())[:400]
                    raise BadInputError(f"cannot load the '{key}' model: {text}", name,
                                        hint=f"check extractor.extractors.{key}.model (for the tiny zoo: "
                                             "paths.model_dir, made by stage=make_zoo)") from None
            self.device = device
        return self

    def torch_modules(self) -> torch.nn.ModuleList:
        """Every loaded torch model of the extractors, as one module (for counting parameters)."""
        return torch.nn.ModuleList([m for ext in self.extractors.values() for m in ext.torch_modules()])

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
        self.open: dict[str, tuple[VideoResult, dict[str, Any], float, MediaInfo | None]] = {}

    def consume(self, piece: Piece) -> VideoResult | None:
        vid = piece.item.video_id
        wanted = piece.item.keys or tuple(self.encoder.extractors)
        keys = self.encoder.with_requirements(piece.item.keys)  # requirements before their dependants
        if piece.kind == "error" and piece.input is None:  # the file cannot be opened at all
            return VideoResult(piece.item, failures={k: piece.reason for k in wanted})
        if piece.kind == "start":
            result, states = VideoResult(piece.item), {}
            for key in keys:
                # no stream for its input (or a requirement without one): nothing to compute, nothing failed
                reason = missing_stream(self.ext(key).input, piece.info) or \
                    next((result.absent[d] for d in self.ext(key).requires if d in result.absent), None)
                if reason is not None:
                    result.absent[key] = reason
                    continue
                self._guard(result, key, lambda k=key: states.__setitem__(k, self.ext(k).begin(piece.item, piece.info)))
            for key in keys:
                if self._active(result, key) and self.ext(key).requires and self._requirements_ok(result, key):
                    deps = {d: states[d] for d in self.ext(key).requires}
                    self._guard(result, key, lambda k=key, deps=deps: self.ext(k).link(states[k], deps))
            self.open[vid] = (result, states, time.perf_counter(), piece.info)
            return None
        result, states, started, info = self.open[vid]
        if piece.kind == "error":
            for key in keys:
                if self.ext(key).input == piece.input and key not in result.absent:
                    result.failures.setdefault(key, piece.reason)
        elif piece.kind in ("frames", "audio"):
            data = piece.data if piece.kind == "frames" else piece.data.numpy()
            for key in keys:
                if self.ext(key).input == piece.kind and self._active(result, key) and \
                        self._requirements_ok(result, key):
                    self._guard(result, key, lambda k=key: self.ext(k).update(states[k], data))
        elif piece.kind == "end":
            for key in keys:
                if key in result.absent:
                    self._guard(result, key, lambda k=key: self._store_absent(result, k, info))
                elif key not in result.failures and self._requirements_ok(result, key):
                    self._guard(result, key, lambda k=key: result.records.__setitem__(k, self.ext(k).finish(states[k])))
            del self.open[vid]
            # keys computed only because another key needs them are not reported (they are already stored)
            result.records = {k: r for k, r in result.records.items() if k in wanted}
            result.failures = {k: r for k, r in result.failures.items() if k in wanted}
            result.absent = {k: r for k, r in result.absent.items() if k in wanted and k not in result.failures}
            result.seconds = time.perf_counter() - started
            return result
        return None

    @staticmethod
    def _active(result: VideoResult, key: str) -> bool:
        return key not in result.failures and key not in result.absent

    def _store_absent(self, result: VideoResult, key: str, info: MediaInfo | None) -> None:
        record = self.ext(key).absent_record(result.item, info, result.absent[key])
        if record is not None:
            result.records[key] = record

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


AUDIO_BACKENDS = ("auto", "torchaudio", "pyav")


def check_decode_settings(decode: dict[str, Any] | None) -> dict[str, Any]:
    """`extractor.decode` as a dict, or a usage error naming the first bad setting (a bad fps must not turn
    into one failure per video, nor an unknown option into a traceback)."""
    decode = dict(decode or {})
    known = {"backend", "chunk_frames", "threads", "truncation_tolerance_s", "fps", "num_frames", "size", "crop"}
    unknown = set(decode) - known
    if unknown:
        raise ConfigError(f"unknown extractor.decode option(s) {sorted(unknown)}; known: {sorted(known)}")

    def number(name: str, kind: type, minimum: float, allow_none: bool = False):
        value = decode.get(name)
        if value is None and allow_none:
            return
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= minimum and \
            (kind is float or float(value) == int(value)) and value == value and value != float("inf")
        if not ok:
            what = "a whole number" if kind is int else "a number"
            raise ConfigError(f"extractor.decode.{name}={value!r} must be {what} >= {minimum}"
                              + (" (or null)" if allow_none else ""))

    if "backend" in decode and decode["backend"] not in DECODERS:
        raise ConfigError(f"extractor.decode.backend={decode['backend']!r}: choose one of {sorted(DECODERS)}")
    for name, kind, minimum in (("chunk_frames", int, 1), ("threads", int, 0), ("truncation_tolerance_s", float, 0),
                                ("size", int, 1)):
        if name in decode:
            number(name, kind, minimum)
    number("num_frames", int, 1, allow_none=True)
    if not decode.get("num_frames"):
        if "fps" in decode:
            number("fps", float, 1e-6)
    elif "fps" in decode:
        number("fps", float, 1e-6, allow_none=True)
    if "crop" in decode and not isinstance(decode["crop"], bool):
        raise ConfigError(f"extractor.decode.crop={decode['crop']!r} must be true or false")
    return decode


def check_frame_settings(frames: dict[str, Any] | None) -> tuple[float | None, tuple[str, ...]]:
    """`extractor.frames` -> (the stated frame rate of frame folders or None, their image extensions)."""
    frames = dict(frames or {})
    unknown = set(frames) - {"fps", "extensions"}
    if unknown:
        raise ConfigError(f"unknown extractor.frames option(s) {sorted(unknown)}; known: ['extensions', 'fps']")
    fps = check_fps(frames.get("fps"), "extractor.frames.fps")
    extensions = frames.get("extensions") or FRAME_EXTENSIONS
    if isinstance(extensions, str) or not all(isinstance(e, str) for e in extensions):
        raise ConfigError(f"extractor.frames.extensions={extensions!r} must be a list of file extensions")
    return fps, tuple(e.lower().lstrip(".") for e in extensions)


def build_extractors(specs: dict[str, Any]) -> dict[str, Extractor]:
    """{key: config with _target_} -> built extractors; an extractor's own config error stays one paragraph."""
    import hydra.utils
    from hydra.errors import InstantiationException

    built = {}
    for key, spec in specs.items():
        if not spec:
            continue
        if not isinstance(spec, dict) or "_target_" not in spec:
            raise ConfigError(f"extractor.extractors.{key} is not an extractor config (no _target_): {spec!r}",
                              hint="choose one of conf/extractor/*.yaml with extractor@extractor.extractors."
                                   f"{key}=<name>")
        try:
            built[key] = hydra.utils.instantiate(spec)
        except InstantiationException as e:
            if isinstance(e.__cause__, VideolangError):  # hydra wraps it; the user needs the message, not a trace
                raise e.__cause__ from None
            if isinstance(e.__cause__, TypeError):  # an option the extractor does not take, or a missing one
                raise ConfigError(f"extractor.extractors.{key}: {e.__cause__}",
                                  hint=f"see conf/extractor/ for the options of {spec['_target_']}") from None
            if isinstance(e.__cause__, (ImportError, AttributeError)) or "Error locating target" in str(e):
                raise ConfigError(f"extractor.extractors.{key}: cannot find its class {spec['_target_']!r}") from None
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
