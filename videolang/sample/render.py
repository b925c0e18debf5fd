"""Turning a video plan into a real H.264 + AAC mp4 with ffmpeg.

Each chapter is a lavfi `color` background with a shape tile (a `geq` alpha
mask) moving over it via `overlay`'s per-frame x/y expressions, and the
chapter's objects drawn on top with `drawbox` (cheap, and exact to the pixel:
see videolang.sample.objects); the chapters are joined with `concat`, so every
chapter has exactly (end - start) * fps frames. The soundtrack is assembled in
numpy at 16 kHz (a quiet ambient tone per action, the espeak-ng narration at
the start of each chapter) and encoded to AAC at 44.1 kHz, as on YouTube.
"""
from __future__ import annotations

import tempfile
import wave
from pathlib import Path

import numpy as np

from videolang.core.errors import VideolangError
from videolang.core.io import atomic_path
from videolang.sample import topics
from videolang.sample.narration import require_tool, run_tool, synthesize_speech
from videolang.sample.objects import draw_rects
from videolang.sample.plan import ChapterPlan, VideoPlan

TRACK_RATE = 16000  # narration and soundtrack sample rate before AAC
AAC_RATE = 44100
SPEECH_THRESHOLD = 1e-3  # |sample| below this counts as silence when trimming espeak's padding
X264_ARGS = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
AAC_ARGS = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "64k", "-ar", str(AAC_RATE), "-ac", "1"]


def _ffcolor(hex_colour: str) -> str:
    return "0x" + hex_colour.lstrip("#")


def scene_filter(plan: VideoPlan, chapter: ChapterPlan, label: str) -> str:
    """Filtergraph text for one chapter's scene, ending in the pad `[label]`."""
    length, size = chapter.end - chapter.start, plan.shape_size
    mask = topics.SHAPE_MASKS[chapter.shape]
    x, y = (e.format(period=f"{plan.motion_period:g}") for e in topics.MOTIONS[chapter.motion])
    return (
        f"color=c={_ffcolor(chapter.background)}:s={plan.width}x{plan.height}:r={plan.fps}:d={length}[{label}bg];"
        # the shape tile is drawn once (geq is slow) and repeated; overlay stops with the background
        f"color=c={_ffcolor(chapter.shape_colour)}:s={size}x{size}:r={plan.fps},trim=end_frame=1,format=rgba,"
        f"geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='255*gt({mask},0)',loop=loop=-1:size=1[{label}sh];"
        f"[{label}bg][{label}sh]overlay=x='{x}':y='{y}':eval=frame:shortest=1,format=yuv420p"
        f"{objects_filter(chapter)}[{label}]"
    )


def objects_filter(chapter: ChapterPlan) -> str:
    """`,drawbox=...` for every rectangle of the chapter's objects (empty without objects).

    Drawn after the conversion to yuv420p with fully opaque colours and even
    coordinates, so the luma and chroma planes hold exactly the planned boxes.
    """
    return "".join(f",drawbox=x={x}:y={y}:w={w}:h={h}:color={_ffcolor(colour)}@1:t=fill"
                   for obj in chapter.objects for x, y, w, h, colour in draw_rects(obj))


def video_filtergraph(plan: VideoPlan) -> str:
    """The whole picture: one scene per chapter, concatenated into the output pad [v]."""
    scenes = [scene_filter(plan, c, f"c{i}") for i, c in enumerate(plan.chapters)]
    joined = "".join(f"[c{i}]" for i in range(len(scenes)))
    return ";".join(scenes) + f";{joined}concat=n={len(scenes)}:v=1:a=0[v]"


def read_wav(path: Path) -> np.ndarray:
    """A mono 16-bit WAV as float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise VideolangError("expected a mono 16-bit WAV", path)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def trim_silence(samples: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > SPEECH_THRESHOLD)
    return samples[loud[0]: loud[-1] + 1] if loud.size else samples[:0]


def ambient_tone(hz: float, seconds: float, rate: int = TRACK_RATE) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.05)  # 50 ms fades: no clicks at the cuts
    return (topics.AMBIENT_LEVEL * np.sin(2 * np.pi * hz * t) * fade).astype(np.float32)


def build_soundtrack(plan: VideoPlan, workdir: Path) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The video's soundtrack at TRACK_RATE and each chapter's narration span [start, end) in seconds."""
    track = np.zeros(plan.duration * TRACK_RATE, dtype=np.float32)
    spans = []
    for i, chapter in enumerate(plan.chapters):
        lo, hi = chapter.start * TRACK_RATE, chapter.end * TRACK_RATE
        if chapter.action_index is not None:
            track[lo:hi] += ambient_tone(topics.AMBIENT_HZ[chapter.action_index], chapter.end - chapter.start)
        speech = trim_silence(read_wav(synthesize_speech(chapter.narration, workdir / f"narration{i}.wav",
                                                         sample_rate=TRACK_RATE)))
        first = int(round(chapter.narration_start * TRACK_RATE))
        last = first + len(speech)
        if last > hi - TRACK_RATE // 2:
            raise VideolangError(
                f"narration of chapter {i} ({len(speech) / TRACK_RATE:.1f} s) does not fit its "
                f"{chapter.end - chapter.start} s chapter: the duration estimate in videolang.sample.plan is too low")
        track[first:last] += speech
        spans.append((first / TRACK_RATE, last / TRACK_RATE))
    return track, spans


def encode(out_path: Path, *, graph: str | None, wav: Path | None, title: str, faststart: bool = True) -> Path:
    """Encode a lavfi graph (output pad [v]) and/or a WAV into an mp4/m4a, atomically."""
    ffmpeg = require_tool("ffmpeg")
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if graph is not None:
        cmd += ["-filter_complex", graph]
    if wav is not None:
        cmd += ["-i", str(wav)]
    if graph is not None:
        cmd += ["-map", "[v]", *X264_ARGS]
    if wav is not None:
        cmd += ["-map", "0:a", *AAC_ARGS]
    cmd += ["-map_metadata", "-1", "-metadata", f"title={title}"]
    if faststart:
        cmd += ["-movflags", "+faststart"]
    with atomic_path(out_path) as part:
        run_tool([*cmd, "-f", "mp4", str(part)], "ffmpeg (encoding)", out_path)
    return out_path


def render_video(plan: VideoPlan, out_path: Path) -> list[tuple[float, float]]:
    """Write the planned video to `out_path`; returns the narration span of each chapter."""
    with tempfile.TemporaryDirectory(prefix="videolang-sample-") as tmp:
        track, spans = build_soundtrack(plan, Path(tmp))
        wav = Path(tmp) / "soundtrack.wav"
        write_wav(wav, track, TRACK_RATE)
        encode(out_path, graph=video_filtergraph(plan), wav=wav, title=plan.title)
    return spans


def narration_spans(plan: VideoPlan) -> list[tuple[float, float]]:
    """Each chapter's narration span, from espeak-ng alone (for a video made by an earlier run)."""
    with tempfile.TemporaryDirectory(prefix="videolang-sample-") as tmp:
        return build_soundtrack(plan, Path(tmp))[1]
