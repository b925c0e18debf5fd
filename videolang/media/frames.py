"""Frame folders (a video shipped as a JPEG / PNG sequence, e.g. TVQA's 3 fps `frames_hq`) as a video source.

A folder of images with a stated frame rate is one video: image `i` (in the order of the number in its
name, `00001.jpg`, `00002.jpg`, ...) is on screen from `(n_i - n_first) / fps` seconds, a gap in the
numbering keeps the previous image on screen, and the video lasts until the last image's period ends.
`probe_frames` describes it as a `MediaInfo` (a video stream, no audio stream) so every later step is the
one containers take: `FrameSampling.targets` and `select_frames` pick the images on screen at the
extractor's times, and `read_frames` scales them (shorter side to `size`, area averaging when shrinking)
and centre-crops them like the decoders do.

Every way a folder is broken is one reason naming the folder or the image: no images, an image that is
not a JPEG / PNG or is damaged, images of different sizes, no stated frame rate.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from videolang.core.errors import BadInputError
from videolang.core.frame_names import FRAME_EXTENSIONS, frame_positions, image_names
from videolang.media.probe import MediaInfo


def probe_frames(folder: str | Path, fps: float | None, extensions=FRAME_EXTENSIONS) -> MediaInfo:
    """A frame folder as a video without audio; BadInputError with the reason it cannot be used."""
    folder = str(folder)
    if not os.path.isdir(folder):
        raise BadInputError("frame folder not found" if not os.path.exists(folder) else "not a folder", folder)
    if not os.access(folder, os.R_OK | os.X_OK):
        raise BadInputError("cannot read the frame folder: permission denied", folder)
    names = image_names(folder, extensions)
    if not names:
        raise BadInputError(f"is a folder, not a media file, and holds no frames (.{', .'.join(extensions)})",
                            folder)
    if fps is None:
        raise BadInputError(f"a frame folder ({len(names)} images), but no frame rate is stated for it", folder,
                            hint="set extractor.frames.fps=<the rate the frames were dumped at> (TVQA's frames_hq: 3)")
    names, positions = frame_positions(names)
    size = None
    for name in names:  # headers only: a few ms per image, and every size is known before decoding starts
        w, h = _image_size(os.path.join(folder, name))
        if size is None:
            size, first = (w, h), name
        elif (w, h) != size:
            raise BadInputError(f"frames of different sizes: {name} is {w}x{h}, {first} is "
                                f"{size[0]}x{size[1]} (one video's frames share one size)", folder)
    duration = float(positions[-1] + 1) / float(fps)
    return MediaInfo(path=folder, size_bytes=0, has_video=True, has_audio=False, duration=duration,
                     video_duration=duration, width=size[0], height=size[1], fps=float(fps), video_codec="images",
                     frame_files=tuple(os.path.join(folder, n) for n in names), frame_times=positions / float(fps))


def _image_size(path: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.format not in ("JPEG", "PNG", "MPO"):
                raise BadInputError(f"not a JPEG or PNG image ({img.format})", path)
            return img.size
    except UnidentifiedImageError:
        raise BadInputError("cannot read the image: not an image, or damaged", path) from None
    except OSError as e:
        raise BadInputError(f"cannot read the image: damaged or truncated ({e.strerror or e})", path) from None


def load_frame(path: str, width: int, height: int) -> np.ndarray:
    """One image as (height, width, 3) uint8 RGB: area averaging when shrinking, bilinear when enlarging."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()  # a truncated or damaged image fails here, not later
            rgb = img.convert("RGB")
    except Exception as e:  # noqa: BLE001 - PIL raises OSError, SyntaxError, ValueError... for damaged data
        raise BadInputError(f"cannot read the image: damaged or truncated ({' '.join(str(e).split())[:200]})",
                            path) from None
    if rgb.size != (width, height):
        shrink = width <= rgb.size[0] and height <= rgb.size[1]
        rgb = rgb.resize((width, height), Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def read_frames(info: MediaInfo, targets: np.ndarray, select, scaled_size, crop, chunk_frames: int
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(target times, frames, chosen images' times) per chunk: the image on screen at each target, scaled to
    `scaled_size(w, h)` and cropped by `crop` (the decoders' own sampling functions, passed in)."""
    times = info.frame_times
    chosen = select(times, targets)
    w, h = scaled_size(info.width, info.height)
    cache: tuple[int, np.ndarray] | None = None  # one image taken for consecutive targets is read once
    for lo in range(0, len(targets), chunk_frames):
        frames = []
        for index in chosen[lo:lo + chunk_frames]:
            if cache is None or cache[0] != index:
                cache = (int(index), crop(load_frame(info.frame_files[index], w, h)[None])[0])
            frames.append(cache[1])
        taken = chosen[lo:lo + chunk_frames]
        yield targets[lo:lo + chunk_frames], np.ascontiguousarray(np.stack(frames)), times[taken]
