"""The bad-input contract, as one checker every table row goes through.

A row runs a stage the way a user does (`python -m videolang.run ...`, in this
process so a table of dozens of rows stays fast) and asserts docs/DEVELOPING.md's
contract: the exit code, a message that names the file and the problem in one
paragraph, no traceback, and every existing output byte for byte unchanged.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra

import videolang.run as runner

TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Error executing job")


@dataclass
class Outcome:
    code: int
    output: str
    error_lines: list[str] = field(default_factory=list)


@contextlib.contextmanager
def process_state_kept():
    """Whatever a run in this process changes process-wide is put back afterwards: the environment and warning
    filters (the runner quiets libraries), the logging handlers (Hydra binds its console handler to the stream
    of the moment, which pytest closes after the test: a later log call would print a "Logging error"
    traceback) and `sys.modules["__main__"]` (IPython's shell swaps in its own, without the `__spec__` that
    multiprocessing's spawn start method reads)."""
    environ, filters, main = dict(os.environ), list(warnings.filters), sys.modules["__main__"]
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    handlers = {lg: (list(lg.handlers), lg.level, lg.propagate) for lg in loggers}
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        warnings.filters[:] = filters
        sys.modules["__main__"] = main
        for lg in [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                           if isinstance(lg, logging.Logger)]:
            kept, level, propagate = handlers.get(lg, ([], logging.NOTSET, True))
            lg.handlers[:] = kept
            lg.setLevel(level)
            lg.propagate = propagate


def run_in_process(args: list[str], capfd: pytest.CaptureFixture) -> Outcome:
    """`python -m videolang.run *args` in this process: exit code and everything it printed."""
    capfd.readouterr()
    argv, sys.argv = sys.argv, ["videolang.run", *args]
    runner._STAGE_STARTED = False
    GlobalHydra.instance().clear()
    try:
        with process_state_kept():
            runner.main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()
    captured = capfd.readouterr()
    text = captured.out + captured.err
    errors = [ln for ln in text.splitlines() if "[ERROR]" in ln or "[WARNING]" in ln]
    return Outcome(code, text, errors)


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under the roots with its content hash: what 'outputs unchanged' compares."""
    files: dict[str, str] = {}
    for root in roots:
        if root.is_file():
            files[str(root)] = hashlib.sha256(root.read_bytes()).hexdigest()
        elif root.is_dir():
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    files[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


def check_contract(outcome: Outcome, *, code: int, names: list[str], problem: str | None = None) -> None:
    """The exit code, the file (or key) and the problem named in the message, and no traceback."""
    text = outcome.output
    assert outcome.code == code, f"exit {outcome.code}, expected {code}:\n{text[-3000:]}"
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, f"a traceback was printed:\n{text[-3000:]}"
    for name in names:
        assert name in text, f"the message does not name {name!r}:\n{text[-3000:]}"
    if problem is not None:
        assert re.search(problem, text, re.IGNORECASE), f"the message does not say {problem!r}:\n{text[-3000:]}"


def run_folder(output: str) -> Path:
    """The run folder the runner announced (`[videolang] output folder: ...`), the last one printed."""
    found = re.findall(r"\[videolang\] output folder: (\S+)", output)
    assert found, output[-2000:]
    return Path(found[-1])
