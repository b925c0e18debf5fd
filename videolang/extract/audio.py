"""Moved to `videolang.media.audio`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.media.audio import *  # noqa: F401,F403

moved(__name__, "videolang.media.audio")
