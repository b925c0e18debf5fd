"""Issue 14 (part 1): sharded extraction as a Hydra -m sweep through the submitit launcher.

`submitit_local` runs each job as its own process, exactly as `submitit_slurm` (conf/hydra/launcher/
slurm_extract.yaml) runs it as a SLURM job on a cluster: same pickled job, same Hydra sweep folders.
The store the shards fill together must equal one process's store over the same videos, bit for bit.
The SLURM launcher configs are checked by what they submit: a stand-in `sbatch` keeps the script.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videolang.run import EXIT_ERROR, EXIT_OK, run_stage
from videolang.store import FeatureStore
from tests.conftest import compose_config
from tests.extract.conftest import NO_SPEECH
from tests.extract.media import make_video

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")


def overrides(zoo: dict[str, Path], store: Path, videos: Path) -> list[str]:
    """Tiny visual + audio models and log-mel (speech off: the real Whisper is the slow part, not the point)."""
    return ["stage=extract", "extractor=tiny", f"paths.model_dir={zoo['tiny-clip'].parent}", f"stage.store={store}",
            f"videos={videos}", "stage.progress=false", "stage.num_workers=0", NO_SPEECH]


def sweep(*args: str, log_dir: Path) -> tuple[subprocess.CompletedProcess, Path]:
    proc = subprocess.run([sys.executable, "-m", "videolang.run", "-m", *args, f"paths.log_dir={log_dir}"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    stage = next(a.split("=", 1)[1] for a in args if a.startswith("stage="))
    sweeps = sorted((log_dir / stage / "multirun").glob("*")) if (log_dir / stage / "multirun").is_dir() else []
    assert len(sweeps) == 1, (sweeps, proc.stderr[-3000:])
    return proc, sweeps[0]


@pytest.mark.slow
def test_two_shard_sweep_through_submitit_equals_one_process(zoo, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for i, (seconds, size) in enumerate([(2, (96, 64)), (3, (80, 64)), (4, (64, 48))]):  # 3 videos: shards of 2 and 1
        make_video(videos / f"clip{i}.mp4", seconds=seconds, size=size, fps=10)
    ids = ["clip0", "clip1", "clip2"]

    # the sweep runs in the background while the single-process reference runs here
    args = [sys.executable, "-m", "videolang.run", "-m", *overrides(zoo, tmp_path / "sharded", videos),
            "hydra/launcher=submitit_local", "num_shards=2", "shard=range(0,2)", f"paths.log_dir={tmp_path / 'logs'}"]
    proc = subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert run_stage(compose_config(overrides(zoo, tmp_path / "single", videos), tmp_path)) == EXIT_OK
        output = proc.communicate(timeout=600)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_OK, output[-4000:]

    sharded, single = FeatureStore(tmp_path / "sharded"), FeatureStore(tmp_path / "single")
    journals = sorted(p.name for p in (tmp_path / "sharded" / "manifest").glob("*.jsonl"))
    assert journals == ["shard0of2-rank0of1.jsonl", "shard1of2-rank0of1.jsonl"]  # one writer per shard
    assert sharded.keys() == single.keys() == ["audio", "audio_mel", "visual"]
    for key in single.keys():
        assert sharded.fingerprints_of(key) == single.fingerprints_of(key)
        assert sharded.video_ids(key) == single.video_ids(key) == ids
        for vid in ids:
            a, b = sharded.read(vid, key), single.read(vid, key)
            assert a.array.dtype == b.array.dtype and a.array.shape == b.array.shape
            assert a.array.tobytes() == b.array.tobytes(), (vid, key)  # bit for bit
            assert np.array_equal(a.timestamps, b.timestamps) and a.fps == b.fps and a.fingerprint == b.fingerprint

    def done_set(store):
        m = store.manifest()
        return sorted(zip(m["video_id"], m["key"], m["fingerprint"], m["status"]))

    assert done_set(sharded) == done_set(single)
    assert {s for *_, s in done_set(sharded)} == {"done"}

    # each job of the sweep: its own folder with its own summary; the jobs went through submitit
    sweep_dir = next((tmp_path / "logs" / "extract" / "multirun").iterdir())
    summaries = {n: json.loads((sweep_dir / str(n) / "summary.json").read_text()) for n in (0, 1)}
    assert [summaries[n]["shard"] for n in (0, 1)] == [0, 1]
    assert all(s["num_shards"] == 2 and s["failed"] == 0 for s in summaries.values())
    assert sorted(s["videos"] for s in summaries.values()) == [1, 2]
    assert sum(s["done"] for s in summaries.values()) == len(ids)
    assert len(list((sweep_dir / ".submitit").glob("*/*_log.out"))) == 2
    # no run folder outside the sweep's (hydra.run.dir is not used under -m)
    assert sorted(p.name for p in (tmp_path / "logs" / "extract").iterdir()) == ["multirun"]


def fake_slurm(tmp_path: Path) -> tuple[dict, Path]:
    """An `srun` that answers and an `sbatch` that keeps the submission script and refuses it: what the
    launcher would submit, without a cluster."""
    bin_dir, captured = tmp_path / "fake_slurm_bin", tmp_path / "captured"
    bin_dir.mkdir()
    captured.mkdir()
    (bin_dir / "srun").write_text('#!/bin/sh\necho "slurm 23.02"\n')
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" "{captured}/"\necho "sbatch: kept for the test" >&2\nexit 1\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return dict(ENV, PATH=f"{bin_dir}{os.pathsep}{ENV.get('PATH', '')}"), captured


def submitted(tmp_path: Path, *args: str) -> list[str]:
    """The `#SBATCH` lines and the command of the one script a -m run with a SLURM launcher submits."""
    env, captured = fake_slurm(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "videolang.run", "-m", *args, f"paths.log_dir={tmp_path / 'logs'}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "sbatch: kept for the test" in proc.stdout + proc.stderr, proc.stderr[-3000:]
    scripts = sorted(captured.iterdir())  # submitit's `.submission_file_<uid>.sh`
    assert len(scripts) == 1, scripts
    return scripts[0].read_text().splitlines()


def test_slurm_extract_submits_one_array_job_with_a_task_and_a_gpu_per_shard(tmp_path):
    lines = submitted(tmp_path, "stage=extract", "trainer=gpu", f"videos={tmp_path}", "hydra/launcher=slurm_extract",
                      "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=90", "num_shards=4",
                      "shard=range(0,4)")
    for flag in ("--array=0-3%4", "--nodes=1", "--ntasks-per-node=1", "--gpus-per-node=1", "--cpus-per-task=8",
                 "--mem=64GB", "--time=90", "--partition=gpu", "--job-name=videolang-extract"):
        assert f"#SBATCH {flag}" in lines, (flag, lines)
    command = next(line for line in lines if line.startswith("srun "))
    assert f"{sys.executable} -u -m submitit.core._submit" in command  # this venv's Python on every node


def test_slurm_train_asks_for_the_nodes_and_tasks_the_trainer_expects(tmp_path):
    lines = submitted(tmp_path, "stage=train", "experiment=sample_demo", "trainer=ddp", "trainer.num_nodes=2",
                      "trainer.devices=4", "hydra/launcher=slurm_train")
    for flag in ("--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--job-name=videolang-train"):
        assert f"#SBATCH {flag}" in lines, (flag, lines)
    assert not any(line.startswith("#SBATCH --array") for line in lines)  # one job over all the nodes


def test_a_failing_job_does_not_stop_the_sweep_and_sets_the_exit_code(tmp_path):
    """Under -m, a job's exit code (1: an unusable input) is reported at the end and is the sweep's; the other
    jobs still ran. Cheap: stage=evaluate on a one-line file, the second job's file is missing."""
    refs = tmp_path / "qa.jsonl"
    refs.write_text(json.dumps({"qid": "q1", "answer_idx": 2}) + "\n")
    proc, sweep_dir = sweep("stage=evaluate", "task=videoqa", f"predictions={refs},{tmp_path / 'missing.jsonl'}",
                            f"references={refs}", "hydra/launcher=submitit_local", log_dir=tmp_path / "logs")
    assert proc.returncode == EXIT_ERROR, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert (sweep_dir / "0" / "summary.json").is_file()  # the first job finished
    assert "job 1" in proc.stderr and "missing.jsonl" in proc.stderr  # the failed job is named


