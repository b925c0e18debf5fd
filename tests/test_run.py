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

from tests.bad_inputs.harness import run_in_process

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "videolang.run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_unknown_stage_lists_available_stages():
    """The command line's smoke test in a fresh interpreter; the other runner tests run in this process."""
    proc = run_cli("stage=definitely_not_a_stage")
    assert proc.returncode == EXIT_USAGE
    assert "unknown stage 'definitely_not_a_stage'" in proc.stderr
    for name in available_stages():
        assert name in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_stage_argument_is_a_usage_error(capfd):
    outcome = run_in_process([], capfd)
    assert outcome.code == EXIT_USAGE
    assert "no stage given" in outcome.output


def test_check_stage_argument_accepts_known_stage():
    assert available_stages(), "conf/stage/ must register at least one stage"
    assert check_stage_argument([f"stage={available_stages()[0]}"]) is None
    assert "unknown stage" in check_stage_argument(["stage=nope"])


@pytest.mark.parametrize("bad_dir", ["/proc/videolang-cannot-write", "/etc/hostname/sub"])
def test_unwritable_run_folder_is_reported_without_traceback(bad_dir, capfd):
    stage = available_stages()[0]
    outcome = run_in_process([f"stage={stage}", f"paths.log_dir={bad_dir}"], capfd)
    assert outcome.code != 0
    assert "cannot use the run folder" in outcome.output and bad_dir in outcome.output
    assert "Traceback" not in outcome.output


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


def test_unknown_override_key_or_group_option_is_a_usage_error(tmp_path, capfd):
    """Issue 13 (items 2, 12): Hydra's composition errors exit 2, naming the key or the group's options."""
    outcome = run_in_process(["stage=build_dataset", "data=sample", "no_such_key=3",
                              f"hydra.run.dir={tmp_path / 'a'}"], capfd)
    assert outcome.code == EXIT_USAGE and "no_such_key" in outcome.output
    outcome = run_in_process(["stage=build_dataset", "data=no_such_dataset", f"hydra.run.dir={tmp_path / 'b'}"], capfd)
    assert outcome.code == EXIT_USAGE and "no_such_dataset" in outcome.output and "sample" in outcome.output


@pytest.mark.parametrize("shard, count", [("abc", "2"), ("1", "x"), ("1.5", "4")])
def test_shard_values_that_are_not_whole_numbers_are_named(make_cfg, tmp_path, shard, count, caplog):
    """Issue 13 (item 3): `shard=abc` is a one-line error naming the value, not a ValueError traceback."""
    (tmp_path / "videos").mkdir()
    cfg = make_cfg("stage=extract", f"videos={tmp_path / 'videos'}", f"shard={shard}", f"num_shards={count}",
                   f"paths.feature_dir={tmp_path / 'features'}")
    assert run_stage(cfg) == EXIT_USAGE
    name, bad = ("shard", shard) if shard != "1" else ("num_shards", count)
    assert "is not a whole number" in caplog.text and f"{name}=" in caplog.text and bad in caplog.text
    assert "Traceback" not in caplog.text


def test_a_random_file_as_checkpoint_is_named_without_unsafe_advice(tmp_path):
    """Issue 13 (item 10): no PyTorch advice to load with weights_only=False."""
    from videolang.core.checkpoints import read_checkpoint

    bad = tmp_path / "random.ckpt"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(VideolangError) as err:
        read_checkpoint(bad)
    message = str(err.value)
    assert "not a videolang checkpoint" in message and "random.ckpt" in message
    assert "weights_only=False" not in message and "\n" not in message.strip()


def test_runs_started_in_the_same_second_get_their_own_run_folders(tmp_path):
    """Issue 13 (item 9): a second process asking for the same timestamped folder gets `_2`, never the first's."""
    from videolang.config import claim_run_dir, forget_run_dirs

    forget_run_dirs()
    first = claim_run_dir(str(tmp_path / "extract"), "2026-11-29_07-50-00")
    assert claim_run_dir(str(tmp_path / "extract"), "2026-11-29_07-50-01") == first  # same invocation, clock moved
    forget_run_dirs()  # what another process starts with
    second = claim_run_dir(str(tmp_path / "extract"), "2026-11-29_07-50-00")
    forget_run_dirs()
    assert Path(first).name == "2026-11-29_07-50-00" and Path(second).name == "2026-11-29_07-50-00_2"
    assert Path(first).is_dir() and Path(second).is_dir()


def test_two_processes_launched_together_keep_their_own_summaries(tmp_path):
    """Issue 13 (item 9), end to end: two runs started at once write two run folders, each with its summary."""
    refs = tmp_path / "qa.jsonl"
    refs.write_text(json.dumps({"qid": "q1", "answer_idx": 2}) + "\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    procs = [subprocess.Popen([sys.executable, "-m", "videolang.run", "stage=evaluate", f"predictions={refs}",
                               f"references={refs}", f"paths.log_dir={tmp_path / 'logs'}", "task=videoqa"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    folders = sorted((tmp_path / "logs" / "evaluate").iterdir())
    assert len(folders) == 2, folders
    assert all((f / "summary.json").is_file() for f in folders)
