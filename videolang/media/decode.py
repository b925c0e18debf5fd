"""Frame decoding: which frames to take, and two interchangeable backends that take them.

Sampling is defined on presentation times, never on frame indices, so variable
frame rate and odd containers sample the same moments: target times are
`k / fps` (or `num_frames` segment centres), and each target takes the frame on
screen at that moment (the last frame whose timestamp is <= the target). The
targets are the timestamps stored with the features.

Frames are scaled (shorter side to `size`) inside the decoder and centre-cropped
right after, and handed out in chunks of `chunk_frames`, so memory stays bounded
for a 3-hour video.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from videolang.core.errors import BadInputError, ConfigError
from videolang.media.frames import read_frames
from videolang.media.probe import MediaInfo, describe_error

_EPS = 1e-6


@dataclass
class FrameChunk:
    """Consecutive sampled frames: target `times` (n,) seconds, `frames` (n, H, W, 3) uint8 RGB, and
    `frame_times` (n,): the presentation time of the frame taken for each target (for checks)."""

    times: np.ndarray
    frames: np.ndarray
    frame_times: np.ndarray | None = None


@dataclass(frozen=True)
class FrameSampling:
    """Where frames are taken and how they are shaped (these values are part of the visual fingerprint)."""

    fps: float | None = 1.0
    num_frames: int | None = None  # when set, overrides fps: this many frames at segment centres
    size: int = 224                # shorter side after scaling
    crop: bool = True              # centre crop to size x size

    def targets(self, duration: float) -> np.ndarray:
        if self.num_frames:
            return (np.arange(self.num_frames) + 0.5) * duration / self.num_frames
        if not self.fps or self.fps <= 0:
            raise BadInputError("frame sampling needs fps > 0 or num_frames > 0")
        return np.arange(0.0, max(duration - _EPS, 0.0), 1.0 / self.fps)

    def scaled_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) with the shorter side at `size`, keeping the aspect ratio, at least `size`."""
        scale = self.size / min(width, height)
        return max(self.size, round(width * scale)), max(self.size, round(height * scale))

    def crop_frames(self, frames: np.ndarray) -> np.ndarray:
        if not self.crop:
            return frames
        h, w = frames.shape[1:3]
        top, left = (h - self.size) // 2, (w - self.size) // 2
        return frames[:, top:top + self.size, left:left + self.size]


