"""Viewer fixtures: the fixture corpus built as a dataset (once per run), a running viewer on a free port."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from tests.conftest import compose_config
from tests.fixtures.shared import built_once
from videolang.run import EXIT_OK, run_stage
from videolang.serve import Viewer, create_app
from videolang.stages.serve import viewer_from_config


@pytest.fixture(scope="session")
def built_sample(sample_corpus, tmp_path_factory) -> Path:
    """`stage=build_dataset data=sample` on the fixture corpus: videos.parquet with video_path, chapters,
    subtitles, questions (read-only)."""
    def build(out: Path) -> None:
        cfg = compose_config(["stage=build_dataset", "data=sample", f"paths.sample_dir={sample_corpus}",
                              f"paths.data_dir={out}", "stage.workers=1"], out / "run")
        assert run_stage(cfg) == EXIT_OK

    return built_once(tmp_path_factory, "serve_built_sample", build)[0] / "built" / "sample"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_overrides(built: Path, sample_corpus: Path, model_dir: Path, *extra: str) -> list[str]:
    return ["stage=serve", f"stage.dataset_dir={built}", f"stage.media_dirs=[{sample_corpus / 'videos'}]",
            f"paths.model_dir={model_dir}", "stage.device=cpu", *extra]


def make_viewer(tmp_path: Path, overrides: list[str]) -> Viewer:
    """The viewer `stage=serve` would serve for these overrides, its checkpoints loading."""
    viewer = viewer_from_config(compose_config(overrides, tmp_path))
    viewer.start()
    return viewer


def wait_loaded(viewer: Viewer, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while any(s.state == "loading" for s in viewer.models.slots.values()) and time.time() < deadline:
        time.sleep(0.05)


@contextmanager
def running(viewer: Viewer) -> Iterator[str]:
    """The app under uvicorn in a thread on a free port: its address, until the block ends."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(viewer), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    assert server.started, "the viewer did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        viewer.close()
