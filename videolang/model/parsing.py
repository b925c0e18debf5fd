"""Moved to `videolang.backbone.parsing`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.backbone.parsing import *  # noqa: F401,F403

moved(__name__, "videolang.backbone.parsing")
