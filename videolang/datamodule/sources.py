"""Moved to `videolang.backbone.sources`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.backbone.sources import *  # noqa: F401,F403

moved(__name__, "videolang.backbone.sources")
