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
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

from videolang.config import available_stages, conf_dir, forget_run_dirs
from videolang.core.errors import ConfigError, VideolangError
from videolang.core.quiet import quiet_libraries
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


def is_multirun(argv: list[str]) -> bool:
    return any(a in ("-m", "--multirun") for a in argv)


def check_run_dir(argv: list[str]) -> str | None:
    """Hydra creates the run folder before any of our code runs: check it can, to fail with a clear message.

    Under -m the folder is the sweep's (`hydra.sweep.dir`), composed without the sweep's own values
    (`shard=range(0,8)` does not change where it goes) and without claiming a run folder it would not use."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    multirun = is_multirun(argv)
    overrides = [a for a in argv if not a.startswith("-")]
    try:
        if multirun:
            overrides = [o.input_line for o in OverridesParser.create().parse_overrides(overrides)
                         if not o.is_sweep_override()]
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
            run_dir = Path(str(cfg.hydra.sweep.dir if multirun else cfg.hydra.run.dir))
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
    return int(os.environ.get("RANK") or os.environ.get("SLURM_PROCID") or 0)


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
        quiet_libraries(verbose=bool(cfg.get("verbose", False)))  # again: importing Lightning resets its loggers
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
    if result.then is not None:  # optional work (plots), after the summary: a run killed here keeps it
        summary.update(result.then(), seconds=round(time.time() - started, 3))
        atomic_write_json(out_dir / summary_name, json.loads(json.dumps(summary, default=str)))
    if result.failed:
        log.warning("stage %s finished, but %d item(s) failed: see %s", name, result.failed, out_dir / "summary.json")
        return EXIT_ITEMS_FAILED
    return EXIT_OK


JOB_EXIT_FILE = "exit_code.json"  # under -m: each job's exit code, in its own folder, for the sweep's report


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def _hydra_main(cfg: DictConfig) -> int | None:
    global _STAGE_STARTED
    _STAGE_STARTED = True
    quiet_libraries(verbose=bool(cfg.get("verbose", False)))
    code = run_stage(cfg)
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN:
        # one job of a sweep: never end the process (the basic launcher runs the next job in it; a submitit
        # job must return to hand its result back); the code goes to the job's folder for the sweep's report
        if global_rank() == 0:
            try:
                atomic_write_json(Path(hc.runtime.output_dir) / JOB_EXIT_FILE,
                                  {"exit": code, "job": hc.job.num, "overrides": list(hc.overrides.task)})
            except (OSError, VideolangError) as e:  # an unusable run folder (already reported, exit 2)
                log.error("cannot record the exit code of job %s: %s", hc.job.num, e)
        return code
    if code:
        sys.exit(code)
    return None


class SweepReport(Callback):
    """Hydra callback (conf/hydra/default.yaml) for -m sweeps, in the launching process: remembers the sweep's
    folder so `main` can report every job's exit code once all of them ended (their stages may have run in
    other processes or on other machines: submitit)."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        global _SWEEP_DIR
        _SWEEP_DIR = Path(str(config.hydra.sweep.dir))


# what `main` exits with when the jobs of a sweep ended differently: a usage error, then an error, then failed items
_SEVERITY = {EXIT_USAGE: 3, EXIT_ERROR: 2, EXIT_ITEMS_FAILED: 1, EXIT_OK: 0}


def sweep_exit_code(sweep_dir: Path) -> int:
    """Print one line per job of the sweep that did not end with 0, and return the sweep's exit code."""
    jobs = []
    for path in sweep_dir.glob(f"*/{JOB_EXIT_FILE}"):
        try:
            jobs.append((json.loads(path.read_text()), path.parent))
        except (OSError, ValueError):
            jobs.append(({"exit": EXIT_ERROR, "job": path.parent.name, "overrides": []}, path.parent))
    jobs.sort(key=lambda j: int(j[0]["job"]) if str(j[0].get("job")).isdigit() else 1 << 30)
    common = set.intersection(*(set(info.get("overrides") or []) for info, _ in jobs)) if jobs else set()
    bad = [(info, folder) for info, folder in jobs if info.get("exit")]
    print(f"[videolang] sweep {sweep_dir}: {len(jobs)} job(s), {len(jobs) - len(bad)} ended with 0"
          + (f", {len(bad)} did not:" if bad else ""), file=sys.stderr)
    for info, folder in bad:
        own = [o for o in info.get("overrides") or [] if o not in common]  # what sets this job apart: shard=3
        print(f"  job {info.get('job')} ({' '.join(own)}): exit {info['exit']}, "
              f"see {folder}", file=sys.stderr)
    codes = [int(info["exit"]) for info, _ in bad]
    return max(codes, key=lambda c: _SEVERITY.get(c, 2)) if codes else EXIT_OK


_STAGE_STARTED = False  # set once the config composed: Hydra's own exit 1 before that is a usage error
_SWEEP_DIR: Path | None = None  # set by SweepReport under -m, in the launching process


def _sweep_jobs_started() -> bool:
    """Under -m, whether a job of the sweep started (has its folder): Hydra's exit 1 after that is no usage error
    (before it, it is: a sweep value that does not compose, `extractor=tiny,nope`)."""
    return (_SWEEP_DIR is not None and _SWEEP_DIR.is_dir()
            and any(p.is_dir() and not p.name.startswith(".") for p in _SWEEP_DIR.iterdir()))


def main() -> None:
    global _STAGE_STARTED, _SWEEP_DIR
    _STAGE_STARTED, _SWEEP_DIR = False, None
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
        if e.code == 1 and not _STAGE_STARTED and not _sweep_jobs_started():
            sys.exit(EXIT_USAGE)
        raise
    if _SWEEP_DIR is not None:  # -m: every job ended; the sweep's code is the worst of theirs
        sys.exit(sweep_exit_code(_SWEEP_DIR))


if __name__ == "__main__":
    # run the imported `videolang.run`, not this `__main__` copy of it: the Hydra callback (SweepReport) and the
    # task function submitit pickles for its jobs then share one module and its globals
    from videolang.run import main as _main

    _main()
