"""Stages: each is one module with `run(cfg) -> StageResult`, registered by `conf/stage/<name>.yaml`.

The runner never knows which stages exist: it reads `cfg.stage._target_` and
calls it. Adding a stage is one module here plus one yaml file.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageResult:
    """What a stage reports back: a JSON-able summary and how many items failed.

    `failed > 0` makes the runner exit with code 3 (finished, but not everything worked). `then`: optional
    work the runner does after it has written summary.json (evaluate's plots), so a run killed there keeps
    its summary; what it returns is added to the summary, which is written again.
    """

    summary: dict[str, Any] = field(default_factory=dict)
    failed: int = 0
    then: Callable[[], dict[str, Any]] | None = None
