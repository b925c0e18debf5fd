"""Ordered, bounded parallel map over a stream: memory stays flat however long the input is."""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def resolve_workers(workers: int | str | None) -> int:
    """`auto`/None/0 -> every core this process may use; otherwise the number given."""
    if workers in (None, "auto", 0):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return max(1, os.cpu_count() or 1)
    return max(1, int(workers))


def bounded_map(fn: Callable[[T], R], items: Iterable[T], workers: int, initializer: Callable[..., Any] | None = None,
                initargs: tuple = (), max_in_flight: int | None = None) -> Iterator[R]:
    """Like `map(fn, items)` in order, on `workers` processes, never holding more than `max_in_flight` items.

    `Pool.imap` would read the whole input ahead of the workers; here the next
    item is read only when a result has been handed back.
    """
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, items)
        return
    limit = max_in_flight or 2 * workers
    with ProcessPoolExecutor(max_workers=workers, initializer=initializer, initargs=initargs) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
