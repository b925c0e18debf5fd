"""Every config in conf/ composes, and every `_target_` in it resolves to a real class or function."""
from __future__ import annotations

from pathlib import Path

import hydra.utils
import pytest
from omegaconf import OmegaConf

from videolang.config import available_stages, conf_dir

GROUPS_NOT_SELECTABLE = {"hydra", "paths"}


def _options() -> list[tuple[str, str]]:
    out = []
    for group_dir in sorted(p for p in conf_dir().iterdir() if p.is_dir()):
        if group_dir.name in GROUPS_NOT_SELECTABLE:
            continue
        for yaml in sorted(group_dir.glob("*.yaml")):
            out.append((group_dir.name, yaml.stem))
    return out


def _targets(node) -> list[str]:
    """All `_target_` strings in a (plain, unresolved) config tree."""
    if isinstance(node, dict):
        own = [node["_target_"]] if isinstance(node.get("_target_"), str) else []
        return own + [t for v in node.values() for t in _targets(v)]
    if isinstance(node, list):
        return [t for v in node for t in _targets(v)]
    return []


@pytest.mark.parametrize("group, option", _options(), ids=lambda x: str(x))
def test_option_composes_and_targets_resolve(make_cfg, group, option):
    stage = available_stages()[0]
    overrides = [f"stage={option}"] if group == "stage" else [f"stage={stage}", f"{group}={option}"]
    cfg = make_cfg(*overrides)
    tree = OmegaConf.to_container(cfg, resolve=False)
    tree.pop("hydra", None)
    for target in _targets(tree):
        if "${" in target:
            continue
        resolved = hydra.utils.get_object(target)
        assert callable(resolved), f"{group}/{option}: {target} is not callable"


@pytest.mark.parametrize("preset", ["cpu", "ddp_sim"])
def test_cpu_trainer_presets_instantiate(make_cfg, preset, tmp_path):
    stage = available_stages()[0]
    cfg = make_cfg(f"stage={stage}", f"trainer={preset}")
    trainer = hydra.utils.instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.num_devices >= 1


def test_defaults_list_reads_like_a_table_of_contents():
    text = (conf_dir() / "config.yaml").read_text()
    for group in ("paths", "hydra", "stage", "trainer", "data", "extractor", "model", "task", "experiment", "debug"):
        assert f"{group}:" in text, group
    assert Path(conf_dir() / "experiment").is_dir()
