"""Settings from the command line and the configs, checked where they are read.

- `flag`, `whole_number`, `shard_numbers`, `extension_list`: an option's value, or a usage error
  (`ConfigError`, exit 2) that names it (`shard=abc`, `stage.overwrite=maybe`).
- `instantiate`: a component built from its config (`_target_`); one that cannot be built from its
  settings is a usage error naming the config key.

The stages and batch prediction read their options through these, so the same value gets the same
message everywhere.
"""
from __future__ import annotations

from typing import Any

from omegaconf import ListConfig

from videolang.core.errors import ConfigError, VideolangError


def shard_numbers(shard_value: object, count_value: object) -> tuple[int, int]:
    """`shard` / `num_shards` as integers, or a usage error naming the value (`shard=abc`)."""
    example = " (e.g. shard=3 num_shards=8)"
    return whole_number("shard", shard_value, example=example), whole_number("num_shards", count_value, example=example)


def flag(name: str, value: object) -> bool:
    """A true/false option, or a usage error naming it (`stage.overwrite=maybe` must not mean true)."""
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{name}={value!r} must be true or false")


def whole_number(name: str, value: object, minimum: int | None = None, example: str = "") -> int:
    """An integer option (`3`, `3.0`, `"3"`), or a usage error naming it: never a bool, never a fraction."""
    try:
        if isinstance(value, bool) or float(value) != int(value):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name}={value!r} is not a whole number{example}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}={number} must be at least {minimum}")
    return number


def extension_list(value: object) -> tuple[str, ...]:
    """`stage.extensions` as a tuple of names, or a usage error: a non-empty list of non-empty strings."""
    if isinstance(value, str) or not isinstance(value, (list, tuple, ListConfig)) or not value or \
            not all(isinstance(e, str) and e.strip(". ") for e in value):
        raise ConfigError(f"stage.extensions={value!r} must be a list of file extensions, e.g. [mp4, mkv]")
    return tuple(str(e) for e in value)



def instantiate(spec: Any, key: str, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate`, with a component that cannot be built from its settings (an unknown
    `_target_`, an unknown or invalid option) reported as a usage error naming the config key (a setting the
    component refuses, a `ConfigError`, is prefixed with the key unless it names it); any other videolang
    error raised while building keeps its own message (and exit code)."""
    import hydra.utils
    from hydra.errors import InstantiationException

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
