"""Moved to `videolang.backbone.streams`: this path works until the next release (CHANGELOG.md)."""
from videolang.backbone.streams import *  # noqa: F401,F403
from videolang.core.deprecation import moved

moved(__name__, "videolang.backbone.streams")
