"""Spoken narration with espeak-ng: text in, a mono 16-bit PCM WAV out.

espeak-ng is deterministic (same text, voice and rate -> the same samples), so
the sample corpus is reproducible byte for byte in its audio. It speaks at its
own rate (22,050 Hz); ffmpeg resamples to the rate asked for.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from videolang.core.errors import VideolangError
from videolang.core.io import atomic_path

__all__ = ["synthesize_speech", "require_tool", "run_tool"]


def require_tool(name: str, package: str | None = None) -> str:
    """Path of the executable `name`, or a clear error saying how to install it."""
    found = shutil.which(name)
    if found is None:
        raise VideolangError(
            f"'{name}' is not installed or not on PATH",
            hint=f"install it with `apt-get install {package or name}` or `make system`",
        )
    return found


def run_tool(cmd: list[str], what: str, path: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run an external tool; on failure raise an error naming the file and quoting its last stderr lines."""
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    except OSError as e:
        raise VideolangError(f"{what} failed to start: {e}", path) from None
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-4:]) or "no error output"
        raise VideolangError(f"{what} failed (exit code {proc.returncode}): {tail}", path)
    return proc


def synthesize_speech(
    text: str,
    out_path: Path,
    *,
    voice: str = "en-us",
    words_per_minute: int = 150,
    sample_rate: int = 16000,
) -> Path:
    """Speak `text` with espeak-ng into `out_path` (mono, 16-bit PCM WAV at `sample_rate`).

    The file appears under its final name only when complete. Raises
    `VideolangError` when espeak-ng or ffmpeg is missing or fails.
    """
    if not text or not text.strip():
        raise VideolangError("cannot synthesise speech from empty text", out_path)
    espeak = require_tool("espeak-ng")
    ffmpeg = require_tool("ffmpeg")
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="videolang-tts-") as tmp:
        raw = Path(tmp) / "espeak.wav"
        # "--" ends the options, so text starting with "-" is spoken, not parsed.
        run_tool([espeak, "-v", voice, "-s", str(int(words_per_minute)), "-w", str(raw), "--", text],
                 "espeak-ng", out_path)
        with atomic_path(out_path, suffix=".tmp.wav") as part:
            run_tool([ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(raw),
                      "-ac", "1", "-ar", str(int(sample_rate)), "-c:a", "pcm_s16le", "-bitexact",
                      "-f", "wav", str(part)], "ffmpeg (resampling narration)", out_path)
    return out_path
