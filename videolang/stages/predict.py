"""`stage=predict`: one raw video through a trained head: chapters (JSON, YouTube lines, WebVTT) by
default, ranked windows for `query=...` with `task=grounding`, answer probabilities for `question=...
answers=[...]` with `task=videoqa`; the task config chooses (`task.predict`).

`video=` may be a frame folder (numbered JPEG / PNG images): its rate is `frames_fps=` (default
`extractor.frames.fps`), else the one the checkpoint's training extraction recorded (`videolang.predict.folders`).
`videos=<folder|list.txt|videos.parquet|file>` instead of `video=` predicts chapters for every video
with the feature store's rules (skip what is done, record failures and go on, shards, ranks): see
`videolang.predict.batch`."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.io import special_file_kind
from videolang.core.frame_names import FRAME_EXTENSIONS, image_names
from videolang.predict.batch import run_batch
from videolang.predict.folders import checkpoint_frames, require_fps
from videolang.predict.runners import frames_fps_of
from videolang.stages import StageResult

log = logging.getLogger(__name__)


def check_frame_folder(folder: Path, cfg: DictConfig, ckpt: Path) -> None:
    """A frame folder as `video=`: it holds images, and a rate is stated (`frames_fps=`, `extractor.frames.fps`)
    or recorded by the checkpoint's training extraction (read with the tensors mapped, not loaded)."""
    if not image_names(folder):
        raise BadInputError(f"is a folder, not a media file, and holds no frames (.{', .'.join(FRAME_EXTENSIONS)})",
                            folder)
    fps = frames_fps_of(cfg)
    if fps is None:
        fps = (checkpoint_frames(ckpt) or {}).get("fps")
    require_fps(folder, fps)


def run(cfg: DictConfig) -> StageResult:
    """Validate the inputs, then hand over to the task's predict runner (`task.predict`, chapters by default)."""
    import hydra.utils

    opts = cfg.stage
    video_value, videos_value = cfg.get("video"), cfg.get("videos")
    if video_value is None and videos_value is None:
        raise ConfigError("missing required key 'video': pass video=<file or frame folder> for one video, or "
                          "videos=<folder|list.txt|videos.parquet> for a batch")
    if video_value is not None and videos_value is not None:
        raise ConfigError(f"video={video_value} and videos={videos_value} both given: video= predicts one file, "
                          "videos= a batch; pass one of them")
    ckpt = Path(str(cfg.ckpt))
    video = None if video_value is None else Path(str(video_value))
    if opts.extractor not in ("checkpoint", "config"):
        raise ConfigError(f"stage.extractor must be 'checkpoint' or 'config', not {opts.extractor!r}")
    extractor_cfg = cfg.get("extractor") if opts.extractor == "config" else None
    if opts.extractor == "config" and extractor_cfg is None:
        raise ConfigError("stage.extractor=config but no extractor group is selected (e.g. extractor=tiny)")
    device = str(opts.get("device", "auto"))
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        raise ConfigError(f"stage.device must be auto, cpu, cuda or cuda:<index>, not {device!r}")
    frames_fps_of(cfg)  # a bad frames_fps is a usage error before anything loads
    references = opts.get("references")
    checks = ([(video, "video")] if video is not None else []) + [(ckpt, "checkpoint")] + (
        [(Path(str(references)), "references file")] if references and video is not None else [])
    for path, what in checks:  # before seconds of model loading
        if what == "video" and path.is_dir():  # a frame folder: checked below, once the checkpoint is known
            continue
        if not path.is_file():
            kind = special_file_kind(path.stat().st_mode) if path.exists() and not path.is_dir() else None
            raise BadInputError(f"{what} not found" if not path.exists() else f"{what} is not a file"
                                + (f": it is {kind}" if kind else ""), path)
    if video is not None and video.is_dir():
        check_frame_folder(video, cfg, ckpt)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"stage.device={device} but no CUDA device is available (use stage.device=auto or cpu)")
    if video is None:
        summary, failed = run_batch(cfg, ckpt, extractor_cfg, device)
        return StageResult(summary, failed=failed)
    spec = OmegaConf.select(cfg, "task.predict") or {"_target_": "videolang.predict.runners.ChapterRun"}
    runner = hydra.utils.instantiate(spec)
    summary = runner(cfg, video, ckpt, extractor_cfg)
    return StageResult({"video": str(video), "checkpoint": str(ckpt), **summary})
