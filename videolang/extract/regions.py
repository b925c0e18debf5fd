"""Object regions of every sampled frame (the `regions` key): from a detector, or from given box files.

The common-sense module (iPerceive / VC R-CNN) needs, per frame on the visual
stream's grid, boxes + class labels + scores. Two sources give them the same form:

- `source: detector`: any Hugging Face `AutoModelForObjectDetection` checkpoint
  (DETR by default) on the decoded frames, post-processed as iPerceive did
  (score >= 0.7, NMS at IoU 0.3, at most 100 boxes; see `filter_detections`).
  The classes are the model's `id2label`, indices kept as they are.
- `source: boxes`: ground truth or a detector run elsewhere, one file per video
  (`boxes_dir/pattern`, e.g. `<stem>.boxes.jsonl`), boxes in source-video pixels,
  mapped onto the decoded frame with the decoder's own scale and crop.

Per-frame contract (the `commonsense` extractor reads it through `link`):
`update` appends exactly one `FrameRegions` per frame of the chunk, in order, to
`state["regions"]`, boxes xyxy in decoded-frame pixels. `finish` stores them packed
(`pack_regions`: (T, K, 6) float32 `[x1, y1, x2, y2, score, label]`, label -1 = padding).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from videolang.commonsense.regions import (
    BOX_FORMATS, REGION_COLUMNS, FrameRegions, FrameTransform, clean_boxes, filter_detections, load_classes,
    nearest_row, pack_regions, read_box_file,
)
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.ids import id_to_filename
from videolang.core.quiet import quiet_transformers
from videolang.extract.base import Extractor
from videolang.extract.sources import VideoItem
from videolang.media.decode import FrameChunk, FrameSampling

SOURCES = ("detector", "boxes")
MAX_ORPHANS_LISTED = 20


class RegionExtractor(Extractor):
    """Boxes, labels and scores per sampled frame; see the module docstring for the two sources."""

    input = "frames"
    #: set by the Encoder: the frame sampling fps (None for num_frames sampling) and the sampling itself
    sampling_fps: float | None = None
    sampling: FrameSampling | None = None
    #: the stage may sum meta["counts"] of this key over a run
    summarize_counts = True

    def __init__(self, source: str = "detector", model: str = "facebook/detr-resnet-50",
                 boxes_dir: str | None = None, pattern: str = "{stem}.boxes.jsonl", box_format: str = "xyxy",
                 classes: list[str] | str | None = None, score_threshold: float | None = 0.7,
                 nms_iou: float | None = 0.3, max_boxes: int | None = 100, class_agnostic_nms: bool = False,
                 time_tolerance: float | None = None, batch_size: int = 8, autocast: bool = True):
        if source not in SOURCES:
            raise ConfigError(f"unknown regions source {source!r}; choose one of {', '.join(SOURCES)}")
        filtering = dict(score_threshold=None if score_threshold is None else float(score_threshold),
                         nms_iou=None if nms_iou is None else float(nms_iou),
                         max_boxes=None if max_boxes is None else int(max_boxes),
                         class_agnostic_nms=bool(class_agnostic_nms))
        if source == "detector":
            super().__init__(source=source, model=str(model), **filtering)
            self.classes: list[str] = []
        else:
            if not boxes_dir:
                raise ConfigError("the regions 'boxes' source needs boxes_dir (the folder of per-video box files)")
            if "{stem}" not in pattern:
                raise ConfigError(f"regions pattern {pattern!r} must contain {{stem}} (the video id as a file name)")
            if box_format not in BOX_FORMATS:
                raise ConfigError(f"unknown box_format {box_format!r}; choose one of {', '.join(BOX_FORMATS)}")
            if classes is None:
                raise ConfigError("the regions 'boxes' source needs classes (a list, or a JSON file of class names)")
            self.classes = load_classes(classes)
            # the class list itself (not its file name) is hashed: new names, new fingerprint
            super().__init__(source=source, boxes_dir=str(boxes_dir), pattern=pattern, box_format=box_format,
                             classes=self.classes, time_tolerance=time_tolerance, **filtering)
        self.batch_size = int(batch_size)
        self.autocast = bool(autocast)
        self.net = None
        self.processor = None

    @property
    def model_name(self) -> str:
        if self.config["source"] == "boxes":
            return f"boxes:{self.config['boxes_dir']}"
        return self.config["model"]

    # ----- loading
    def load(self, device: torch.device) -> None:
        super().load(device)
        if self.config["source"] != "detector":
            return
        if self.net is None:
            from transformers import AutoImageProcessor, AutoModelForObjectDetection

            with quiet_transformers():
                self.net = AutoModelForObjectDetection.from_pretrained(self.config["model"]).eval()
            self.processor = AutoImageProcessor.from_pretrained(self.config["model"])
            id2label = self.net.config.id2label
            # class index = the model's label id, placeholders ("N/A") included, so indices never shift
            self.classes = [str(id2label.get(i, f"LABEL_{i}")) for i in range(self.net.config.num_labels)]
        self.net.to(device)

    # ----- per video
    def begin(self, item: VideoItem, info) -> dict[str, Any]:
        if info is None or not info.width or not info.height:
            raise BadInputError("regions need the video's frame size, and the file has none", item.path)
        sampling = self.sampling or FrameSampling()
        transform = FrameTransform.from_sampling(info.width, info.height, sampling)
        state: dict[str, Any] = {
            "regions": [], "transform": transform, "source_size": [int(info.width), int(info.height)],
            "frame_size": list(transform.frame_size), "duration": info.video_duration,
            "counts": {"frames": 0, "boxes": 0, "frames_without_regions": 0, "non_finite": 0, "clipped": 0,
                       "zero_area": 0, "below_score": 0, "nms": 0, "capped": 0},
        }
        if self.config["source"] == "boxes":
            path = self.box_file(item.video_id)
            rows = read_box_file(path, self.classes, self.config["box_format"])
            tolerance = self.config["time_tolerance"]
            if tolerance is None:  # half the frame period: each row goes to the frame it is nearest
                duration = info.video_duration or 0.0
                tolerance = (duration / sampling.num_frames if sampling.num_frames else 1.0 / sampling.fps) / 2
            state.update(box_file=str(path), rows=rows, row_times=np.array([r.time for r in rows]),
                         tolerance=float(tolerance), used_rows=set())
            state["counts"].update(rows=len(rows), unmatched_rows=0)
        return state

    def update(self, state: dict[str, Any], chunk: FrameChunk) -> None:
        h, w = int(chunk.frames.shape[1]), int(chunk.frames.shape[2])
        if [w, h] != state["frame_size"]:  # the transform follows the decoder's arithmetic; this would be a bug
            raise RuntimeError(f"decoded frames are {w}x{h}, the region transform expected "
                               f"{state['frame_size'][0]}x{state['frame_size'][1]}")
        times = np.asarray(chunk.times, dtype=np.float64)
        if self.config["source"] == "detector":
            found = self.detect(chunk.frames)
        else:
            found = [self.given(state, t) for t in times]
        counts, cfg = state["counts"], self.config
        for t, (boxes, scores, labels) in zip(times, found):
            # score first (what clipping and NMS count is then about kept detections), then clip, then NMS + cap
            boxes, scores, labels = filter_detections(boxes, scores, labels, cfg["score_threshold"], None, None,
                                                      counts=counts)
            boxes, labels, scores = clean_boxes(boxes, labels, scores, w, h, counts)
            boxes, scores, labels = filter_detections(boxes, scores, labels, None, cfg["nms_iou"], cfg["max_boxes"],
                                                      class_agnostic=cfg["class_agnostic_nms"], counts=counts)
            region = FrameRegions(float(t), boxes, labels, scores)
            counts["frames"] += 1
            counts["boxes"] += len(region)
            counts["frames_without_regions"] += int(len(region) == 0)
            state["regions"].append(region)

    def finish(self, state: dict[str, Any]):
        frames: list[FrameRegions] = state["regions"]
        counts = dict(state["counts"])
        meta: dict[str, Any] = {
            "classes": list(self.classes), "columns": list(REGION_COLUMNS), "box_format": "xyxy",
            "frame_size": state["frame_size"], "source_size": state["source_size"], "source": self.config["source"],
            "duration": state["duration"], "counts": counts,
        }
        if self.config["source"] == "boxes":
            counts["unmatched_rows"] = len(state["rows"]) - len(state["used_rows"])
            meta.update(input_box_format=self.config["box_format"], box_file=state["box_file"])
        times = np.array([f.time for f in frames], dtype=np.float64)
        return self.record(pack_regions(frames), times, self.sampling_fps, meta=meta)

    # ----- the two sources
    @torch.inference_mode()
    def detect(self, frames: torch.Tensor | np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(n, H, W, 3) uint8 -> per frame (boxes xyxy in frame pixels, scores, labels): every detection the
        model's own post-processing returns at threshold 0; filtering is `update`'s (so it is counted)."""
        frames = torch.as_tensor(frames)
        h, w = int(frames.shape[1]), int(frames.shape[2])
        out = []
        for lo in range(0, len(frames), self.batch_size):
            batch = frames[lo:lo + self.batch_size].permute(0, 3, 1, 2)
            inputs = self.processor(images=list(batch), return_tensors="pt", device=self.device).to(self.device)
            with self.amp():
                outputs = self.net(**inputs)
            outputs.logits = outputs.logits.float()
            outputs.pred_boxes = outputs.pred_boxes.float()
            results = self.processor.post_process_object_detection(outputs, threshold=0.0,
                                                                   target_sizes=[(h, w)] * len(batch))
            out += [(r["boxes"].float().cpu().numpy(), r["scores"].float().cpu().numpy(), r["labels"].cpu().numpy())
                    for r in results]
        return out

    def given(self, state: dict[str, Any], t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The box-file row nearest frame time `t` (within the tolerance), mapped to decoded-frame pixels."""
        i = nearest_row(state["row_times"], t, state["tolerance"])
        if i is None:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
        state["used_rows"].add(i)
        row = state["rows"][i]
        return state["transform"].apply(row.boxes), row.scores, row.labels

    # ----- box files
    def box_file(self, video_id: str) -> Path:
        """The box file of `video_id` (the pattern, or the same name with .json / .jsonl swapped)."""
        candidates = box_file_candidates(self.config["boxes_dir"], self.config["pattern"], id_to_filename(video_id))
        for path in candidates:
            if path.is_file():
                return path
        raise BadInputError(f"no box file for video {video_id!r} (looked for "
                            f"{' and '.join(str(p) for p in candidates)})", candidates[0])

    def check_items(self, items: list[VideoItem]) -> list[str]:
        """Box files that belong to no video of the run: usually a renamed video or a typo'd id."""
        if self.config["source"] != "boxes":
            return []
        orphans = orphan_box_files(self.config["boxes_dir"], self.config["pattern"], [i.video_id for i in items])
        notes = [f"{self.key}: box file {p} has no video in this run" for p in orphans[:MAX_ORPHANS_LISTED]]
        if len(orphans) > MAX_ORPHANS_LISTED:
            notes.append(f"{self.key}: ... and {len(orphans) - MAX_ORPHANS_LISTED} more box files with no video "
                         f"in this run under {self.config['boxes_dir']}")
        return notes


def _patterns(pattern: str) -> list[str]:
    """The pattern and its .json / .jsonl twin (both formats are read)."""
    if pattern.endswith(".jsonl"):
        return [pattern, pattern[:-1]]
    if pattern.endswith(".json"):
        return [pattern, pattern + "l"]
    return [pattern]


def box_file_candidates(boxes_dir: str | Path, pattern: str, stem: str) -> list[Path]:
    return [Path(boxes_dir) / p.replace("{stem}", stem) for p in _patterns(pattern)]


def orphan_box_files(boxes_dir: str | Path, pattern: str, video_ids: list[str]) -> list[Path]:
    """Files in `boxes_dir` matching `pattern` (or its .json/.jsonl twin) whose stem is none of `video_ids`."""
    boxes_dir = Path(boxes_dir)
    if not boxes_dir.is_dir():
        return []
    stems = {id_to_filename(v) for v in video_ids}
    orphans = set()
    for pat in _patterns(pattern):
        prefix, suffix = pat.split("{stem}", 1)
        for path in boxes_dir.glob(f"{prefix}*{suffix}"):
            rel = path.relative_to(boxes_dir).as_posix()
            stem = rel[len(prefix):len(rel) - len(suffix)]
            if path.is_file() and stem and "/" not in stem and stem not in stems:
                orphans.add(path)
    return sorted(orphans)
