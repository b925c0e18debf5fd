"""METEOR 1.5 through one long-lived Java process, all pairs streamed.

The jar's `-stdio` mode answers `SCORE ||| ref1 ||| ... ||| hyp` with a line
of sufficient statistics (23 integer counts) and `EVAL ||| s1 ||| ... ||| sk`
with one score per statistics line followed by the score of their aggregate.
pycocoevalcap's wrapper sends one SCORE line and waits for its answer, pair
by pair, and the reference dense-captioning tools call it once per video; here a
writer thread streams every line while the caller reads the answers, identical
requests are sent once, and a corpus-level METEOR (pycocoevalcap's `score`) is
the score of the statistics aggregated here exactly as METEOR aggregates them
(`aggregate_stats`), so one EVAL line serves many groups.
The command line is pycocoevalcap's (`-l en -norm`, 2 GB heap, cwd = the jar's
folder), so the numbers are the same as its wrapper's.
"""
from __future__ import annotations

import subprocess
import tempfile
import threading
import weakref
from collections.abc import Iterator, Sequence

import numpy as np

from videolang.evaluate.java import java_executable, meteor_jar

# (hypothesis, references) in pycocoevalcap's order: the hypothesis is what is scored.
Pair = tuple[str, Sequence[str]]

_EVAL_CHUNK = 2000  # statistics per EVAL line


def score_line(hypothesis: str, references: Sequence[str]) -> str:
    """The SCORE request pycocoevalcap builds (it cleans '|||' from the hypothesis only)."""
    hypothesis = hypothesis.replace("|||", "").replace("  ", " ")
    return " ||| ".join(("SCORE", " ||| ".join(references), hypothesis))


def aggregate_stats(stats: Sequence[str], groups: Sequence[int]) -> list[str]:
    """METEOR's own aggregation (MeteorStats.addStats) of consecutive runs of statistics lines, one run
    per entry of `groups` (its length, > 0). Counts are summed, except that a segment matched
    perfectly in one chunk adds no chunk. The values are integer counts, so the sums are exact.
    Fields: test/reference length, test/reference function words, for each of 4 modules the
    test/reference content and function matches, chunks, test/reference word matches."""
    unique = list(dict.fromkeys(stats))
    where = {line: i for i, line in enumerate(unique)}
    table = np.array([line.split() for line in unique], dtype=np.float64).reshape(-1, 23)
    perfect = ((table[:, 20] == 1)
               & (table[:, 4:20:4].sum(1) + table[:, 6:20:4].sum(1) == table[:, 0])
               & (table[:, 5:20:4].sum(1) + table[:, 7:20:4].sum(1) == table[:, 1]))
    table[perfect, 20] = 0.0
    rows = table[[where[line] for line in stats]]
    starts = np.concatenate([[0], np.cumsum(groups)[:-1]]).astype(int)
    sums = np.add.reduceat(rows, starts, axis=0) if len(stats) else np.zeros((0, 23))
    return [" ".join(repr(v) for v in row) for row in sums.tolist()]


