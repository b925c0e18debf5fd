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


_CLAIMED_RUN_DIRS: dict[str, str] = {}


def claim_run_dir(parent: str, name: str) -> str:
    """`parent/name`, or `name_2`, `name_3`, ...: the first folder this process creates itself.

    Two runs started in the same second (two shards launched together) would
    otherwise share a run folder and overwrite each other's summary; `mkdir` is
    atomic, so the first process to create a name owns it. The claim is kept per
    parent for the rest of the invocation (`forget_run_dirs` starts a new one), so
    every later resolution of `hydra.run.dir` in this process returns the same
    folder even when the clock has moved on.
    """
    if parent in _CLAIMED_RUN_DIRS:
        return _CLAIMED_RUN_DIRS[parent]
    base = Path(parent)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:  # unwritable: the runner's own check reports it with a clear message
        return str(base / name)
    for n in range(1, 100_000):
        candidate = base / (name if n == 1 else f"{name}_{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError:
            return str(candidate)
        _CLAIMED_RUN_DIRS[parent] = str(candidate)
        return str(candidate)
    raise RuntimeError(f"no free run folder name under {base}")


def forget_run_dirs() -> None:
    """A new invocation in the same process (tests, notebooks) claims a new run folder."""
    _CLAIMED_RUN_DIRS.clear()


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("project_root"):
        OmegaConf.register_new_resolver("project_root", lambda: str(project_root()))
    if not OmegaConf.has_resolver("claim_run_dir"):
        # cached in the config: Hydra copies a sweep's resolver cache into each job's config (`load_sweep_config`),
        # so a job in another process (submitit) gets the launching process's claim instead of making its own
        OmegaConf.register_new_resolver("claim_run_dir", claim_run_dir, use_cache=True)


register_resolvers()
