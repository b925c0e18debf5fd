"""Moved to `videolang.backbone.visual`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.backbone.visual import *  # noqa: F401,F403

moved(__name__, "videolang.backbone.visual")
