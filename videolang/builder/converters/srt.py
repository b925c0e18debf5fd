"""A forgiving SubRip (.srt) reader: BOM, CRLF, missing cue numbers, `,` or `.` before milliseconds."""
from __future__ import annotations

import re
from pathlib import Path

from videolang.builder.textio import sniff_encoding
from videolang.core.errors import BadInputError

_TIME = re.compile(r"(\d+):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?")
_ARROW = re.compile(rf"^\s*({_TIME.pattern})\s*-->\s*({_TIME.pattern})")
_TAG = re.compile(r"<[^>]+>|\{\\[^}]*\}")


def _seconds(m: tuple[str, ...]) -> float:
    h, mnt, s, ms = m
    return int(h) * 3600 + int(mnt) * 60 + int(s) + (int(ms.ljust(3, "0")) / 1000 if ms else 0.0)


def parse_srt(text: str) -> list[dict]:
    """[{"index", "start", "end", "text"}] in file order; blocks without a time line are skipped."""
    cues = []
    for block in re.split(r"\n\s*\n", text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line for line in block.split("\n") if line.strip()]
        for i, line in enumerate(lines):
            m = _ARROW.match(line)
            if m:
                g = m.groups()
                start, end = _seconds(g[1:5]), _seconds(g[6:10])
                body = " ".join(_TAG.sub("", x).strip() for x in lines[i + 1:]).strip()
                if body and end >= start:
                    cues.append({"index": len(cues), "start": start, "end": end, "text": body})
                break
    return cues


def read_srt(path: str | Path) -> list[dict]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInputError("subtitle file not found", path) from None
    except OSError as e:
        raise BadInputError(f"cannot read subtitles: {e.strerror or e}", path) from None
    encoding = sniff_encoding(raw[:256])
    try:
        text = raw.decode(encoding or "utf-8")
    except UnicodeDecodeError:
        if encoding is not None:
            raise BadInputError(f"starts like {encoding} text but is not valid {encoding}", path) from None
        text = raw.decode("latin-1")  # old subtitle files: a legacy 8-bit encoding, read as latin-1
    return parse_srt(text)
