"""stage=build_dataset: scraped metadata or a published annotation set -> a training-ready dataset.

`cfg.data` names the input (a `_target_` reader or converter plus per-dataset
overrides); `cfg.stage` holds the parsing, filtering, split and task options.
See docs/builder.md.
"""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from videolang.builder.build import DatasetBuilder, MediaIndex
from videolang.builder.filters import FilterConfig
from videolang.builder.process import LanguageConfig, Settings
from videolang.builder.splits import SplitAssigner
from videolang.builder.tasks import task_file_names
from videolang.core.errors import ConfigError
from videolang.core.options import instantiate
from videolang.stages import StageResult


def _merged(cfg: DictConfig, key: str) -> dict[str, Any]:
    """stage.<key>: each option defaults to the dataset's data.<key>.<option> in conf/stage/build_dataset.yaml
    (so a command-line stage.<key>.<option>= wins over the dataset). A data.<key> option the stage does not
    know is a ConfigError naming it, never silently ignored."""
    base, own = cfg.stage.get(key), cfg.data.get(key)
    base = OmegaConf.to_container(base, resolve=True) if base is not None else {}
    own = OmegaConf.to_container(own, resolve=True) if own is not None else {}
    if not isinstance(own, dict):
        raise ConfigError(f"data.{key} must be a mapping of stage.{key} options, got {own!r}")
    unknown = sorted(set(own) - set(base))
    if unknown:
        more = f" (and {unknown[1:]})" if unknown[1:] else ""
        raise ConfigError(f"unknown option data.{key}.{unknown[0]}{more}; stage.{key} / data.{key} take {sorted(base)}")
    return base


def _tasks(cfg: DictConfig) -> tuple[str, ...]:
    """stage.tasks (the dataset's data.tasks unless given on the command line)."""
    return task_file_names(cfg.stage.get("tasks"), "stage.tasks (or the dataset's data.tasks)")


def _workers(value: Any) -> int | str:
    if value in (None, "auto", 0):
        return "auto"
    try:
        workers = int(value)
    except (TypeError, ValueError):
        workers = -1
    if workers < 0 or isinstance(value, bool) or isinstance(value, float) and not float(value).is_integer():
        raise ConfigError(f"stage.workers must be a number of processes or auto, got {value!r}")
    return workers


def _fraction(value: Any) -> float:
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = -1.0
    if not 0 < fraction <= 1:
        raise ConfigError(f"stage.grounding_max_window_fraction must be a number in (0, 1], got {value!r}")
    return fraction


def builder_from_config(cfg: DictConfig) -> DatasetBuilder:
    if cfg.get("data") is None or cfg.data.get("reader") is None:
        raise ConfigError("stage=build_dataset needs an input: choose one with data=<name> "
                          "(sample, vidchapters, scrape, youcook2, vitt, activitynet, tvqa; see conf/data/)")
    reader = instantiate(cfg.data.reader, "data.reader", _convert_="all")
    language, splits = _merged(cfg, "language"), _merged(cfg, "splits")
    try:
        language_config = LanguageConfig(**language)
        split_assigner = SplitAssigner.from_mapping(splits)
    except TypeError as e:  # an unknown option added with +stage.language.x= / +stage.splits.x=
        raise ConfigError(f"stage.language / stage.splits: {e}") from None
    settings = Settings(
        reader=reader,
        ruleset=str(cfg.stage.get("ruleset") or cfg.data.get("ruleset") or "vidchapters"),
        fallback=cfg.stage.get("fallback") or cfg.data.get("fallback"),
        filters=FilterConfig.from_mapping(_merged(cfg, "filters")),
        splits=split_assigner,
        language=language_config,
    )
    media_dirs = [str(d) for d in (cfg.data.get("media_dirs") or [])]
    return DatasetBuilder(
        name=str(cfg.data.name), out_dir=str(cfg.stage.out_dir), settings=settings,
        tasks=_tasks(cfg), workers=_workers(cfg.stage.workers),
        max_window_fraction=_fraction(cfg.stage.grounding_max_window_fraction),
        media=MediaIndex(media_dirs, tuple(cfg.stage.media_extensions)),
        describe={"reader": cfg.data.reader.get("_target_"),
                  "input": OmegaConf.to_container(cfg.data.reader, resolve=True)},
    )


def run(cfg: DictConfig) -> StageResult:
    """Exit codes through the runner: 0 built; 1 an input is unusable or 0 videos would be built (an existing
    dataset is left as it was); 2 a bad setting; 3 built, but some input files or rows were skipped."""
    summary = builder_from_config(cfg).build()
    return StageResult(summary, failed=summary["failed_inputs"])
