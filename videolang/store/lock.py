"""One writer at a time per shard of a store: an exclusive lock the OS drops when its process ends.

Two `stage=extract` runs on the same store and shard used to both do all the work, and the one that finished
first reported the other's work as its own skips. Each writer (a shard of the video list on one rank) now
takes `<store>/manifest/<writer>.lock` before it decides what is left to do, and keeps it until it is done:
a second run of the same shard waits for the first (it is told who holds the lock: process, host, run
folder, since when) and then finds that work complete, or, with a timeout, stops with an error saying so.

The lock is `flock(2)` on that file: released by the kernel when the holder exits in any way (kill -9
included), so a crashed run never leaves a stale lock. The holder writes who it is into the file and removes
the file when it releases it (a waiter that got the lock on a file removed meanwhile tries again), so a
finished run leaves nothing behind. Where `flock` is missing (Windows) there is no lock. Locks on network
file systems are only as good as their `flock` (NFSv4 supports it; some older mounts do not).
"""
from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from videolang.core.errors import VideolangError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class ShardBusy(VideolangError):
    """Another writer holds the lock and the wait ran out."""


def describe_holder(holder: dict[str, Any]) -> str:
    if not holder:
        return "another process (it has not said who yet)"
    return (f"pid {holder.get('pid')} on {holder.get('host')}, run {holder.get('run')}, "
            f"since {holder.get('since')}")


class ShardLock:
    """An exclusive lock on `path` for one writer of a store (see the module docstring)."""

    def __init__(self, path: str | Path, owner: dict[str, Any] | None = None):
        self.path = Path(path)
        self.owner = dict(owner or {})
        self._fd: int | None = None
        self.waited = 0.0           # seconds spent waiting for another holder
        self.waited_for: dict[str, Any] = {}  # who that was

    def holder(self) -> dict[str, Any]:
        """Who holds the lock now, as it wrote it ({} when the file is absent, empty or being written)."""
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self, timeout: float | None = None, on_wait: Callable[[dict[str, Any]], None] | None = None,
                poll: float = 0.2) -> "ShardLock":
        """Take the lock, waiting for another holder (`timeout` seconds at most; None: as long as it takes).

        `on_wait(holder)` is called once when the lock is busy. Raises `ShardBusy` naming the holder when
        the wait runs out."""
        if fcntl is None or self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        started, told = time.monotonic(), False
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = self.holder()
                if not told:
                    told, self.waited_for = True, holder
                    if on_wait is not None:
                        on_wait(holder)
                waited = time.monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise ShardBusy(f"another run is writing this shard of the store ({describe_holder(holder)}); "
                                    f"gave up after {waited:.0f} s", self.path,
                                    "wait for it to finish, or let this run wait: stage.lock_timeout=null") from None
                time.sleep(poll if timeout is None else max(0.0, min(poll, timeout - waited)))
                continue
            if not self._same_file(fd):  # the holder we waited for removed the file as it released it
                os.close(fd)
                continue
            self._fd = fd
            self.waited = time.monotonic() - started if told else 0.0
            me = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.now().isoformat(timespec="seconds"), **self.owner}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode("utf-8"), 0)
            return self

    def _same_file(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Remove the file (while still holding it, so no waiter takes a lock on it), then release."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self.path.unlink(missing_ok=True)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "ShardLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