def select_frames(frame_times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each target time, the index of the frame on screen then (the last one starting at or before it)."""
    idx = np.searchsorted(frame_times, targets + _EPS, side="right") - 1
    return np.clip(idx, 0, len(frame_times) - 1)


class FrameDecoder:
    """Decode the sampled frames of a video: `frames(info)` yields `FrameChunk`s in time order."""

    name = "base"

    def __init__(self, sampling: FrameSampling | None = None, chunk_frames: int = 64, threads: int = 0,
                 truncation_tolerance_s: float = 2.0):
        self.sampling = sampling or FrameSampling()
        self.chunk_frames = chunk_frames
        self.threads = threads
        self.truncation_tolerance_s = truncation_tolerance_s

    def frames(self, info: MediaInfo) -> Iterator[FrameChunk]:
        if not info.has_video:
            raise BadInputError("no video stream", info.path)
        if not info.video_duration or info.video_duration <= 0:
            raise BadInputError("video stream has no duration (no frames?)", info.path)
        try:
            if info.frame_files is not None:  # a frame folder: the same targets and selection, images read by PIL
                for times, frames, frame_times in read_frames(
                        info, self.sampling.targets(info.video_duration), select_frames, self.sampling.scaled_size,
                        self.sampling.crop_frames, self.chunk_frames):
                    yield FrameChunk(times, frames, frame_times)
                return
            yield from self._frames(info)
        except BadInputError:
            raise
        except Exception as e:  # noqa: BLE001 - decoder libraries raise anything; name the file and go on
            raise BadInputError(f"cannot decode video: {describe_error(e)}", info.path) from None

    def _frames(self, info: MediaInfo) -> Iterator[FrameChunk]:
        raise NotImplementedError

    def check_complete(self, info: MediaInfo, last_frame_time: float | None) -> None:
        """A file whose frames stop well before its stated duration is truncated: fail rather than pad."""
        if last_frame_time is None:
            raise BadInputError("no decodable video frames (corrupt or truncated file)", info.path)
        missing = info.video_duration - last_frame_time
        if missing > self.truncation_tolerance_s + 1.0 / (info.fps or 1.0):
            raise BadInputError(f"truncated video: frames stop at {last_frame_time:.1f} s of {info.video_duration:.1f} s",
                                info.path)

    def _chunk(self, times: list[float], frame_times: list[float], frames: list[np.ndarray]) -> FrameChunk:
        return FrameChunk(np.asarray(times), self.sampling.crop_frames(np.stack(frames)), np.asarray(frame_times))


class DecordDecoder(FrameDecoder):
    """decord with scaling in the decoder; frames picked from the container index, read in sorted chunks.

    decord applies the display rotation itself; `width`/`height` are display sizes.
    """

    name = "decord"

    def _frames(self, info: MediaInfo) -> Iterator[FrameChunk]:
        import decord

        w, h = self.sampling.scaled_size(info.width, info.height)
        vr = decord.VideoReader(info.path, ctx=decord.cpu(0), width=w, height=h, num_threads=self.threads)
        n = len(vr)
        if n == 0:
            raise BadInputError("no decodable video frames", info.path)
        starts = vr.get_frame_timestamp(np.arange(n))[:, 0].astype(np.float64) - info.video_start
        self.check_complete(info, float(starts[-1]))
        targets = self.sampling.targets(info.video_duration)
        indices = select_frames(starts, targets)
        for lo in range(0, len(targets), self.chunk_frames):
            idx = indices[lo:lo + self.chunk_frames]
            batch = vr.get_batch(idx.tolist()).asnumpy()
            yield FrameChunk(targets[lo:lo + self.chunk_frames], self.sampling.crop_frames(batch), starts[idx])


class PyAVDecoder(FrameDecoder):
    """PyAV, decoding sequentially with codec threads and converting only the frames that are kept.

    For 1 fps sampling of long-GOP video every reference frame must be decoded anyway;
    the rest is skipped: while the next target is further away than the decoder's
    pipeline depth, non-reference frames (most B-frames) are not decoded at all
    (`skip_frame=NONREF`, which never damages later frames), and only the kept frames
    are converted, YUV -> RGB at the target size in one swscale call.
    """

    name = "pyav"

    def _frames(self, info: MediaInfo) -> Iterator[FrameChunk]:
        import av

        targets = self.sampling.targets(info.video_duration)
        dw, dh = self.sampling.scaled_size(info.width, info.height)
        ow, oh = (dh, dw) if info.rotation in (90, 270) else (dw, dh)  # coded orientation
        k_rot = info.rotation // 90
        times: list[float] = []
        frame_times: list[float] = []
        frames: list[np.ndarray] = []
        k, last_time = 0, None

        def convert(frame) -> np.ndarray:
            rgb = frame.to_ndarray(width=ow, height=oh, format="rgb24", interpolation="AREA")
            rgb = np.rot90(rgb, k_rot) if k_rot else rgb
            # cropped now, not per chunk: a very wide video (16:1) would otherwise hold chunk_frames full rows
            return np.ascontiguousarray(self.sampling.crop_frames(rgb[None])[0])

        with av.open(info.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if self.threads:
                stream.codec_context.thread_count = self.threads
            cc, skipping = stream.codec_context, False
            # skip only beyond the frames in flight inside a threaded decoder (plus two), measured with
            # the longest frame interval seen so far, so variable frame rate stays exact
            depth = (self.threads or min(os.cpu_count() or 1, 16)) + 2
            gap = 1.0 / (info.fps or 30.0)
            prev = None
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                t = frame.time - info.video_start
                while k < len(targets) and t > targets[k] + _EPS:
                    taken = prev if prev is not None else frame
                    times.append(targets[k])
                    frame_times.append(taken.time - info.video_start)
                    frames.append(convert(taken))
                    k += 1
                    if len(frames) == self.chunk_frames:
                        yield self._chunk(times, frame_times, frames)
                        times, frame_times, frames = [], [], []
                if last_time is not None and not skipping:
                    gap = max(gap, t - last_time)
                prev, last_time = frame, t
                if k == len(targets):
                    break
                far = targets[k] - t > depth * gap + 0.1
                if far != skipping:
                    cc.skip_frame, skipping = ("NONREF" if far else "DEFAULT"), far
            if k < len(targets):
                self.check_complete(info, last_time)
                for target in targets[k:]:  # the last frame stays on screen until the end
                    times.append(target)
                    frame_times.append(last_time)
                    frames.append(convert(prev))
                    if len(frames) == self.chunk_frames:
                        yield self._chunk(times, frame_times, frames)
                        times, frame_times, frames = [], [], []
        if frames:
            yield self._chunk(times, frame_times, frames)


DECODERS = {DecordDecoder.name: DecordDecoder, PyAVDecoder.name: PyAVDecoder}


def make_decoder(backend: str = "pyav", **kwargs) -> FrameDecoder:
    try:
        return DECODERS[backend](**kwargs)
    except KeyError:
        raise ConfigError(f"unknown decoder backend {backend!r}; choose one of {sorted(DECODERS)}") from None
