"""Moved to `videolang.training.schedule`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.training.schedule import *  # noqa: F401,F403

moved(__name__, "videolang.training.schedule")
