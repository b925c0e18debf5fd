"""The one entry point: `python -m videolang.run stage=<name> key=value ...`.

It composes the Hydra config, calls `cfg.stage._target_(cfg)`, saves the
resolved config and the stage summary into the run folder, and turns input
problems into one-paragraph messages. Exit codes (docs/DEVELOPING.md, "Exit
codes and messages"): 0 done, 1 an input file or folder is unusable, 2 usage
error (unknown stage, key or option, missing required key, invalid setting:
a `ConfigError`), 3 finished with some items failed (see the summary).
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

from videolang.config import available_stages, conf_dir, forget_run_dirs
from videolang.core.errors import ConfigError, VideolangError
from videolang.core.io import atomic_write_json, atomic_write_text, ensure_writable_dir
from videolang.stages import StageResult

log = logging.getLogger("videolang")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_ITEMS_FAILED = 0, 1, 2, 3


def _usage(problem: str) -> str:
    stages = ", ".join(available_stages()) or "(none found)"
    return f"{problem}\nusage: python -m videolang.run stage=<name> [key=value ...]\navailable stages: {stages}"


def check_stage_argument(argv: list[str]) -> str | None:
    """Return a usage message when `stage=` is missing or names no stage; None when it is fine."""
    if any(a in ("-h", "--help", "--hydra-help", "--info", "--cfg", "-c") or a.startswith("--info") for a in argv):
        return None
    chosen = [a.split("=", 1)[1] for a in argv if a.startswith("stage=")]
    if not chosen:
        return _usage("no stage given.")
    if chosen[-1] not in available_stages():
        return _usage(f"unknown stage '{chosen[-1]}'.")
    return None


def check_run_dir(argv: list[str]) -> str | None:
    """Hydra creates the run folder before any of our code runs: check it can, to fail with a clear message."""
    from hydra import compose, initialize_config_dir

    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("config", overrides=[a for a in argv if not a.startswith("-")], return_hydra_config=True)
            run_dir = Path(str(cfg.hydra.run.dir))
    except Exception:  # composition problems are reported by Hydra itself, with its own message
        return None
    missing = [p for p in [run_dir, *run_dir.parents] if not p.exists()]
    try:
        ensure_writable_dir(run_dir)
    except VideolangError as e:
        return f"cannot use the run folder: {e} (set paths.log_dir=<writable folder>)"
    finally:
        for created in missing:  # leave no empty folder behind: Hydra makes its own a moment later
            if created.is_dir():
                created.rmdir()
    return None


def _missing_key_message(err: Exception) -> str:
    key = getattr(err, "full_key", None) or "?"
    return (f"missing required key '{key}': pass {key}=<value> on the command line "
            f"(see conf/stage/ for what each stage needs).")


def output_dir_of(cfg: DictConfig) -> Path:
    """The run folder: Hydra's run dir under the CLI (via `paths.output_dir`), any folder in tests."""
    return Path(cfg.paths.output_dir)


def global_rank() -> int:
    """This process's rank in a distributed run (0 otherwise), without importing torch for stages that do not."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank())
    return int(os.environ.get("RANK") or 0)


def run_stage(cfg: DictConfig) -> int:
    """Run the stage named by the config and return the process exit code."""
    started = time.time()
    out_dir: Path | None = None
    try:
        out_dir = ensure_writable_dir(output_dir_of(cfg))
        name = cfg.stage.name
        job_keys = [k for k in cfg.keys() if k != "hydra"]  # compose(return_hydra_config=True) adds it in tests
        atomic_write_text(out_dir / "config_resolved.yaml", OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, job_keys), resolve=True))
        stage_fn = hydra.utils.get_method(cfg.stage._target_)
        log.info("stage %s: output folder %s", name, out_dir)
        result = stage_fn(cfg)
    except MissingMandatoryValue as e:
        log.error(_missing_key_message(e))
        return EXIT_USAGE
    except InterpolationResolutionError as e:
        if isinstance(e.__cause__, MissingMandatoryValue):
            log.error(_missing_key_message(e.__cause__))
            return EXIT_USAGE
        log.error("config error: %s", e)
        return EXIT_ERROR
    except ConfigError as e:  # a value on the command line or in a config: fix the command, not the data
        log.error("%s: bad setting: %s", cfg.stage.get("name", "stage"), e)
        return EXIT_USAGE
    except VideolangError as e:
        log.error("%s failed: %s", cfg.stage.get("name", "stage"), e)
        return EXIT_ERROR
    finally:
        if out_dir is not None:
            print(f"[videolang] output folder: {out_dir}", file=sys.stderr)
    if result is None:
        result = StageResult()
    summary = dict(result.summary, stage=name, seconds=round(time.time() - started, 3), failed=result.failed)
    rank = global_rank()
    summary_name = "summary.json" if rank == 0 else f"summary.rank{rank}.json"  # DDP ranks share the run folder
    atomic_write_json(out_dir / summary_name, json.loads(json.dumps(summary, default=str)))
    if result.failed:
        log.warning("stage %s finished, but %d item(s) failed: see %s", name, result.failed, out_dir / "summary.json")
        return EXIT_ITEMS_FAILED
    return EXIT_OK


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    global _STAGE_STARTED
    _STAGE_STARTED = True
    code = run_stage(cfg)
    if code:
        sys.exit(code)


_STAGE_STARTED = False  # set once the config composed: Hydra's own exit 1 before that is a usage error


def main() -> None:
    global _STAGE_STARTED
    _STAGE_STARTED = False
    forget_run_dirs()
    problem = check_stage_argument(sys.argv[1:]) or check_run_dir(sys.argv[1:])
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(EXIT_USAGE)
    try:
        _hydra_main()
    except SystemExit as e:
        # an unknown override key or config-group option: Hydra has printed what is wrong (and the valid
        # options of the group) and exits 1; the contract says usage errors exit 2
        if e.code == 1 and not _STAGE_STARTED:
            sys.exit(EXIT_USAGE)
        raise


if __name__ == "__main__":
    main()
