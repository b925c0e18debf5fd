"""The runner: usage errors, missing keys, unwritable folders, exit codes, run folder contents."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import open_dict

from videolang.config import available_stages, conf_dir
from videolang.core.errors import VideolangError
from videolang.run import EXIT_ERROR, EXIT_ITEMS_FAILED, EXIT_OK, EXIT_USAGE, check_stage_argument, run_stage
from videolang.stages import StageResult

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "videolang.run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_unknown_stage_lists_available_stages():
    proc = run_cli("stage=definitely_not_a_stage")
    assert proc.returncode == EXIT_USAGE
    assert "unknown stage 'definitely_not_a_stage'" in proc.stderr
    for name in available_stages():
        assert name in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_stage_argument_is_a_usage_error():
    proc = run_cli()
    assert proc.returncode == EXIT_USAGE
    assert "no stage given" in proc.stderr


def test_check_stage_argument_accepts_known_stage():
    assert available_stages(), "conf/stage/ must register at least one stage"
    assert check_stage_argument([f"stage={available_stages()[0]}"]) is None
    assert "unknown stage" in check_stage_argument(["stage=nope"])


@pytest.mark.parametrize("bad_dir", ["/proc/videolang-cannot-write", "/etc/hostname/sub"])
def test_unwritable_run_folder_is_reported_without_traceback(bad_dir):
    stage = available_stages()[0]
    proc = run_cli(f"stage={stage}", f"paths.log_dir={bad_dir}")
    assert proc.returncode != 0
    assert "cannot use the run folder" in proc.stderr and bad_dir in proc.stderr
    assert "Traceback" not in proc.stderr


def _fake_stage_cfg(make_cfg, target: str):
    cfg = make_cfg(f"stage={available_stages()[0]}")
    with open_dict(cfg):
        cfg.stage._target_ = target
    return cfg


def stage_ok(cfg):
    return StageResult({"made": 2})


def stage_partial(cfg):
    return StageResult({"made": 1}, failed=1)


def stage_bad_input(cfg):
    raise VideolangError("truncated file", "/data/x.mp4")


def stage_missing_key(cfg):
    return cfg.stage.this_key_is_required


@pytest.mark.parametrize(
    "fn, code",
    [("stage_ok", EXIT_OK), ("stage_partial", EXIT_ITEMS_FAILED), ("stage_bad_input", EXIT_ERROR)],
)
def test_exit_codes_and_summary(make_cfg, tmp_path, fn, code, caplog):
    cfg = _fake_stage_cfg(make_cfg, f"tests.test_run.{fn}")
    assert run_stage(cfg) == code
    out = Path(cfg.paths.output_dir)
    assert (out / "config_resolved.yaml").exists()
    if code != EXIT_ERROR:
        summary = json.loads((out / "summary.json").read_text())
        assert summary["stage"] == cfg.stage.name and summary["failed"] == (code == EXIT_ITEMS_FAILED)
    else:
        assert "/data/x.mp4: truncated file" in caplog.text


def test_missing_required_key_names_the_key(make_cfg, caplog):
    cfg = _fake_stage_cfg(make_cfg, "tests.test_run.stage_missing_key")
    with open_dict(cfg):
        cfg.stage.this_key_is_required = "???"
    assert run_stage(cfg) == EXIT_USAGE
    assert "stage.this_key_is_required" in caplog.text


def test_every_stage_yaml_names_an_importable_target(make_cfg):
    import hydra.utils

    for path in sorted((conf_dir() / "stage").glob("*.yaml")):
        text = path.read_text()
        assert text.startswith("# @package _global_"), f"{path} must be a global package"
    for name in available_stages():
        cfg = make_cfg(f"stage={name}")
        assert cfg.stage.name, name
        assert callable(hydra.utils.get_method(cfg.stage._target_)), name
