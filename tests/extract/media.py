"""Small awkward videos made with ffmpeg for decoder tests (webm, mkv, rotation, VFR, odd sizes)."""
from __future__ import annotations

import subprocess
from pathlib import Path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True, capture_output=True)


def make_video(path: Path, seconds: float = 4, size: tuple[int, int] = (160, 120), fps: float = 25,
               audio: bool = True, gop: int | None = None, preset: str = "ultrafast") -> Path:
    """A testsrc2 video (+ a 440 Hz tone); codec from the extension: mp4/mkv H.264+AAC, webm VP9+Opus.
    (x264's `ultrafast` has no B-frames; `veryfast` has.)"""
    path = Path(path)
    w, h = size
    args = ["-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={fps}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    args += ["-t", str(seconds)]
    if path.suffix == ".webm":
        args += ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"] + (["-c:a", "libopus"] if audio else [])
    else:
        args += ["-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p"] + (["-c:a", "aac"] if audio else [])
    if gop:
        args += ["-g", str(gop)]
    ffmpeg(*args, str(path))
    return path


def make_rotated(src: Path, path: Path, degrees: int) -> Path:
    """Same stream with a display rotation tag (as phones write it)."""
    ffmpeg("-i", str(src), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}", str(path))
    return path


def make_vfr(path: Path, tmp: Path) -> Path:
    """2 s at 5 fps then 2 s at 30 fps in one H.264 stream: frame times are irregular."""
    a, b, lst = tmp / "vfr_a.ts", tmp / "vfr_b.ts", tmp / "vfr.txt"
    for out, rate, colour in ((a, 5, "red"), (b, 30, "blue")):
        ffmpeg("-f", "lavfi", "-i", f"color=c={colour}:size=96x64:rate={rate}", "-t", "2", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", str(out))
    lst.write_text(f"file '{a}'\nfile '{b}'\n")
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy", "-fps_mode", "passthrough", str(path))
    return path


def make_silent(path: Path, seconds: float = 5) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
           "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    return path
