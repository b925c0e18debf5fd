"""Moved to `videolang.backbone.vid2seq`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.backbone.vid2seq import *  # noqa: F401,F403

moved(__name__, "videolang.backbone.vid2seq")