class Meteor:
    """A METEOR 1.5 process: thread-safe, started once, stopped by `close()` / `with` / garbage collection."""

    def __init__(self, java: str = "java", heap: str = "2G", cache_size: int = 500_000):
        jar = meteor_jar()
        cmd = [java_executable(java), "-jar", f"-Xmx{heap}", jar.name, "-", "-", "-stdio", "-l", "en", "-norm"]
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, cwd=jar.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._stderr)
        self._lock = threading.Lock()
        self._stats_cache: dict[str, str] = {}
        self._score_cache: dict[str, float] = {}
        self._cache_size = cache_size
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._stderr)

    # -- public API ---------------------------------------------------------------------
    def stats(self, pairs: Sequence[Pair]) -> list[str]:
        """Sufficient statistics of every (hypothesis, references) pair, in order."""
        lines = [score_line(h, refs) for h, refs in pairs]
        known = self._lookup(self._stats_cache, lines)
        todo = [line for line, v in known.items() if v is None]
        if todo:
            answers = self._exchange(todo, [1] * len(todo))
            self._remember(self._stats_cache, known, zip(todo, (a[0] for a in answers)))
        return [known[line] for line in lines]

    def scores(self, stats: Sequence[str]) -> list[float]:
        """The METEOR score of each statistics line (a segment score, or a group's if it is a sum)."""
        known = self._lookup(self._score_cache, stats)
        todo = [s for s, v in known.items() if v is None]
        chunks = [todo[i:i + _EVAL_CHUNK] for i in range(0, len(todo), _EVAL_CHUNK)]
        if chunks:
            requests = ["EVAL ||| " + " ||| ".join(chunk) for chunk in chunks]
            answers = self._exchange(requests, [len(c) + 1 for c in chunks])
            scored = ((s, float(a)) for chunk, answer in zip(chunks, answers) for s, a in zip(chunk, answer[:-1]))
            self._remember(self._score_cache, known, scored)
        return [known[s] for s in stats]

    def segment_scores(self, pairs: Sequence[Pair]) -> list[float]:
        """METEOR of each pair on its own."""
        return self.scores(self.stats(pairs))

    def corpus_scores(self, groups: Sequence[Sequence[Pair]]) -> list[float]:
        """For each group of pairs, the score pycocoevalcap's `Meteor.compute_score` returns (0.0 for none)."""
        filled = [g for g in groups if g]
        flat = self.stats([p for g in filled for p in g])
        scored = iter(self.scores(aggregate_stats(flat, [len(g) for g in filled])) if filled else [])
        return [next(scored) if g else 0.0 for g in groups]

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> "Meteor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the pipe ------------------------------------------------------------------------
    def _exchange(self, requests: list[str], answer_lines: list[int]) -> list[list[str]]:
        """Write all requests from a thread while reading their answers here (no pipe deadlock)."""
        with self._lock:
            proc = self._proc
            if proc.poll() is not None:
                raise RuntimeError(f"METEOR process has exited: {self._stderr_tail()}")
            failure: list[BaseException] = []

            def write() -> None:
                try:
                    for chunk in _batched(requests, 256):
                        proc.stdin.write(("\n".join(chunk) + "\n").encode("utf-8"))
                    proc.stdin.flush()
                except (BrokenPipeError, OSError) as e:  # the reader reports the dead process
                    failure.append(e)

            writer = threading.Thread(target=write, daemon=True)
            writer.start()
            answers = []
            readline = proc.stdout.readline
            for n in answer_lines:
                lines = [readline() for _ in range(n)]
                if not lines[-1]:
                    proc.kill()
                    writer.join()
                    raise RuntimeError(f"METEOR process stopped answering: {self._stderr_tail()}")
                answers.append([line.decode("utf-8").strip() for line in lines])
            writer.join()
            if failure:
                raise RuntimeError(f"writing to METEOR failed: {failure[0]}")
            return answers

    @staticmethod
    def _lookup(cache: dict, keys: Sequence[str]) -> dict:
        return {k: cache.get(k) for k in dict.fromkeys(keys)}

    def _remember(self, cache: dict, known: dict, answered) -> None:
        """Fill `known` with fresh answers and keep them for later calls (the cache is bounded)."""
        answered = dict(answered)
        known.update(answered)
        if len(cache) + len(answered) > self._cache_size:
            cache.clear()
        cache.update(answered)

    def _stderr_tail(self) -> str:
        if self._stderr.closed:
            return "(closed)"
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", errors="replace")[-2000:] or "(no message)"


def _batched(items: list[str], n: int) -> Iterator[list[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _stop(proc: subprocess.Popen, stderr) -> None:
    """METEOR keeps no state worth flushing: close its input and end it at once."""
    try:
        if proc.poll() is None:
            proc.stdin.close()
            proc.kill()
        proc.wait()
        proc.stdout.close()
    finally:
        stderr.close()
