"""One writer at a time per shard of a store (issue 21, item 7): a second extract of the same shard waits for
the first and then says so, or stops with an error naming it; a killed holder never leaves a stale lock."""
from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from tests.extract.media import make_video
from videolang.extract.parallel import ExtractModule
from videolang.run import EXIT_ERROR, EXIT_OK, run_stage
from videolang.store.lock import ShardBusy, ShardLock

pytestmark = pytest.mark.timeout(120)


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path):
    path = tmp_path / "manifest" / "shard0of1-rank0of1.lock"
    first = ShardLock(path, {"run": "logs/extract/first"}).acquire()
    with pytest.raises(ShardBusy, match=r"another run is writing this shard .*pid \d+ on .*run logs/extract/first"):
        ShardLock(path).acquire(timeout=0)
    first.release()
    assert not path.exists()  # a finished holder leaves nothing behind
    # a holder killed with SIGKILL: the kernel drops its flock, the next writer gets the lock at once
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                               f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n"
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(120)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ShardBusy):
            ShardLock(path).acquire(timeout=0)
    finally:
        holder.kill()
        holder.wait()
    ShardLock(path).acquire(timeout=5).release()


def test_a_second_extract_of_a_shard_waits_for_the_first_and_says_so(extract_cfg, tmp_path, monkeypatch):
    video = make_video(tmp_path / "clip.mp4", seconds=2, size=(64, 48), fps=5)
    store = tmp_path / "store"
    lock = store / "manifest" / "shard0of1-rank0of1.lock"
    other = ShardLock(lock, {"run": "logs/extract/the-other-run"}).acquire()
    try:  # the other run still works: with a timeout this one stops, naming it, and writes nothing
        assert run_stage(extract_cfg(video, "~extractor.extractors.speech", "stage.lock_timeout=0")) == EXIT_ERROR
        assert sorted(p.name for p in (store / "manifest").iterdir()) == [lock.name]
    except BaseException:
        other.release()
        raise
    told = ExtractModule._waiting

    def other_run_ends_soon(self, holder):  # the other run ends a moment after this one started waiting
        told(self, holder)
        threading.Timer(0.3, other.release).start()

    monkeypatch.setattr(ExtractModule, "_waiting", other_run_ends_soon)
    cfg = extract_cfg(video, "~extractor.extractors.speech")
    try:
        assert run_stage(cfg) == EXIT_OK  # waited for it, then did the work
    finally:
        other.release()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["done"] == 1 and summary["waited_for_lock"]["seconds"] >= 0.3
    assert summary["waited_for_lock"]["holder"]["run"] == "logs/extract/the-other-run"
    assert not lock.exists()
