"""Moved to `videolang.media.decode`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.media.decode import *  # noqa: F401,F403

moved(__name__, "videolang.media.decode")
