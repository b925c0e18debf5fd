"""Moved to `videolang.backbone.streams`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.backbone.streams import *  # noqa: F401,F403

moved(__name__, "videolang.backbone.streams")
