"""Moved to `videolang.backbone.losses`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.backbone.losses import *  # noqa: F401,F403

moved(__name__, "videolang.backbone.losses")
