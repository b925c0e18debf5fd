"""A frame folder (numbered JPEG / PNG images with a stated rate, docs/extract.md "Frame folders") as the video
of a predictor or of `stage=predict`.

The folder goes through extract's own `Encoder` like a media file; only its frame rate has to come from
somewhere, first of:

1. the call's rate: `encode_video(folder, frames_fps=3)` / `predict_video(..., frames_fps=3)`, or the run's
   (`from_checkpoint(..., frames_fps=3)`; `stage=predict frames_fps=3`, which defaults to
   `extractor.frames.fps`);
2. the `frames.fps` of an `extractor_cfg` given to `from_checkpoint` (`stage.extractor=config`);
3. the rate the checkpoint's training extraction recorded (`stage=extract extractor.frames.fps=...` writes it
   into the store's extractor.json, and training keeps that description in the checkpoint).

Without any, a folder is a usage error naming the folder and the option (a media file needs none).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from videolang.core.checkpoints import read_checkpoint
from videolang.core.errors import ConfigError
from videolang.core.frame_names import FPS_OPTION, FRAME_EXTENSIONS, image_names
from videolang.store.manifest import file_stamp


def recorded_frames(feature_info: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The frame folders' settings (`{"fps", "extensions"}`) a checkpoint's feature descriptions record, if any."""
    for desc in (feature_info or {}).values():
        frames = desc.get("frames") if isinstance(desc, Mapping) else None
        if isinstance(frames, Mapping) and frames.get("fps"):
            return dict(frames)
    return None


def checkpoint_frames(ckpt: str | Path) -> dict[str, Any] | None:
    """`recorded_frames` of a checkpoint file, read with its tensors mapped, not loaded (batch listing)."""
    _, extra = read_checkpoint(ckpt, mmap=True)
    return recorded_frames(extra.get("features"))


def frame_settings(explicit: float | None, configured: Mapping[str, Any] | None,
                   recorded: Mapping[str, Any] | None) -> dict[str, Any]:
    """`extractor.frames` for predict's `Encoder`: the explicit rate, else the configured one, else the recorded
    one; the extensions of the config, else of the record."""
    configured, recorded = dict(configured or {}), dict(recorded or {})
    fps = next((f for f in (explicit, configured.get("fps"), recorded.get("fps")) if f is not None), None)
    extensions = configured.get("extensions") or recorded.get("extensions")
    return {"fps": fps, **({"extensions": list(extensions)} if extensions else {})}


def require_fps(folder: str | Path, fps: float | None) -> float:
    """The rate to read `folder` at, or the usage error that names it and the option."""
    if fps is None:
        raise ConfigError("a frame folder, and no frame rate is stated for it (the checkpoint's training "
                          "extraction recorded none)", str(folder),
                          hint=f"pass {FPS_OPTION}=<the rate its images were dumped at> (TVQA's frames_hq: 3): "
                               f"stage=predict {FPS_OPTION}=3, or encode_video(folder, {FPS_OPTION}=3)")
    return fps


def folder_stamp(files: Sequence[str]) -> tuple[int, int, int]:
    """(images, bytes, newest modification time) of a frame folder's images: a changed folder is encoded again."""
    stats = [os.stat(f) for f in files]
    return len(stats), sum(st.st_size for st in stats), max((st.st_mtime_ns for st in stats), default=0)


def video_stamp(path: str | Path, extensions=FRAME_EXTENSIONS) -> str | None:
    """`store.manifest.file_stamp` of a media file; of a frame folder, "<bytes of its images>:<newest mtime_ns>"
    (a folder's own size and time do not change when an image is replaced)."""
    if not os.path.isdir(path):
        return file_stamp(path)
    try:
        _, size, newest = folder_stamp([os.path.join(path, n) for n in image_names(path, extensions)])
    except OSError:
        return None
    return f"{size}:{newest}"


def video_name(path: str | Path) -> str:
    """What names a video's outputs: a frame folder's own name (`clip.v2/` stays `clip.v2`), a file's stem."""
    path = Path(path)
    return path.name if path.is_dir() else path.stem
