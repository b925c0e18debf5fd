"""`stage=serve` through the real command line, with the command `make demo` prints (on the fixture's
checkpoints), and its usage errors."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipelines.demo import serve_args, serve_command
from tests.serve.conftest import free_port
from videolang.run import EXIT_OK, EXIT_USAGE, run_stage

pytestmark = pytest.mark.xdist_group("serve")
ROOT = Path(__file__).resolve().parents[2]


def get_json(url: str, wait: float = 30.0) -> dict:
    """GET a JSON answer, retrying while the server is still binding its port (it prints its address first)."""
    deadline = time.time() + wait
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.URLError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def test_the_demo_command_serves_the_checkpoints_and_stops_on_ctrl_c(built_sample, sample_corpus, trained_on_sample,
                                                                    grounding_ckpt, videoqa_ckpt, tmp_path):
    refs = trained_on_sample["root"] / "data" / "built" / "sample" / "tasks" / "dense_captioning_test.json"
    args = serve_args(trained_on_sample["ckpt"], grounding_ckpt["ckpt"], videoqa_ckpt["ckpt"],
                      trained_on_sample["run"] / "predictions_test.json", refs)
    port = free_port()
    cmd = [sys.executable, "-m", "videolang.run", *args, f"port={port}", f"stage.dataset_dir={built_sample}",
           f"stage.media_dirs=[{sample_corpus / 'videos'}]", f"paths.model_dir={trained_on_sample['model_dir']}",
           f"stage.upload_dir={tmp_path / 'uploads'}", f"hydra.run.dir={tmp_path / 'run'}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1"))
    try:
        line = ""
        while "viewer on" not in line:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "the viewer exited before it listened"
        assert f"http://127.0.0.1:{port}/" in line
        deadline = time.time() + 60
        info = get_json(f"http://127.0.0.1:{port}/api/info")
        while any(m["state"] == "loading" for m in info["models"].values()) and time.time() < deadline:
            time.sleep(0.2)
            info = get_json(f"http://127.0.0.1:{port}/api/info")
        assert {t: m["state"] for t, m in info["models"].items()} == dict.fromkeys(("chapters", "grounding", "videoqa"),
                                                                                   "ready"), info
        assert len(get_json(f"http://127.0.0.1:{port}/api/videos")) == len(trained_on_sample["videos"])
        uploads = list((tmp_path / "uploads").iterdir())
        assert len(uploads) == 1  # the server's own temporary folder inside the given one
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == EXIT_OK, proc.stderr.read()[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["url"] == f"http://127.0.0.1:{port}/" and summary["videos"] == len(trained_on_sample["videos"])
    assert not uploads[0].exists()  # removed when the server stopped


def test_the_printed_command_names_what_exists(tmp_path, monkeypatch):
    import pipelines.demo as demo

    monkeypatch.setattr(demo, "DEMO_LOGS", tmp_path / "logs" / "demo")
    monkeypatch.setattr(demo, "ROOT", tmp_path)
    monkeypatch.setattr(demo, "BUILT_DIR", tmp_path / "datasets" / "built" / "sample")
    assert serve_command() is None  # nothing trained yet: nothing to print
    for step in ("train", "train_videoqa"):
        (tmp_path / "logs" / "demo" / step / "checkpoints").mkdir(parents=True)
        (tmp_path / "logs" / "demo" / step / "checkpoints" / "best.ckpt").write_bytes(b"x")
    command = serve_command()
    assert command.split()[2:] == ["videolang.run", "stage=serve", "chapters_ckpt=logs/demo/train/checkpoints/best.ckpt",
                                   "videoqa_ckpt=logs/demo/train_videoqa/checkpoints/best.ckpt"]


def test_usage_errors_exit_2(make_cfg, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cfg = make_cfg("stage=serve", f"port={taken.getsockname()[1]}", "stage.dataset_dir=null")
        assert run_stage(cfg) == EXIT_USAGE
    for bad in (["port=http"], ["port=70000"], [f"predictions={tmp_path}"], ["stage.device=tpu"]):
        assert run_stage(make_cfg("stage=serve", f"port={free_port()}", "stage.dataset_dir=null", *bad)) == EXIT_USAGE
