"""Human timestamps ("0:00", "1:02:03") as YouTube writes them in descriptions."""
from __future__ import annotations

import math


def format_timestamp(seconds: float, force_hours: bool = False) -> str:
    """Seconds -> "M:SS" (or "H:MM:SS" from one hour on), rounded down like YouTube."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format timestamp {seconds!r}")
    total = int(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h or force_hours:
        return f"{h}:{m:02d}:{s:02d}"
    return f"{m}:{s:02d}"


def format_webvtt_time(seconds: float, separator: str = ".") -> str:
    """Seconds -> "HH:MM:SS.mmm" for WebVTT cues (`separator=","`: SubRip's "HH:MM:SS,mmm")."""
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"
