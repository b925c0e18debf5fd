"""The common-sense stream: its switch (`model.commonsense`: `CommonsenseOptions`, one home for what its options
mean) and its rows aligned to the visual frames (`RowStream`, `align_to_frames`).

iPerceive (Chadha et al., 2020) adds a common-sense vector per frame, pooled over the
frame's object regions, to a dense video captioner. Here it is an optional encoder
input of the shared Vid2Seq backbone, chosen in config and read the same way by the
model, the data module and predict:

- `fusion: concat`: each visual frame gets the nearest common-sense row appended
  (iPerceive's captioning fusion); the visual encoder's input width becomes
  `visual_dim + commonsense_dim`.
- `fusion: stream`: the rows get their own encoder (linear projection, learned
  positions, LayerNorm, `layers` transformer layers) and are joined to the encoder
  states next to speech and frames; frames without regions (mask 0) are masked out.

The width is the sibling option `model.commonsense_dim` (like `visual_dim`, null =
read from the features), so `stage=train` fills both the same way.

A stream is (T, D) rows with timestamps and a 0/1 mask (0 = no content, e.g. a frame
where the detector found no region). Extractors sample on the same 1 fps grid as
`visual` but nothing guarantees identical timestamps (decoder rounding, a different
start offset), so rows are matched to frames by nearest timestamp, once, before any
frame selection: the frames kept for a chapter or by uniform subsampling then carry
their own row, whatever the fusion.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from videolang.core.errors import BadInputError

FUSIONS = ("concat", "stream")


@dataclass(frozen=True)
class CommonsenseOptions:
    enabled: bool = False
    fusion: str = "concat"          # concat | stream
    key: str = "commonsense"        # the feature-store key (the extractor's key)
    layers: int = 0                 # stream fusion: transformer layers over the rows (0 = projection only)

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"model.commonsense.fusion is {self.fusion!r}; one of {', '.join(FUSIONS)}")
        if int(self.layers) < 0:
            raise ValueError("model.commonsense.layers must be >= 0")

    @classmethod
    def parse(cls, value: Any) -> "CommonsenseOptions":
        """None (old checkpoints, configs without the block) -> disabled; a dict / DictConfig -> options."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if hasattr(value, "items"):
            value = {str(k): v for k, v in value.items()}
        else:
            raise ValueError(f"model.commonsense must be a mapping, got {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            hint = " (the width is model.commonsense_dim)" if "dim" in unknown else ""
            raise ValueError(f"unknown model.commonsense option(s) {unknown}; known: {sorted(known)}{hint}")
        return cls(enabled=bool(value.get("enabled", False)), fusion=str(value.get("fusion", "concat")),
                   key=str(value.get("key", "commonsense")), layers=int(value.get("layers", 0)))

    @property
    def active_fusion(self) -> str | None:
        """The fusion when the stream is read, else None (the one value items and batches branch on)."""
        return self.fusion if self.enabled else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
