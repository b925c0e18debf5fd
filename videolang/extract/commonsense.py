"""Per-time-step common-sense features: a trained VC R-CNN's region features, pooled per frame.

Runs inside the one `Encoder` path (so `stage=extract` and `stage=predict` compute it the
same way) after the `regions` extractor it `requires`: for each sampled frame it takes that
frame's boxes, computes their RoI features with the checkpoint of `stage=train
task=commonsense`, and pools them to one vector (`mean` or the learned `attention` pooling,
see `videolang.commonsense.pooling`).

iPerceive's video trick is kept: a frame whose detected labels (as a multiset) equal the
previous frame's reuses the previous frame's vector instead of recomputing it
(`reuse_unchanged`; counted). A frame without regions gets a zero vector and mask 0; the
mask is stored in the record's meta (`meta["mask"]`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from videolang.commonsense.module import CommonsenseModule
from videolang.commonsense.pooling import POOLINGS
from videolang.core.errors import ConfigError
from videolang.extract.base import Extractor
from videolang.media.decode import FrameChunk


class CommonsenseExtractor(Extractor):
    input = "frames"
    requires = ("regions",)
    sampling_fps: float | None = None
    #: the stage sums meta["counts"] of this key over a run (reused frames, frames without regions)
    summarize_counts = True

    def __init__(self, checkpoint: str, pooling: str = "mean", reuse_unchanged: bool = True, dtype: str = "float32",
                 regions_key: str = "regions", batch_size: int = 32, autocast: bool = True):
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {pooling!r} for the commonsense extractor; one of {POOLINGS}")
        # the config holds the constructor's own names: predict rebuilds the extractor from it
        super().__init__(checkpoint=str(checkpoint), pooling=pooling, reuse_unchanged=bool(reuse_unchanged),
                         dtype=dtype)
        self.requires = (regions_key,)
        self.regions_key = regions_key
        self.batch_size, self.autocast = int(batch_size), bool(autocast)
        self.module = None

    @property
    def model_name(self) -> str:
        return self.config["checkpoint"]

    def load(self, device: torch.device) -> None:
        super().load(device)
        if self.module is None:
            self.module = CommonsenseModule.from_checkpoint(self.config["checkpoint"])
        self.module.to(device)

    @property
    def dim(self) -> int:
        return int(self.module.hparams.dim)

    def begin(self, item, info):
        return {"regions": None, "next": 0, "times": [], "vectors": [], "mask": [], "prev": None,
                "counts": {"frames": 0, "reused_frames": 0, "computed_frames": 0, "frames_without_regions": 0},
                "duration": info.video_duration if info else None}

    def link(self, state: dict[str, Any], required: dict[str, Any]) -> None:
        state["regions"] = required[self.regions_key]["regions"]  # the regions extractor's per-frame list

    @torch.inference_mode()
    def update(self, state: dict[str, Any], chunk: FrameChunk) -> None:
        n = len(chunk.times)
        frames = state["regions"][state["next"]:state["next"] + n]
        if len(frames) != n:
            raise RuntimeError(f"regions cover {len(frames)} of this chunk's {n} frames")  # pragma: no cover
        state["next"] += n
        counts, reuse = state["counts"], self.config["reuse_unchanged"]
        vectors = np.zeros((n, self.dim), np.float32)
        mask = np.zeros(n, np.int64)
        reused = np.zeros(n, bool)
        signature, vector = state["prev"] or (None, None)  # the previous frame's labels and vector
        for i, fr in enumerate(frames):
            labels = tuple(sorted(int(c) for c in fr.labels))
            mask[i] = bool(labels)
            reused[i] = reuse and bool(labels) and labels == signature
            signature = labels
        todo = np.flatnonzero(mask.astype(bool) & ~reused)
        for lo in range(0, len(todo), self.batch_size):
            idx = todo[lo:lo + self.batch_size].tolist()
            images = torch.as_tensor(chunk.frames[idx]).permute(0, 3, 1, 2)
            boxes = [torch.as_tensor(frames[i].boxes, dtype=torch.float32) for i in idx]
            with self.amp():
                pooled, _ = self.module.frame_vectors(images, boxes, self.config["pooling"])
            vectors[idx] = pooled.float().cpu().numpy()
        for i in np.flatnonzero(reused):  # in order: the frame before is already filled (or carried over)
            vectors[i] = vectors[i - 1] if i else vector
        counts["computed_frames"] += len(todo)
        counts["reused_frames"] += int(reused.sum())
        counts["frames_without_regions"] += int(n - mask.sum())
        # what the next chunk's first frame may reuse
        state["prev"] = (signature, vectors[-1].copy()) if n and mask[-1] else None
        counts["frames"] += n
        state["times"].append(np.asarray(chunk.times))
        state["vectors"].append(vectors)
        state["mask"].append(mask)

    def finish(self, state: dict[str, Any]):
        times = np.concatenate(state["times"]) if state["times"] else np.zeros(0)
        array = np.concatenate(state["vectors"]) if state["vectors"] else np.zeros((0, self.dim), np.float32)
        mask = np.concatenate(state["mask"]) if state["mask"] else np.zeros(0, np.int64)
        return self.record(array.astype(self.config["dtype"]), times, self.sampling_fps,
                           meta={"mask": mask.tolist(), "pooling": self.config["pooling"], "counts": state["counts"],
                                 "duration": state["duration"], "dim": self.dim})
