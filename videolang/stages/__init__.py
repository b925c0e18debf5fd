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


def instantiate(spec: Any, key: str, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate`, with a component that cannot be built from its settings (an unknown
    `_target_`, an unknown or invalid option) reported as a usage error naming the config key (a setting the
    component refuses, a `ConfigError`, is prefixed with the key unless it names it); any other videolang
    error raised while building keeps its own message (and exit code)."""
    import hydra.utils
    from hydra.errors import InstantiationException

    from videolang.core.errors import ConfigError, VideolangError

    try:
        return hydra.utils.instantiate(spec, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__
        while isinstance(cause, InstantiationException) and cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, ConfigError) and not cause.path and key not in cause.problem:
            raise ConfigError(f"{key}: {cause.problem}", hint=cause.hint) from None
        if isinstance(cause, VideolangError):
            raise cause from None
        text = str(e).split(", set env var HYDRA_FULL_ERROR")[0].strip().replace("\n", " ")
        raise ConfigError(f"{key}: cannot be built from its settings: {text}") from None
