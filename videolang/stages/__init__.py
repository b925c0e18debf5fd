"""Stages: each is one module with `run(cfg) -> StageResult`, registered by `conf/stage/<name>.yaml`.

The runner never knows which stages exist: it reads `cfg.stage._target_` and
calls it. Adding a stage is one module here plus one yaml file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageResult:
    """What a stage reports back: a JSON-able summary and how many items failed.

    `failed > 0` makes the runner exit with code 3 (finished, but not everything worked).
    """

    summary: dict[str, Any] = field(default_factory=dict)
    failed: int = 0
