"""Where the configs live and the OmegaConf resolvers they use.

The configs are plain files in `conf/` at the project root (an editable install
keeps them next to the package); `VIDEOLANG_ROOT` points elsewhere when needed.
"""
from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf


def project_root() -> Path:
    env = os.environ.get("VIDEOLANG_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[1]


def conf_dir() -> Path:
    return project_root() / "conf"


def available_stages() -> list[str]:
    return sorted(p.stem for p in (conf_dir() / "stage").glob("*.yaml"))


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("project_root"):
        OmegaConf.register_new_resolver("project_root", lambda: str(project_root()))


register_resolvers()
