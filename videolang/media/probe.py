"""Probe a media file once, and turn every way it can be broken into one clear reason.

Everything downstream (decoders, audio loading, extractors) starts from a
`MediaInfo`, so a zero-byte file, an unreadable path or a missing stream is
caught here with the same words for every backend.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videolang.core.errors import BadInputError
from videolang.core.io import special_file_kind


@dataclass
class MediaInfo:
    path: str
    size_bytes: int
    has_video: bool
    has_audio: bool
    duration: float | None = None        # container duration, seconds
    video_duration: float | None = None  # of the video stream (from its header, else from its packets)
    audio_duration: float | None = None
    width: int | None = None             # as displayed (after rotation)
    height: int | None = None
    rotation: int = 0                    # degrees counter-clockwise to display (0, 90, 180, 270)
    fps: float | None = None             # average frame rate (informative only: sampling uses timestamps)
    video_codec: str | None = None
    audio_codec: str | None = None
    video_start: float = 0.0             # first presentation time of the video stream, seconds
    frame_files: tuple[str, ...] | None = None  # a frame folder (media.frames): its images in display order ...
    frame_times: Any = None                     # ... and when each one comes on screen (seconds, numpy array)


def _seconds(value, time_base) -> float | None:
    return None if value is None or time_base is None else float(value * time_base)


def probe(path: str | Path) -> MediaInfo:
    """Open `path` with PyAV and describe its streams; raise BadInputError with the reason it cannot be used."""
    import av

    path = str(path)
    check_readable(path)
    size = os.path.getsize(path)
    try:
        container = av.open(path)
    except Exception as e:  # noqa: BLE001 - every PyAV failure becomes a reason
        raise BadInputError(f"cannot open as media: {describe_error(e)}", path) from None
    with container:
        vstreams, astreams = container.streams.video, container.streams.audio
        if vstreams and _is_cover_art(vstreams[0]):
            vstreams = ()  # an audio file's cover picture (mp3, m4a) is no video: treat the file as audio-only
        info = MediaInfo(path=path, size_bytes=size, has_video=bool(vstreams), has_audio=bool(astreams),
                         duration=None if container.duration is None else container.duration / 1_000_000)
        if vstreams:
            v = vstreams[0]
            cc = v.codec_context
            info.video_codec = cc.name if cc is not None else None
            info.video_start = _seconds(v.start_time, v.time_base) or 0.0
            info.video_duration = _seconds(v.duration, v.time_base)
            info.fps = float(v.average_rate) if v.average_rate else None
            w, h = cc.width, cc.height
            info.rotation = _first_frame_rotation(container, v)
            info.width, info.height = (h, w) if info.rotation in (90, 270) else (w, h)
        if astreams:
            a = astreams[0]
            info.audio_codec = a.codec_context.name if a.codec_context is not None else None
            info.audio_duration = _seconds(a.duration, a.time_base)
    if info.has_video and info.video_duration is None:
        info.video_duration = _duration_from_packets(path, info.video_start) or info.duration
    return info


def _is_cover_art(stream) -> bool:
    import av

    try:
        return bool(int(stream.disposition) & int(av.stream.Disposition.attached_pic))
    except (AttributeError, TypeError, ValueError):
        return False


def check_readable(path: str) -> None:
    """A media file that can be opened: not missing, not a folder, and a regular file (a named pipe would
    block the decoder's open until someone writes to it, /dev/zero would be read without end)."""
    if not os.path.exists(path):
        raise BadInputError("file not found", path)
    if os.path.isdir(path):
        raise BadInputError("is a folder, not a media file", path)
    kind = special_file_kind(os.stat(path).st_mode)
    if kind is not None:
        raise BadInputError(f"is {kind}, not a media file", path)
    if not os.access(path, os.R_OK):
        raise BadInputError("cannot read file: permission denied", path)
    if os.path.getsize(path) == 0:
        raise BadInputError("empty file (0 bytes)", path)


def _first_frame_rotation(container, stream) -> int:
    """Display rotation (degrees counter-clockwise, as ffmpeg's autorotate applies it) of the first frame.

    PyAV exposes the display matrix on frames, not streams; decoding one frame is cheap
    and the decoders report real decoding problems themselves, so failures mean 0 here.
    """
    try:
        for frame in container.decode(stream):
            return int(round((frame.rotation or 0) / 90.0)) * 90 % 360
    except Exception:  # noqa: BLE001
        pass
    return 0


def _duration_from_packets(path: str, start: float) -> float | None:
    """End of the last video packet, for containers whose headers do not say (some webm/mkv)."""
    import av

    end = None
    try:
        with av.open(path) as c:
            v = c.streams.video[0]
            for packet in c.demux(v):
                if packet.pts is not None and packet.time_base is not None:
                    t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                    end = t if end is None else max(end, t)
    except Exception:  # noqa: BLE001 - a best-effort fallback; decoding reports real problems
        return None
    return None if end is None else end - start


def describe_error(exc: BaseException) -> str:
    """One line for a decoder exception: the class of problem first, then the library's words."""
    text = getattr(exc, "strerror", None) or " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"\[\d\d:\d\d:\d\d\] \S+:\d+: (Error: )?", "", text)  # decord's "[time] file.cc:line: " prefix
    low = text.lower()
    if any(s in low for s in ("moov atom not found", "invalid data found", "end of file", "av_read_frame failed")):
        kind = "corrupt or truncated file"
    elif "decoder" in low and ("not found" in low or "unknown" in low) or "codec" in low and "not" in low:
        kind = "unsupported codec"
    elif "permission denied" in low:
        kind = "permission denied"
    elif "no such file" in low:
        kind = "file not found"
    else:
        kind = type(exc).__name__
    return f"{kind}: {text[:300]}" if kind != text else text