def test_sweeps_started_in_the_same_second_get_their_own_folders(tmp_path):
    """Regression: two -m sweeps started in the same second shared one sweep folder. The sweep folder is claimed
    like a run folder, and the jobs (separate processes under submitit) write into the launching process's claim."""
    from datetime import datetime, timedelta

    refs = tmp_path / "qa.jsonl"
    refs.write_text(json.dumps({"qid": "q1", "answer_idx": 2}) + "\n")
    multirun = tmp_path / "logs" / "evaluate" / "multirun"
    now = datetime.now()
    taken = {(now + timedelta(seconds=s)).strftime("%Y-%m-%d_%H-%M-%S") for s in range(120)}  # another sweep's
    for name in taken:
        (multirun / name).mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "videolang.run", "-m", "stage=evaluate", "task=videoqa",
                           f"predictions={refs},{refs}", f"references={refs}", "hydra/launcher=submitit_local",
                           f"paths.log_dir={tmp_path / 'logs'}"], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == EXIT_OK, proc.stderr[-3000:]
    ours = sorted(set(p.name for p in multirun.iterdir()) - taken)
    assert len(ours) == 1 and ours[0].endswith("_2"), ours
    assert all((multirun / ours[0] / str(job) / "summary.json").is_file() for job in (0, 1))
    assert not any(any((multirun / name).iterdir()) for name in taken)  # nothing written into the other sweeps
