"""User-facing errors.

A `VideolangError` is a problem with an input that the user can fix; the runner
prints it as one paragraph (no traceback) and exits non-zero. Anything else is a
bug and keeps its traceback.
"""
from __future__ import annotations

from pathlib import Path


class VideolangError(Exception):
    """An input problem: names the file (or key) at fault and what is wrong with it."""

    def __init__(self, problem: str, path: str | Path | None = None, hint: str | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.path}: {self.problem}" if self.path else self.problem
        return f"{text} ({self.hint})" if self.hint else text


class BadInputError(VideolangError):
    """An input file exists but cannot be used (corrupt, malformed, inconsistent)."""


class ConfigError(VideolangError):
    """A configuration value is missing or invalid."""
