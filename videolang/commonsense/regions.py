"""Object regions per video frame: the one definition shared by the region extractor and the common-sense module.

A frame's regions are boxes (xyxy, in pixels of the *decoded* frame: scaled so the
shorter side is `FrameSampling.size`, then centre-cropped), class indices into a
class vocabulary, and scores. Everything that turns other boxes into that form
lives here, so detector output and given (ground-truth) boxes are cleaned,
filtered and stored the same way:

- `to_xyxy` reads the box formats files and detectors use. iPerceive's detector
  emitted `yxyx`, which its released code then treated as `xyxy`; naming the
  format in the config is how we avoid that bug.
- `FrameTransform` maps source-video pixels to decoded-frame pixels.
- `clean_boxes` clips to the frame and drops what is left empty; `filter_detections`
  applies iPerceive's score threshold, NMS and box cap. Both count what they remove.
- `pack_regions` / `unpack_regions`: the store format of the `regions` key, one
  (T, K, 6) float32 array `[x1, y1, x2, y2, score, label]`, label -1 = padding.
- `read_box_file` / `nearest_row`: given-box files (JSONL or JSON, one row per frame time).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.io import read_json, read_text
from videolang.media.decode import FrameSampling

__all__ = [
    "BOX_FORMATS", "REGION_COLUMNS", "FrameRegions", "FrameTransform", "BoxRow", "to_xyxy", "clean_boxes",
    "filter_detections", "pack_regions", "unpack_regions", "load_classes", "read_box_file", "nearest_row",
    "add_count",
]

#: box layouts accepted from files and configs; regions are always stored as xyxy
BOX_FORMATS = ("xyxy", "xywh", "yxyx")
#: the columns of a packed regions array
REGION_COLUMNS = ("x1", "y1", "x2", "y2", "score", "label")
PAD_LABEL = -1


@dataclass
class FrameRegions:
    """The regions of one sampled frame: `boxes` (K, 4) float32 xyxy in decoded-frame pixels,
    `labels` (K,) int64 class indices, `scores` (K,) float32. K may be 0."""

    time: float
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        self.time = float(self.time)
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if not len(self.boxes) == len(self.labels) == len(self.scores):
            raise ValueError(f"frame at {self.time} s: {len(self.boxes)} boxes, {len(self.labels)} labels, "
                             f"{len(self.scores)} scores")

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls, time: float) -> "FrameRegions":
        return cls(time, np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32))


def add_count(counts: dict[str, int] | None, name: str, n: int) -> None:
    """counts[name] += n (counts may be None: nobody is counting)."""
    if counts is not None:
        counts[name] = counts.get(name, 0) + int(n)


# ----- box formats and coordinates

def to_xyxy(boxes: Any, box_format: str) -> np.ndarray:
    """(K, 4) boxes in `box_format` -> (K, 4) float32 [x1, y1, x2, y2].

    `xyxy`: corners; `xywh`: top-left corner + width, height (COCO); `yxyx`: corners
    with y first (TensorFlow detectors, iPerceive's detector).
    """
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if box_format == "xyxy":
        return b.copy()
    if box_format == "xywh":
        return np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)
    if box_format == "yxyx":
        return b[:, [1, 0, 3, 2]].copy()
    raise ConfigError(f"unknown box format {box_format!r}; choose one of {', '.join(BOX_FORMATS)}")


@dataclass(frozen=True)
class FrameTransform:
    """Source-video pixels -> decoded-frame pixels: `x * scale_x - left`, `y * scale_y - top`.

    Built from the source size and the `FrameSampling` the decoder used, with the
    decoder's own arithmetic (`scaled_size`, then the centre crop), so boxes land
    on the pixels the model sees. `width`/`height` are the decoded frame's size.
    """

    scale_x: float
    scale_y: float
    left: float
    top: float
    width: int
    height: int

    @classmethod
    def from_sampling(cls, source_width: int, source_height: int, sampling: FrameSampling) -> "FrameTransform":
        if not source_width or not source_height:
            raise BadInputError(f"video has no frame size ({source_width}x{source_height})")
        sw, sh = sampling.scaled_size(source_width, source_height)
        if sampling.crop:
            left, top = (sw - sampling.size) // 2, (sh - sampling.size) // 2
            width = height = sampling.size
        else:
            left = top = 0
            width, height = sw, sh
        return cls(sw / source_width, sh / source_height, float(left), float(top), int(width), int(height))

    def apply(self, boxes: Any) -> np.ndarray:
        """(K, 4) xyxy source pixels -> (K, 4) float32 xyxy decoded-frame pixels (not clipped)."""
        b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        scale = np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y], np.float32)
        offset = np.array([self.left, self.top, self.left, self.top], np.float32)
        return b * scale - offset

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.width, self.height


# ----- cleaning and filtering

def clean_boxes(boxes: Any, labels: Any, scores: Any, width: float, height: float,
                counts: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip xyxy boxes to the `width` x `height` frame and drop what cannot be a region.

    Counts (added to `counts`): `non_finite` (NaN/inf coordinates or score: dropped),
    `clipped` (a box that reached outside the frame, e.g. cut by the centre crop: kept,
    clipped), `zero_area` (nothing left after clipping, or inverted: dropped).
    """
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    lab = np.asarray(labels, dtype=np.int64).reshape(-1)
    sc = np.asarray(scores, dtype=np.float32).reshape(-1)
    finite = np.isfinite(b).all(axis=1) & np.isfinite(sc)
    add_count(counts, "non_finite", int((~finite).sum()))
    b, lab, sc = b[finite], lab[finite], sc[finite]
    clipped = b.copy()
    clipped[:, 0] = np.clip(b[:, 0], 0.0, width)
    clipped[:, 2] = np.clip(b[:, 2], 0.0, width)
    clipped[:, 1] = np.clip(b[:, 1], 0.0, height)
    clipped[:, 3] = np.clip(b[:, 3], 0.0, height)
    keep = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    changed = (clipped != b).any(axis=1)
    add_count(counts, "clipped", int((changed & keep).sum()))
    add_count(counts, "zero_area", int((~keep).sum()))
    return clipped[keep], lab[keep], sc[keep]


def filter_detections(boxes: Any, scores: Any, labels: Any, score_threshold: float | None = 0.7,
                      nms_iou: float | None = 0.3, max_boxes: int | None = 100, class_agnostic: bool = False,
                      counts: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """iPerceive's detection post-processing: score >= threshold, NMS, then the best `max_boxes`.

    NMS is per class by default (`torchvision.ops.batched_nms`), as in the Faster R-CNN
    post-processing iPerceive's detector used: a knife in a hand survives next to the
    person holding it. `class_agnostic=True` suppresses across classes. A None step is
    skipped. Returns (boxes, scores, labels) sorted by score, best first; counts
    `below_score`, `nms` and `capped`.
    """
    import torch
    from torchvision.ops import batched_nms, nms

    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    sc = np.asarray(scores, dtype=np.float32).reshape(-1)
    lab = np.asarray(labels, dtype=np.int64).reshape(-1)
    if score_threshold is not None:
        keep = sc >= score_threshold
        add_count(counts, "below_score", int((~keep).sum()))
        b, sc, lab = b[keep], sc[keep], lab[keep]
    if nms_iou is not None and len(b):
        tb, ts = torch.from_numpy(b), torch.from_numpy(sc)
        kept = nms(tb, ts, nms_iou) if class_agnostic else batched_nms(tb, ts, torch.from_numpy(lab), nms_iou)
        add_count(counts, "nms", len(b) - len(kept))
        idx = kept.numpy()  # already sorted by decreasing score
    else:
        idx = np.argsort(-sc, kind="stable")
    if max_boxes is not None and len(idx) > max_boxes:
        add_count(counts, "capped", len(idx) - max_boxes)
        idx = idx[:max_boxes]
    return b[idx], sc[idx], lab[idx]


# ----- the store format

def pack_regions(frames: Sequence[FrameRegions]) -> np.ndarray:
    """Frames -> (T, K, 6) float32 `[x1, y1, x2, y2, score, label]`; K = most boxes in a frame (at least 1);
    unused rows are zeros with label -1."""
    k = max([len(f) for f in frames] + [1])
    out = np.zeros((len(frames), k, len(REGION_COLUMNS)), np.float32)
    out[:, :, 5] = PAD_LABEL
    for t, f in enumerate(frames):
        n = len(f)
        out[t, :n, :4] = f.boxes
        out[t, :n, 4] = f.scores
        out[t, :n, 5] = f.labels
    return out


def unpack_regions(array: np.ndarray, timestamps: Iterable[float]) -> list[FrameRegions]:
    """The inverse of `pack_regions`: one `FrameRegions` per row, padding dropped."""
    array = np.asarray(array)
    times = np.asarray(list(timestamps), dtype=np.float64).reshape(-1)
    if array.ndim != 3 or array.shape[2] != len(REGION_COLUMNS) or len(array) != len(times):
        raise ValueError(f"regions array must be (T, K, {len(REGION_COLUMNS)}) with T = {len(times)} timestamps, "
                         f"got {array.shape}")
    frames = []
    for t, rows in zip(times, array):
        rows = rows[rows[:, 5] >= 0]
        frames.append(FrameRegions(t, rows[:, :4], np.rint(rows[:, 5]).astype(np.int64), rows[:, 4]))
    return frames


# ----- class vocabularies and given-box files

def load_classes(classes: Sequence[str] | str | Path) -> list[str]:
    """A class vocabulary: a list of names, or the path of a JSON list (or `{"classes": [...]}`)."""
    source = None
    if isinstance(classes, (str, Path)):
        source = Path(classes)
        if not source.exists():
            raise ConfigError("class vocabulary file not found (a JSON list of class names)", source)
        data = read_json(source)
        classes = data.get("classes") if isinstance(data, dict) else data
    names = list(classes) if isinstance(classes, Iterable) and not isinstance(classes, (str, dict)) else []
    if not names or not all(isinstance(c, str) and c for c in names):
        raise ConfigError("the class vocabulary must be a non-empty list of class names", source)
    duplicates = sorted({c for c in names if names.count(c) > 1})
    if duplicates:
        raise ConfigError(f"class vocabulary repeats {duplicates}", source)
    return names


@dataclass
class BoxRow:
    """One row of a box file: boxes (K, 4) xyxy in source pixels; `line` is where it came from."""

    time: float
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    line: int


def read_box_file(path: str | Path, classes: Sequence[str], box_format: str = "xyxy") -> list[BoxRow]:
    """Read a given-box file, sorted by time; every problem names the file and line (JSONL) or row (JSON).

    JSONL: one `{"time", "boxes", "labels", "scores"?}` object per line. JSON: a list of
    such objects, or `{"frames": [...]}`. Boxes are in source-video pixels in `box_format`;
    labels are class names from `classes` (or indices into it); scores default to 1.
    """
    path = Path(path)
    to_xyxy(np.zeros((0, 4)), box_format)  # unknown format: ConfigError before reading anything
    if path.suffix == ".jsonl":
        rows, where = _jsonl_rows(path), "line"
    else:
        data = read_json(path)
        if isinstance(data, dict) and "frames" in data:
            data = data["frames"]
        if not isinstance(data, list):
            raise BadInputError(f"{path}: expected a list of frame rows or {{\"frames\": [...]}}", path)
        rows, where = list(enumerate(data, start=1)), "row"
    index = {name: i for i, name in enumerate(classes)}
    parsed = [_parse_row(row, f"{path} {where} {n}", n, index, classes, box_format, path) for n, row in rows]
    parsed.sort(key=lambda r: r.time)
    for a, b in zip(parsed, parsed[1:]):
        if a.time == b.time:
            raise BadInputError(f"{path}: {where}s {a.line} and {b.line} both have time {a.time}", path)
    return parsed


def _jsonl_rows(path: Path) -> list[tuple[int, Any]]:
    rows = []
    for number, line in enumerate(read_text(path, "box file").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as e:
            raise BadInputError(f"malformed JSON in {path} line {number}: {e.msg}", path) from None
    return rows


def _parse_row(row: Any, where: str, line: int, index: dict[str, int], classes: Sequence[str], box_format: str,
               path: Path) -> BoxRow:
    def bad(problem: str) -> BadInputError:
        return BadInputError(f"{problem} in {where}", path)

    if not isinstance(row, dict):
        raise bad(f"expected an object with time/boxes/labels, got {type(row).__name__}")
    missing = [k for k in ("time", "boxes", "labels") if k not in row]
    if missing:
        raise bad(f"missing {', '.join(missing)}")
    time = row["time"]
    if isinstance(time, bool) or not isinstance(time, (int, float)) or not np.isfinite(time):
        raise bad(f"time must be a number of seconds, got {time!r}")
    boxes, labels, scores = row["boxes"], row["labels"], row.get("scores")
    if not isinstance(boxes, list) or not isinstance(labels, list):
        raise bad("boxes and labels must be lists")
    if len(boxes) != len(labels):
        raise bad(f"{len(boxes)} boxes but {len(labels)} labels")
    if scores is not None and (not isinstance(scores, list) or len(scores) != len(boxes)):
        raise bad(f"scores must be a list of {len(boxes)} numbers")
    for i, box in enumerate(boxes):
        if not isinstance(box, list) or len(box) != 4 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in box):
            raise bad(f"box {i} must be 4 numbers ({box_format}), got {box!r}")
    ids = []
    for label in labels:
        if isinstance(label, str) and label in index:
            ids.append(index[label])
        elif isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(classes):
            ids.append(label)
        else:
            known = ", ".join(classes[:30]) + (f", ... ({len(classes)} in all)" if len(classes) > 30 else "")
            raise BadInputError(f"unknown class {label!r} in {where}; known: {known}", path)
    try:
        score_array = np.ones(len(boxes), np.float32) if scores is None else np.asarray(scores, dtype=np.float32)
    except (TypeError, ValueError):
        raise bad("scores must be numbers") from None
    return BoxRow(float(time), to_xyxy(np.asarray(boxes, np.float32).reshape(-1, 4), box_format),
                  np.asarray(ids, np.int64), score_array, line)


def nearest_row(row_times: np.ndarray, t: float, tolerance: float) -> int | None:
    """Index of the row time nearest `t` (sorted `row_times`), or None when none is within `tolerance`."""
    if not len(row_times):
        return None
    i = int(np.searchsorted(row_times, t))
    best = min((j for j in (i - 1, i) if 0 <= j < len(row_times)), key=lambda j: abs(row_times[j] - t))
    return best if abs(row_times[best] - t) <= tolerance + 1e-9 else None
