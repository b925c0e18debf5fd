"""stage=build_dataset: scraped metadata or a published annotation set -> a training-ready dataset.

`cfg.data` names the input (a `_target_` reader or converter plus per-dataset
overrides); `cfg.stage` holds the parsing, filtering, split and task options.
See docs/builder.md.
"""
from __future__ import annotations

from typing import Any

import hydra.utils
from omegaconf import DictConfig, OmegaConf

from videolang.builder.build import DatasetBuilder, MediaIndex
from videolang.builder.filters import FilterConfig
from videolang.builder.process import LanguageConfig, Settings
from videolang.builder.splits import SplitAssigner
from videolang.builder.tasks import TASKS
from videolang.core.errors import ConfigError
from videolang.stages import StageResult


def _merged(cfg: DictConfig, key: str) -> dict[str, Any]:
    """stage.<key> with the dataset's own data.<key> overrides on top."""
    base, own = cfg.stage.get(key), cfg.data.get(key)
    base = OmegaConf.to_container(base, resolve=True) if base is not None else {}
    own = OmegaConf.to_container(own, resolve=True) if own is not None else {}
    return {**base, **own}


def builder_from_config(cfg: DictConfig) -> DatasetBuilder:
    if cfg.get("data") is None or cfg.data.get("reader") is None:
        raise ConfigError("stage=build_dataset needs an input: choose one with data=<name> "
                          "(sample, vidchapters, scrape, youcook2, vitt, activitynet, tvqa; see conf/data/)")
    reader = hydra.utils.instantiate(cfg.data.reader, _convert_="all")
    language = _merged(cfg, "language")
    settings = Settings(
        reader=reader,
        ruleset=str(cfg.stage.get("ruleset") or cfg.data.get("ruleset") or "vidchapters"),
        fallback=cfg.stage.get("fallback") or cfg.data.get("fallback"),
        filters=FilterConfig.from_mapping(_merged(cfg, "filters")),
        splits=SplitAssigner.from_mapping(_merged(cfg, "splits")),
        language=LanguageConfig(**language),
    )
    tasks = cfg.data.get("tasks") or cfg.stage.tasks
    unknown = [str(t) for t in tasks if str(t) not in TASKS]
    if unknown:
        raise ConfigError(f"unknown task file(s) {unknown}; stage.tasks / data.tasks take {list(TASKS)}")
    media_dirs = [str(d) for d in (cfg.data.get("media_dirs") or [])]
    return DatasetBuilder(
        name=str(cfg.data.name), out_dir=str(cfg.stage.out_dir), settings=settings,
        tasks=tuple(str(t) for t in tasks), workers=cfg.stage.workers,
        max_window_fraction=float(cfg.stage.grounding_max_window_fraction),
        media=MediaIndex(media_dirs, tuple(cfg.stage.media_extensions)),
        describe={"reader": cfg.data.reader.get("_target_"), "input": OmegaConf.to_container(cfg.data.reader, resolve=True)},
    )


def run(cfg: DictConfig) -> StageResult:
    summary = builder_from_config(cfg).build()
    return StageResult(summary, failed=summary["failed_inputs"])
