"""Text inputs whatever their encoding: read, or refused with the line and the byte at fault.

Scraped metadata and published annotation files arrive as UTF-8, UTF-8 with a
byte-order mark (Windows tools), UTF-16 (Excel's "Unicode text", PowerShell's
`>`), or in a legacy 8-bit encoding. UTF-8, UTF-8 with BOM, UTF-16 and UTF-32
are detected from the first bytes (a BOM, or ASCII text with a NUL every other
byte for UTF-16 without BOM) and read; anything else that is not valid UTF-8 is
refused with a `BadInputError` naming the line and the byte, never decoded into
NUL characters or mojibake.
"""
from __future__ import annotations

import codecs
import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from videolang.core.errors import BadInputError

# Longest first: a UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
REENCODE_HINT = "save it as UTF-8, e.g. iconv -f latin1 -t utf-8"


def sniff_encoding(head: bytes) -> str | None:
    """The encoding the first bytes of a file announce, or None for plain UTF-8 (the default).

    'utf-8-sig', 'utf-16', 'utf-32' from a byte-order mark; 'utf-16-le' / 'utf-16-be'
    for text without BOM where every other byte is NUL (ASCII text in UTF-16).
    """
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    sample = head[:256]
    half = len(sample) // 2
    if half >= 2:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd >= 0.4 * half and even == 0:
            return "utf-16-le"
        if even >= 0.4 * half and odd == 0:
            return "utf-16-be"
    return None


def describe_encoding(encoding: str | None) -> str:
    return {None: "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16", "utf-32": "UTF-32",
            "utf-16-le": "UTF-16 LE without BOM", "utf-16-be": "UTF-16 BE without BOM"}.get(encoding, str(encoding))


def not_utf8_problem(raw: bytes, err: UnicodeDecodeError, what: str = "text") -> str:
    """'not UTF-8 text: byte 0xe9 on line 3, column 7' for a failed UTF-8 decode of `raw`."""
    start = err.start
    line = raw.count(b"\n", 0, start) + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    return f"not UTF-8 {what}: byte 0x{raw[start]:02x} on line {line}, column {column}"


def decode_bytes(raw: bytes, path: str | Path, what: str = "text") -> str:
    """`raw` as text (UTF-8, UTF-8 BOM, UTF-16/32 detected), or BadInputError naming `path`, line and byte."""
    encoding = sniff_encoding(raw[:256])
    if encoding is None:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadInputError(not_utf8_problem(raw, e, what), path, REENCODE_HINT) from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        label = describe_encoding(encoding)
        raise BadInputError(f"not UTF-8 {what}, and not valid {label} either although it starts like {label} "
                            f"(byte {e.start})", path, "save it as UTF-8") from None


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """A file's bytes; a missing file, a folder or an unreadable file is a BadInputError naming it."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInputError(f"{what} not found", path) from None
    except IsADirectoryError:
        raise BadInputError(f"{what} is a folder, expected a file", path) from None
    except OSError as e:
        raise BadInputError(f"cannot read {what}: {e.strerror or e}", path) from None


def read_text_file(path: str | Path, what: str = "file") -> str:
    """A text file in any encoding `decode_bytes` reads, errors naming the file."""
    return decode_bytes(read_bytes(path, what), path, "text")


def parse_json_text(text: str, path: str | Path, expected: str = "JSON") -> Any:
    if not text.strip():
        raise BadInputError(f"file is empty, expected {expected}", path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        problem = f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}"
        raise BadInputError(problem + (" (the file looks truncated)" if _ends_open(text) else ""), path) from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _ends_open(text: str) -> bool:
    """True when the text ends inside a string, an object or a list: cut off, not just malformed."""
    rest = _JSON_STRING.sub("", text)
    return '"' in rest or rest.count("{") > rest.count("}") or rest.count("[") > rest.count("]")


def read_json_file(path: str | Path, what: str = "file", expected: str = "JSON") -> Any:
    """Parsed JSON of a file in any detected encoding; empty, truncated, malformed: BadInputError naming it."""
    return parse_json_text(read_text_file(path, what), path, expected)


def json_lines(path: str | Path, what: str = "file") -> Iterator[tuple[int, Any, str | None]]:
    """(line number, row, None) per JSON line, or (line number, None, problem) for a malformed one.

    Blank lines are skipped; a file that cannot be read at all raises BadInputError.
    """
    text = read_text_file(path, what)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line), None
        except json.JSONDecodeError as e:
            yield number, None, f"malformed JSON: {e.msg}"


def head_bytes(path: str | Path, n: int = 256) -> bytes:
    """The first `n` bytes of a file (decompressed for .gz)."""
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read(n)


def invalid_unicode(value: Any) -> bool:
    """True for a string that cannot be written as UTF-8 (a lone surrogate from a JSON `\\ud800` escape)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
