"""Frames with their object regions, for the proxy task: one item per frame with at least two objects.

Regions come from the feature store's `regions` key (`stage=extract` with a regions
extractor: a detector, or given boxes such as the sample corpus's ground truth); the
frames are decoded from the videos listed in the built dataset's `videos.parquet`, with
the decoder and frame sampling recorded for those regions, so box coordinates refer to
exactly the pixels the extract stage saw. Frames with fewer than two objects have no
ordered pair for the context predictor: they are skipped and counted.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from videolang.commonsense.regions import unpack_regions
from videolang.core.errors import BadInputError, ConfigError, VideolangError
from videolang.core.failures import FailureLog
from videolang.media.decode import FrameSampling, make_decoder
from videolang.media.probe import probe
from videolang.store import FeatureStore
from videolang.training.samplers import EpochSeededSampler

log = logging.getLogger(__name__)


@dataclass
class FrameItem:
    video_id: str
    time: float
    image: torch.Tensor   # (3, H, W) uint8
    boxes: torch.Tensor   # (K, 4) float32 xyxy, decoded-frame pixels
    labels: torch.Tensor  # (K,) int64


class FrameDataset(Dataset):
    def __init__(self, items: list[FrameItem]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> FrameItem:
        return self.items[i]


def collate_frames(items: list[FrameItem]) -> dict[str, Any]:
    return {"images": torch.stack([it.image for it in items]), "boxes": [it.boxes for it in items],
            "labels": torch.cat([it.labels for it in items]), "counts": [len(it.labels) for it in items],
            "video_id": [it.video_id for it in items], "time": [it.time for it in items]}


def decode_at(path: str, times: np.ndarray, decode: dict[str, Any]) -> dict[float, np.ndarray]:
    """The frames at `times` (the regions' time grid), decoded exactly as the extract stage did."""
    sampling = FrameSampling(**{k: decode[k] for k in ("fps", "num_frames", "size", "crop") if k in decode})
    decoder = make_decoder(decode.get("backend", "pyav"), sampling=sampling)
    wanted, out = np.asarray(times, dtype=np.float64), {}
    for chunk in decoder.frames(probe(path)):
        for t, frame in zip(chunk.times, chunk.frames):
            if len(wanted) and np.min(np.abs(wanted - t)) < 1e-3:
                out[round(float(t), 3)] = np.ascontiguousarray(frame)
    return out


class CommonsenseDataModule(L.LightningDataModule):
    """Train / val / test frames of a built dataset's splits, with regions from the feature store."""

    def __init__(self, dataset_dir: str | Path, feature_dir: str | Path, regions_key: str = "regions",
                 splits: dict[str, str] | None = None, batch_size: int = 16, eval_batch_size: int | None = None,
                 num_workers: int = 0, min_objects: int = 2, fingerprints: dict | None = None, seed: int = 0,
                 limit_videos: dict[str, int | None] | None = None):
        super().__init__()
        self.dataset_dir, self.feature_dir = Path(dataset_dir), Path(feature_dir)
        self.regions_key, self.min_objects = regions_key, int(min_objects)
        self.splits = dict(splits or {"train": "train", "val": "val", "test": "test"})
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size or batch_size)
        self.num_workers, self.seed = int(num_workers), int(seed)
        self.fingerprints, self.limit_videos = dict(fingerprints or {}), dict(limit_videos or {})
        self.failures = FailureLog("datamodule")
        self.datasets: dict[str, FrameDataset] = {}
        self.classes: list[str] | None = None
        self.skipped: dict[str, Counter] = {}
        self._store = None

    # ------------------------------------------------------------------ inputs
    @property
    def store(self):
        if self._store is None:
            self._store = FeatureStore(self.feature_dir, fingerprints=self.fingerprints)
        return self._store

    def videos(self, split: str) -> list[tuple[str, str | None]]:
        """(media id, video_path) of one split, from the builder's videos.parquet: the id the regions are stored
        under (`media_id`; `video_id` in tables built before it), each media once (ViTT's `<k>_<id>` entries are
        one video)."""
        import pandas as pd

        path = self.dataset_dir / "videos.parquet"
        if not path.is_file():
            raise BadInputError("no videos.parquet: build the dataset first (stage=build_dataset)", path)
        table = pd.read_parquet(path)
        ids = table["media_id"].where(table["media_id"].notna(), table["video_id"]) \
            if "media_id" in table.columns else table["video_id"]
        rows = table.assign(media=ids)[table["split"] == split].drop_duplicates("media")
        limit = self.limit_videos.get(split)
        if limit is not None:
            rows = rows.head(int(limit))
        return [(str(v), None if p is None or (isinstance(p, float) and np.isnan(p)) else str(p))
                for v, p in zip(rows["media"], rows["video_path"])]

    def decode_settings(self) -> dict[str, Any]:
        fp = self.store.resolve_fingerprint(self.regions_key)
        described = self.store.describe(self.regions_key, fp)
        return dict(described.get("input") or {})

    def _frames_of(self, split: str, video_id: str, path: str | None, decode: dict[str, Any],
                   skipped: Counter) -> list[FrameItem]:
        if not path:
            raise BadInputError("no media file for this video in videos.parquet")
        rec = self.store.read(video_id, self.regions_key)
        classes = list((rec.meta or {}).get("classes") or [])
        if self.classes is None:
            self.classes = classes
        elif classes != self.classes:
            raise BadInputError(f"its regions use another class vocabulary ({len(classes)} classes vs "
                                f"{len(self.classes)})")
        frames = unpack_regions(rec.array, rec.timestamps)
        usable = [f for f in frames if len(f.labels) >= self.min_objects]
        skipped["frames"] += len(frames)
        skipped[f"fewer_than_{self.min_objects}_objects"] += len(frames) - len(usable)
        if not usable:
            return []
        images = decode_at(path, np.array([f.time for f in usable]), decode)
        items = []
        for f in usable:
            image = images.get(round(float(f.time), 3))
            if image is None:
                skipped["frame_not_decoded"] += 1
                continue
            items.append(FrameItem(video_id, float(f.time), torch.from_numpy(image).permute(2, 0, 1).contiguous(),
                                   torch.as_tensor(f.boxes, dtype=torch.float32),
                                   torch.as_tensor(f.labels, dtype=torch.long)))
        return items

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ["train", "val"], "validate": ["val"], "test": ["test"]}.get(stage or "fit", ["train", "val"])
        decode = None
        for part in wanted:
            split = self.splits.get(part)
            if not split or part in self.datasets:
                continue
            decode = decode or self.decode_settings()
            items, skipped = [], Counter()
            for video_id, path in self.videos(split):
                try:
                    items += self._frames_of(split, video_id, path, decode, skipped)
                except VideolangError as e:
                    self.failures.record(f"{split}/{video_id}", e.problem)
            if not items:
                raise BadInputError(f"no frame with >= {self.min_objects} objects in split '{split}' "
                                    f"({dict(skipped)}; {len(self.failures)} video(s) skipped)",
                                    self.dataset_dir / "videos.parquet")
            self.datasets[part], self.skipped[part] = FrameDataset(items), skipped
            log.info("%s split '%s': %d frames with >= %d objects (%s)", part, split, len(items), self.min_objects,
                     ", ".join(f"{k} {v}" for k, v in skipped.items()))

    def inferred_model_options(self) -> dict[str, Any]:
        if not self.classes:
            raise ConfigError("the regions in the store name no classes")
        return {"classes": list(self.classes)}

    def feature_info(self) -> dict[str, dict]:
        fp = self.store.resolve_fingerprint(self.regions_key)
        return {self.regions_key: {**self.store.describe(self.regions_key, fp), "fingerprint": fp}}

    def summary(self) -> dict[str, Any]:
        return {"frames": {part: dict(c) for part, c in self.skipped.items()}}

    # ----------------------------------------------------------------- loaders
    def _loader(self, part: str, train: bool, batch_size: int) -> DataLoader:
        ds = self.datasets[part]  # the sampler's (seed, epoch) order: exact resume
        return DataLoader(ds, batch_size=batch_size, sampler=EpochSeededSampler(len(ds), self.seed, shuffle=train),
                          collate_fn=collate_frames, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True, self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False, self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False, self.eval_batch_size)

    def confounder_dataloader(self) -> DataLoader:
        """Every training frame once, in order: the pass that computes Z and P(c)."""
        return self._loader("train", False, self.eval_batch_size)
