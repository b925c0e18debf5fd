"""Moved to `videolang.training.samplers`: this path works until the next release (CHANGELOG.md)."""
from videolang.core.deprecation import moved
from videolang.training.samplers import *  # noqa: F401,F403

moved(__name__, "videolang.training.samplers")
