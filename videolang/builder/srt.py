"""A forgiving SubRip (.srt) reader: BOM, CRLF, missing cue numbers, `,` or `.` before milliseconds."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from videolang.core.errors import BadInputError
from videolang.core.io import decode_bytes, read_bytes, sniff_encoding

log = logging.getLogger(__name__)

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
    """Cues of a .srt file. UTF-8/BOM/UTF-16/32 are detected; other bytes are read as Latin-1 (old subtitle
    files are often in a legacy 8-bit encoding) and the fallback is logged, naming the file and the byte."""
    path = Path(path)
    raw = read_bytes(path, "subtitle file")
    try:
        text = decode_bytes(raw, path, "subtitles")
    except BadInputError as e:
        if sniff_encoding(raw[:256]) is not None:
            raise  # announced UTF-16/32 but broken: no fallback would read it right
        log.warning("%s: %s; read as Latin-1 (save it as UTF-8 to be sure of the text)", path, e.problem)
        text = raw.decode("latin-1")
    return parse_srt(text)
