"""Extra per-frame feature streams (the common-sense rows) and their alignment to the visual frames.

A stream is (T, D) rows with timestamps and a 0/1 mask (0 = no content, e.g. a frame
where the detector found no region). Extractors sample on the same 1 fps grid as
`visual` but nothing guarantees identical timestamps (decoder rounding, a different
start offset), so rows are matched to frames by nearest timestamp, once, before any
frame selection: the frames kept for a chapter or by uniform subsampling then carry
their own row, whatever the fusion.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from videolang.core.errors import BadInputError


@dataclass
class RowStream:
    rows: np.ndarray          # (T, D) float32; a row with mask 0 is zeros
    timestamps: np.ndarray    # (T,) seconds
    mask: np.ndarray          # (T,) int64, 1 = the row has content

    def __post_init__(self) -> None:
        self.rows = np.asarray(self.rows, dtype=np.float32)
        self.timestamps = np.asarray(self.timestamps, dtype=np.float64).reshape(-1)
        if self.rows.ndim != 2:
            raise BadInputError(f"stream rows must be (T, D), got shape {self.rows.shape}")
        if len(self.rows) != len(self.timestamps):
            raise BadInputError(f"stream has {len(self.rows)} rows but {len(self.timestamps)} timestamps")
        self.mask = np.asarray(self.mask, dtype=np.int64).reshape(-1)
        if len(self.mask) != len(self.rows):
            raise BadInputError(f"stream mask has {len(self.mask)} entries for {len(self.rows)} rows")
        self.mask = (self.mask != 0).astype(np.int64)

    @property
    def dim(self) -> int:
        return int(self.rows.shape[1])

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def empty(cls, dim: int) -> "RowStream":
        """No rows at all: every frame aligns to a masked zero row (a video whose stream could not be made)."""
        return cls(np.zeros((0, int(dim)), np.float32), np.zeros(0), np.zeros(0, np.int64))

    @classmethod
    def from_record(cls, record: Any) -> "RowStream":
        """A store `FeatureRecord` -> RowStream. The mask is `meta["mask"]`; without one, non-zero rows count."""
        if record.array is None:
            raise BadInputError(f"'{record.key}' record has no array")
        rows = np.asarray(record.array, dtype=np.float32)
        if rows.ndim != 2:
            raise BadInputError(f"'{record.key}' features are not (T, D): shape {rows.shape}")
        meta = record.meta if isinstance(record.meta, dict) else {}
        mask = meta.get("mask")
        mask = (np.abs(rows).sum(axis=1) > 0) if mask is None else np.asarray(mask)
        return cls(rows, record.timestamps, mask)


def nearest_indices(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each target time, the index of the nearest source time (the earlier one on a tie) and the distance."""
    source = np.asarray(source, dtype=np.float64).reshape(-1)
    target = np.asarray(target, dtype=np.float64).reshape(-1)
    if len(source) == 0:
        return np.zeros(len(target), np.int64), np.full(len(target), np.inf)
    order = np.argsort(source, kind="stable")
    s = source[order]
    pos = np.searchsorted(s, target)
    lo, hi = np.clip(pos - 1, 0, len(s) - 1), np.clip(pos, 0, len(s) - 1)
    pick_hi = np.abs(s[hi] - target) < np.abs(s[lo] - target)
    idx = np.where(pick_hi, hi, lo)
    return order[idx], np.abs(s[idx] - target)


def grid_step(timestamps: np.ndarray) -> float:
    """The median spacing of a time grid (inf with fewer than two distinct times)."""
    diffs = np.diff(np.unique(np.asarray(timestamps, dtype=np.float64)))
    return float(np.median(diffs)) if len(diffs) else float("inf")


def align_to_frames(stream: RowStream, frame_times: np.ndarray,
                    tolerance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One row and one mask bit per frame: the nearest row in time, masked (and zeroed) when that row has
    no content or lies farther than `tolerance` seconds (default: the stream's own grid step, so a stream
    that stops early does not lend its last row to the rest of the video)."""
    frame_times = np.asarray(frame_times, dtype=np.float64).reshape(-1)
    rows = np.zeros((len(frame_times), stream.dim), np.float32)
    mask = np.zeros(len(frame_times), np.int64)
    if len(stream) == 0 or len(frame_times) == 0:
        return rows, mask
    idx, dist = nearest_indices(stream.timestamps, frame_times)
    limit = grid_step(stream.timestamps) if tolerance is None else float(tolerance)
    mask = stream.mask[idx] * (dist <= limit + 1e-6)
    rows = stream.rows[idx] * mask[:, None].astype(np.float32)
    return rows.astype(np.float32), mask.astype(np.int64)
