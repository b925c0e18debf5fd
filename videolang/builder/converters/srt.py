"""Moved to `videolang.builder.srt`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.builder.srt import *  # noqa: F401,F403

moved(__name__, "videolang.builder.srt")
