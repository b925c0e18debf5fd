"""Video ids, and the only way they become file names.

Ids come from untrusted metadata (descriptions, CSV dumps, user paths) and later
name feature files. Plain ids (YouTube-style and other simple ids) are used
as-is; anything else is encoded reversibly with a `~` prefix, a character plain
ids cannot contain, so an encoded id can never collide with a plain one.
"""
from __future__ import annotations

import base64
import re

from videolang.core.errors import BadInputError

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")
_ENCODED_PREFIX = "~"
MAX_ID_CHARS = 512


def is_youtube_id(video_id: str) -> bool:
    return bool(YOUTUBE_ID.match(video_id))


def validate_video_id(video_id: object, source: str | None = None) -> str:
    """Return the id as a string, or raise naming `source` if it cannot be an id at all."""
    if not isinstance(video_id, str):
        if isinstance(video_id, int) and not isinstance(video_id, bool):
            video_id = str(video_id)
        else:
            raise BadInputError(f"video id must be a string, got {type(video_id).__name__} {video_id!r}", source)
    if not video_id.strip():
        raise BadInputError("empty video id", source)
    if len(video_id) > MAX_ID_CHARS:
        raise BadInputError(f"video id longer than {MAX_ID_CHARS} characters: {video_id[:40]!r}...", source)
    if any(ord(c) < 32 or c == "\x7f" for c in video_id):
        raise BadInputError(f"video id contains control characters: {video_id!r}", source)
    return video_id


def is_plain_id(video_id: str) -> bool:
    """True when the id is safe as a file name without encoding (no separators, no '..')."""
    return bool(_PLAIN_ID.match(video_id)) and ".." not in video_id and not video_id.endswith(".")


def id_to_filename(video_id: str) -> str:
    """A file-name stem for `video_id` that is safe on every filesystem and reversible."""
    video_id = validate_video_id(video_id)
    if is_plain_id(video_id):
        return video_id
    encoded = base64.b32encode(video_id.encode("utf-8")).decode("ascii").rstrip("=").lower()
    if len(encoded) > 200:
        raise BadInputError(f"video id too long to use as a file name: {video_id[:40]!r}...")
    return _ENCODED_PREFIX + encoded


def filename_to_id(stem: str) -> str:
    """Inverse of `id_to_filename`."""
    if not stem.startswith(_ENCODED_PREFIX):
        return stem
    body = stem[len(_ENCODED_PREFIX):].upper()
    body += "=" * (-len(body) % 8)
    return base64.b32decode(body).decode("utf-8")
