"""Old import paths that keep working for one release (CHANGELOG.md lists every move).

A module that moved leaves a small module at its old path that re-exports the new one and
calls `moved(__name__, new)`; a package whose names moved down a layer uses
`moved_names(...)` as its module `__getattr__`. Either way the old path still imports, and
warns once per import with a `DeprecationWarning` naming the new path.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


def _warn(old: str, new: str, stacklevel: int) -> None:
    warnings.warn(f"{old} has moved to {new}; the old path works until the next release (see CHANGELOG.md)",
                  DeprecationWarning, stacklevel=stacklevel + 1)


def moved(old: str, new: str) -> None:
    """Called at the top level of the module left at an old path: warns the code that imported it."""
    _warn(old, new, stacklevel=3)  # past this function and the old module's body: the importing line


def moved_names(package: str, homes: Mapping[str, ModuleType]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: each name in `homes` is looked up in its new module, with a warning."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        _warn(f"{package}.{name}", f"{home.__name__}.{name}", stacklevel=2)
        return getattr(home, name)

    return __getattr__
