"""Making a finished build the dataset in one atomic step, so no kill can mix two builds.

A dataset folder `<out>` (e.g. `data/built/sample`) is a symbolic link to a sibling folder
`.<name>@<host>-<pid>-<time>` that holds one complete build. A build is made in a staging folder beside it
(`.<name>.building-<host>-<pid>-...`); when it has succeeded, the files of the current dataset that no build
wrote (a user's notes) are linked into it, it is renamed to its own version folder, and a new link to that
folder replaces `<out>` with one rename(2) (`os.replace`). A reader that opens `<out>/videos.parquet` gets
the old build or the new one, never a mix; a kill at any moment leaves one complete build behind `<out>`,
and the next build removes what a killed one left (folders of processes that are gone, on this machine).

Paths of readers do not change: everything reads `<out>/...` through the link. A reader that reads several
files over a long time and must see one build throughout resolves `<out>` once (`Path.resolve()`); the
previous build is removed right after the swap (its files stay readable to whoever has them open).

- `<out>` a plain folder (built before versions existed, or copied): the first rebuild renames it aside,
  then puts the link in its place: between those two renames `<out>` is briefly absent (never mixed); a
  kill there is repaired by the next build, which puts the old folder back first.
- `<out>` a link of the user's own (to a folder on a bigger disk): followed; the versions live beside its
  target, which becomes our link.
- File systems without symbolic links (Windows without developer mode, some network shares): the build
  folder itself is renamed into place after the old one is renamed aside (the two-rename window above).

`COMMIT_HOOK`, when set, is called with the name of each step as it completes ("carried", "versioned",
"set_aside", "swapped", "cleaned"): tests stop a build between two steps there.
"""
from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

from videolang.core.errors import BadInputError, VideolangError
from videolang.core.io import atomic_target, read_json

log = logging.getLogger(__name__)

COMMIT_HOOK: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if COMMIT_HOOK is not None:
        COMMIT_HOOK(name)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40]


def _owner(pid: int | None = None) -> str:
    return f"{_host()}-{os.getpid() if pid is None else pid}"


def staging_prefix(name: str, pid: int | None = None) -> str:
    """`.<name>.building-<host>-<pid>-`: whose staging folder it is, so a killed build's can be cleaned up."""
    return f".{name}.building-{_owner(pid)}-"


def _gone(owner: str) -> bool:
    """Whether `<host>-<pid>` names a process of this machine that is no longer running (never another
    machine's: a build on a shared disk elsewhere may be alive)."""
    host, _, pid = owner.rpartition("-")
    if host != _host() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def managed_target(out: Path) -> Path | None:
    """The version folder `out` points to when it is one of our links (`.<name>@...` beside it), else None."""
    if not out.is_symlink():
        return None
    target = os.readlink(out)
    if os.sep in target or (os.altsep and os.altsep in target) or not target.startswith(f".{out.name}@"):
        return None
    return out.parent / target


def dataset_home(out: Path) -> Path:
    """Where the dataset's link lives: `out`, or, when `out` is a link of the user's own, where it points."""
    for _ in range(40):
        if not out.is_symlink() or managed_target(out) is not None:
            return out
        target = Path(os.readlink(out))
        out = target if target.is_absolute() else out.parent / target
    raise VideolangError("too many levels of symbolic links", out)


def built_files(folder: Path) -> set[str]:
    """What the build in `folder` wrote (relative paths), from its report.json: tables, task files, the report
    and its plots; none when the report is unreadable."""
    try:
        report = read_json(folder / "report.json")
        names = {"tables": dict(report.get("tables") or {}), "tasks": dict(report.get("task_files") or {}),
                 "plots": list(report.get("plots") or [])}
    except (BadInputError, ValueError, TypeError, AttributeError):
        return set()
    plain = re.compile(r"[\w.-]+")  # a name this builder writes: never a path that leaves the folder
    ok = [str(n) for group in names.values() for n in group if plain.fullmatch(str(n)) and str(n) not in (".", "..")]
    return ({n for n in ok if n in names["tables"] or n in names["plots"]} | {"report.json", "report.md"}
            | {f"tasks/{n}" for n in names["tasks"] if n in ok})


def carry_user_files(current: Path, staging: Path) -> list[str]:
    """Link (or copy) into `staging` every file of the current dataset that its build did not write and this
    build does not write either: a user's notes stay with the dataset. Returns their relative paths."""
    built, carried = built_files(current), []
    for root, dirs, files in os.walk(current):
        here = Path(root)
        for name in [*files, *(d for d in dirs if (here / d).is_symlink())]:
            src = here / name
            rel = src.relative_to(current).as_posix()
            dst = staging / rel
            if rel in built or atomic_target(name) or os.path.lexists(dst):
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
            else:
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copy2(src, dst)
            carried.append(rel)
    return carried


def publish(staging: Path, out: Path) -> None:
    """Make the finished build in `staging` the dataset at `out` (module docstring)."""
    parent, name = out.parent, out.name
    current = managed_target(out) or (out if out.is_dir() else None)
    if current is not None and current.is_dir():
        for rel in carry_user_files(current, staging):
            log.info("%s: kept (not written by a build)", out / rel)
    _step("carried")
    version = parent / f".{name}@{_owner()}-{time.time_ns()}"
    os.rename(staging, version)
    _step("versioned")
    link = parent / f".{name}.link-{_owner()}"
    try:
        link.unlink(missing_ok=True)
        os.symlink(version.name, link)
    except (OSError, NotImplementedError):  # no symbolic links here: the build folder itself goes into place
        link = None
    old = managed_target(out)
    if old is None and os.path.lexists(out):  # a plain folder: set aside, then replaced (two renames)
        old = parent / f".{name}@replaced-{_owner()}-{time.time_ns()}"
        os.rename(out, old)
        _step("set_aside")
    if link is not None:
        os.replace(link, out)
    else:
        os.rename(version, out)
    _step("swapped")
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    _step("cleaned")


def repair(out: Path) -> None:
    """Before a build: undo what a killed one left. A dataset set aside but not replaced goes back to `out`;
    version folders, links and staging folders of builds that are gone (on this machine) are removed."""
    parent, name = out.parent, out.name
    if not parent.is_dir():
        return
    pattern = glob.escape(name)
    aside = sorted((p for p in parent.glob(f".{pattern}@replaced-*") if _gone(_owner_of(p.name, name) or "")),
                   key=lambda p: p.name.rsplit("-", 1)[-1])
    if aside and not os.path.lexists(out):  # killed between setting the dataset aside and putting the new one in
        os.rename(aside[-1], out)
        log.warning("%s: a build was stopped while it replaced this dataset: the previous one is back", out)
    keep = managed_target(out)
    for entry in parent.glob(f".{pattern}[@.]*"):
        owner = _owner_of(entry.name, name)
        if owner is None or (keep is not None and entry.name == keep.name) or not _gone(owner):
            continue
        if entry.is_symlink() or entry.is_file():
            entry.unlink(missing_ok=True)
        else:
            shutil.rmtree(entry, ignore_errors=True)


def _owner_of(entry: str, name: str) -> str | None:
    """`<host>-<pid>` of a version, set-aside, link or staging name of dataset `name` (None for other names)."""
    for prefix, tail in ((f".{name}@replaced-", True), (f".{name}@", True), (f".{name}.link-", False),
                         (f".{name}.building-", True)):
        if entry.startswith(prefix):
            rest = entry[len(prefix):]
            return rest.rsplit("-", 1)[0] if tail else rest
    return None
