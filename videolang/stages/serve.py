"""`stage=serve`: the local web viewer (docs/serve.md) on 127.0.0.1 until Ctrl-C.

    python -m videolang.run stage=serve port=8765 chapters_ckpt=<ckpt> grounding_ckpt=<ckpt> videoqa_ckpt=<ckpt>

The built dataset of the `data` group (`stage.dataset_dir`) gives the videos to pick, with their true
chapters, subtitles and questions; uploads go to a temporary folder removed when the server stops. Every
checkpoint is optional: the page offers what the given ones can do. `predictions=... references=...`
adds the table of per-video scores.
"""
from __future__ import annotations

import errno
import logging
import re
import socket
import sys
import time
from pathlib import Path

import uvicorn
from omegaconf import DictConfig

from videolang.core.errors import BadInputError, ConfigError
from videolang.predict.runners import model_dir_of
from videolang.serve import Viewer, VideoLibrary, ViewerModels, create_app
from videolang.stages import StageResult

log = logging.getLogger(__name__)

CHECKPOINT_KEYS = {"chapters": "chapters_ckpt", "grounding": "grounding_ckpt", "videoqa": "videoqa_ckpt"}


def check_address(host: str, port: int) -> None:
    """Bind once before anything loads: a port in use is a usage error, said in one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            why = "in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
            raise ConfigError(f"cannot listen on {host}:{port}: {why} (pass port=<another>)") from None


def viewer_from_config(cfg: DictConfig) -> Viewer:
    """The `Viewer` the stage serves, from its config (also what tests build)."""
    opts = cfg.stage
    checkpoints = {}
    for task, key in CHECKPOINT_KEYS.items():
        value = cfg.get(key)
        if value is not None:
            path = Path(str(value))
            if not path.is_file():
                raise BadInputError("checkpoint not found" if not path.exists() else "checkpoint is not a file", path)
            checkpoints[task] = path
    predictions, references = cfg.get("predictions"), cfg.get("references")
    if (predictions is None) != (references is None):
        raise ConfigError("predictions= and references= go together: give both to browse per-video scores, "
                          "or neither")
    for value, what in ((predictions, "predictions file"), (references, "references file")):
        if value is not None and not Path(str(value)).is_file():
            raise BadInputError(f"{what} not found", str(value))
    device = str(opts.device)
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        raise ConfigError(f"stage.device must be auto, cpu, cuda or cuda:<index>, not {device!r}")
    dataset = Path(str(opts.dataset_dir)) if opts.dataset_dir else None
    media_dirs = [str(d) for d in (opts.media_dirs or [])]
    library = VideoLibrary(dataset, media_dirs, opts.upload_dir, int(float(opts.max_upload_mb) * (1 << 20)))
    models = ViewerModels(checkpoints, device=device, model_dir=model_dir_of(cfg),
                          cache_videos=int(opts.cache_videos))
    return Viewer(library, models, None if predictions is None else str(predictions),
                  None if references is None else str(references))


def run(cfg: DictConfig) -> StageResult:
    host, port = str(cfg.host), cfg.port
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port must be a number 0-65535, not {port!r}")
    check_address(host, port)
    viewer = viewer_from_config(cfg)
    started = time.time()
    try:
        viewer.start()
        server = uvicorn.Server(uvicorn.Config(create_app(viewer), host=host, port=port,
                                               log_level="info" if cfg.get("verbose") else "warning"))
        shown = f"[{host}]" if ":" in host else host
        print(f"[videolang] viewer on http://{shown}:{port}/  (Ctrl-C stops it)", file=sys.stderr, flush=True)
        for problem in viewer.library.problems:
            log.warning("%s", problem)
        try:
            server.run()
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on: the normal way to stop
            pass
    finally:
        viewer.close()
    return StageResult({"url": f"http://{host}:{port}/", "served_seconds": round(time.time() - started, 1),
                        "videos": len(viewer.library.videos), "models": viewer.models.status()})
