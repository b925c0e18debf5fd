"""The naming rules of frame folders (a video shipped as numbered images, e.g. TVQA's `frames_hq`), without
reading any image: which files are frames, their display order and positions, and how many frame periods the
folder spans. `media.frames` decodes such folders; the dataset builder (below `media`) sizes clips with them.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from videolang.core.errors import ConfigError

FRAME_EXTENSIONS = ("jpg", "jpeg", "png")
# How a predictor call or `stage=predict` states a frame folder's rate.
FPS_OPTION = "frames_fps"
_NUMBER = re.compile(r"(\d+)\D*$")


def image_names(folder: str | Path, extensions=FRAME_EXTENSIONS) -> list[str]:
    """The image files directly in `folder` (hidden files skipped), unsorted names."""
    exts = {e.lower().lstrip(".") for e in extensions}
    with os.scandir(folder) as entries:
        return [e.name for e in entries if not e.name.startswith(".") and e.is_file()
                and e.name.rpartition(".")[2].lower() in exts and "." in e.name]


def frame_positions(names: list[str]) -> tuple[list[str], np.ndarray]:
    """Names in display order and each one's frame position (0 for the first): the number in the name when
    every name has a distinct one (`00001.jpg`: a gap in the numbering is a held frame), else the sorted order."""
    numbers = [_NUMBER.search(Path(n).stem) for n in names]
    if all(numbers) and len({int(m.group(1)) for m in numbers}) == len(names):
        pairs = sorted(zip((int(m.group(1)) for m in numbers), names))
        first = pairs[0][0]
        return [n for _, n in pairs], np.asarray([k - first for k, _ in pairs], dtype=np.float64)
    ordered = sorted(names)
    return ordered, np.arange(len(ordered), dtype=np.float64)


def frame_span(folder: str | Path, extensions=FRAME_EXTENSIONS) -> int:
    """Frame periods the folder's images cover: last number - first number + 1 (a gap holds a frame), or the
    image count when the names are not distinctly numbered; 0 for a folder without images."""
    names = image_names(folder, extensions)
    return int(frame_positions(names)[1][-1]) + 1 if names else 0


def check_fps(value: Any, key: str = FPS_OPTION) -> float | None:
    """A stated frame-folder rate (a number > 0) or None; anything else is a usage error naming `key`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ConfigError(f"{key}={value!r} must be a number > 0 (the rate the frame folder's images were "
                          "dumped at, e.g. 3 for TVQA's frames_hq) or null")
    return float(value)
