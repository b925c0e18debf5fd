"""Model work as jobs on one worker thread: the page polls a job for its state while a video encodes.

One thread runs every model call in turn (models load, videos encode, heads decode), so two browsers
never run a model at once and a slow encoding never blocks the web server's own threads. A job that
fails keeps its message for the page; a bug keeps its traceback in the server log, and the worker goes
on with the next job.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from videolang.core.errors import VideolangError

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class Job:
    id: str
    what: str
    status: str = "queued"          # queued | running | done | error
    step: str = "waiting for the model"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: Any = None
    error: str | None = None

    def to_json(self, position: int | None = None) -> dict[str, Any]:
        now = self.finished or time.time()
        out = {"id": self.id, "what": self.what, "status": self.status, "step": self.step,
               "seconds": round(now - (self.started or self.created), 1)}
        if position:
            out["ahead"] = position
        if self.status == "done":
            out["result"] = self.result
        if self.status == "error":
            out["error"] = self.error
        return out


class JobQueue:
    """`submit(what, fn)` -> a Job that `fn(progress)` completes on the worker thread."""

    def __init__(self, keep: int = 500):
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.keep = keep
        self._queue: queue.Queue[tuple[Job, Callable[[Progress], Any]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="videolang-serve-worker", daemon=True)
        self._thread.start()

    def submit(self, what: str, fn: Callable[[Progress], Any]) -> Job:
        job = Job(uuid.uuid4().hex[:16], what)
        with self._lock:
            self.jobs[job.id] = job
            while len(self.jobs) > self.keep:  # forget the oldest finished jobs
                oldest = next((j for j in self.jobs.values() if j.finished), None)
                if oldest is None:
                    break
                del self.jobs[oldest.id]
        self._queue.put((job, fn))
        return job

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            ahead = sum(1 for j in self.jobs.values() if j.status == "queued" and j.created < job.created)
            return job.to_json(ahead if job.status == "queued" else None)

    def wait(self, job: Job, timeout: float = 600.0) -> Job:
        """Block until `job` finished (for scripts and tests; the page polls instead)."""
        deadline = time.time() + timeout
        while job.finished is None and time.time() < deadline:
            time.sleep(0.05)
        return job

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            job, fn = item
            job.status, job.started, job.step = "running", time.time(), "starting"

            def progress(step: str, job: Job = job) -> None:
                job.step = step

            try:
                job.result = fn(progress)
                job.status = "done"
            except VideolangError as e:
                job.error, job.status = str(e), "error"
            except Exception as e:  # noqa: BLE001 - a bug: logged with its traceback, the worker goes on
                log.exception("job %s (%s) failed", job.id, job.what)
                job.error, job.status = f"internal error ({type(e).__name__}: {e}); see the server log", "error"
            job.finished = time.time()
            job.step = job.status

    def close(self) -> None:
        self._queue.put(None)
