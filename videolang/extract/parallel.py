"""Running the Encoder over many videos under Lightning: `trainer.predict` with a store writer.

- Each rank takes every world_size-th video of its shard (a deterministic split, one
  owner per video), drops keys already valid in the store, keys the manifest records as
  done without their input stream ("no audio stream") and keys that failed before (unless
  `retry_failed`, or the media file changed since), and cleans its own crash debris.
- `VideoStream` decodes in DataLoader workers (each worker owns whole videos), so the
  models in the main process never wait on decoding when they need not.
- `ExtractModule.predict_step` feeds pieces to the extractors; `StoreWriter` writes each
  finished video (features atomically, then a journal line) and drives the progress bar.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from datetime import datetime
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from videolang.core.failures import FailureLog
from videolang.core.ids import id_to_filename
from videolang.extract.encoder import STREAM_OF_INPUT, Encoder, Piece, VideoResult
from videolang.extract.sources import VideoItem, display_path, shard
from videolang.store import FeatureStore
from videolang.store.lock import ShardLock, describe_holder
from videolang.store.manifest import current_rows, file_stamp, outcome_stands
from videolang.training.devices import warn_if_large_on_cpu

log = logging.getLogger(__name__)

#: reasons of a key done without its input stream (older versions recorded them as failures: those are redone)
NO_STREAM_REASONS = tuple(f"no {stream} stream" for stream in STREAM_OF_INPUT.values())  # as `missing_stream` says


class VideoStream(IterableDataset):
    """The decoding half of the Encoder over a list of videos, split across DataLoader workers."""

    def __init__(self, encoder: Encoder, items: list[VideoItem]):
        self.encoder, self.items = encoder, items

    def __iter__(self):
        worker = get_worker_info()
        items = self.items if worker is None else self.items[worker.id::worker.num_workers]
        for item in items:
            yield from self.encoder.stream(item)


def _as_is(piece: Piece) -> Piece:
    return piece


def _known(value: Any) -> bool:
    return value is not None and value == value  # NaN (a column missing from older journals) is unknown


def recorded_outcomes(store: FeatureStore, encoder: Encoder) -> dict[tuple[str, str], dict[str, Any]]:
    """(video_id, key) -> the manifest's latest row for the encoder's fingerprint of that key."""
    rows = current_rows(store.manifest(), encoder.fingerprints)
    return {(r["video_id"], r["key"]): r for r in rows.to_dict("records")}


def pending_items(store: FeatureStore, encoder: Encoder, items: list[VideoItem], overwrite: bool = False,
                  retry_failed: bool = False) -> list[VideoItem]:
    """Items with the keys that still need work: missing or corrupt, or (overwrite) all.

    Not work: a key the manifest records as done without its input stream (`no audio stream`: nothing is
    stored, nothing to redo), and a key that failed before with these settings (`retry_failed` retries it).
    Both are redone when the media file changed since (size or modification time)."""
    fps = encoder.fingerprints
    recorded = {} if overwrite else recorded_outcomes(store, encoder)
    todo = []
    for item in items:
        stamp: list[str | None] = []  # stat the file once, only when a recorded outcome needs it

        def settled(key: str) -> bool:
            row = recorded.get((item.video_id, key))
            if row is None:
                return False
            if row["status"] == "done":
                if not (_known(row.get("reason")) and not row.get("n")):  # done with something to store:
                    return False                                            # the store, not the journal, says
            elif row["status"] != "failed" or row.get("reason") in NO_STREAM_REASONS:
                return False
            if not stamp:
                stamp.append(file_stamp(item.path))
            return outcome_stands(row, stamp[0], retry_failed)

        keys = tuple(k for k in encoder.extractors
                     if overwrite or not (store.is_valid(item.video_id, k, fps[k]) or settled(k)))
        if keys:
            todo.append(dataclasses.replace(item, keys=keys))
    return todo


class ExtractModule(L.LightningModule):
    def __init__(self, encoder: Encoder, store: FeatureStore, items: list[VideoItem], num_workers: int = 2,
                 overwrite: bool = False, writer_name: str = "shard0of1", retry_failed: bool = False,
                 run_id: str = "", lock_timeout: float | None = None):
        super().__init__()
        self.encoder, self.store, self.items = encoder, store, items
        self.num_workers, self.overwrite, self.writer_name = num_workers, overwrite, writer_name
        self.retry_failed, self.run_id, self.lock_timeout = retry_failed, run_id, lock_timeout
        self.todo: list[VideoItem] = []
        self.lock: ShardLock | None = None

    def journal_name(self) -> str:
        """This writer: the shard on this rank (its journal and its lock are named after it)."""
        return f"{self.writer_name}-rank{self.trainer.global_rank}of{self.trainer.world_size}"

    def predict_dataloader(self) -> DataLoader:
        rank, world = self.trainer.global_rank, self.trainer.world_size
        # this shard is this run's until it is done: another run of it is waited for (and what it finished is
        # then found complete) before anything is decided, never worked on twice at once
        self.lock = self.store.shard_lock(self.journal_name(), {"run": self.run_id})
        self.lock.acquire(self.lock_timeout, on_wait=self._waiting)
        mine = shard(self.items, rank, world)
        # this rank owns `mine`: their crash debris is its to clean (a killed overwrite run can leave some
        # beside complete features), nobody else's
        self.store.remove_temp_files(self.encoder.fingerprints.items(), {id_to_filename(it.video_id) for it in mine})
        self.todo = pending_items(self.store, self.encoder, mine, self.overwrite, self.retry_failed)
        workers = min(self.num_workers, len(self.todo))
        return DataLoader(VideoStream(self.encoder, self.todo), batch_size=None, num_workers=workers,
                          collate_fn=_as_is, prefetch_factor=4 if workers else None)

    def _waiting(self, holder: dict[str, Any]) -> None:
        limit = "as long as it takes" if self.lock_timeout is None else f"up to {self.lock_timeout:g} s"
        log.warning("extract: %s is being written by another run (%s): waiting for it, %s "
                    "(stage.lock_timeout)", self.lock.path, describe_holder(holder), limit)

    def release_lock(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def teardown(self, stage: str) -> None:
        self.release_lock()

    def on_predict_start(self) -> None:
        if self.device.type == "cpu" and self.num_workers:
            # leave cores to the decoding workers: idle-spinning OpenMP threads would take them (2x slower measured)
            torch.set_num_threads(max(1, (os.cpu_count() or 1) - self.num_workers))
        self.encoder.load(self.device)
        warn_if_large_on_cpu(self.trainer, self.encoder.torch_modules(), "extract")
        self.assembler = self.encoder.assembler()

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return batch  # each extractor moves what it needs (speech stays on the host)

    def predict_step(self, piece: Piece, batch_idx: int = 0) -> VideoResult | None:
        return self.assembler.consume(piece)


class StoreWriter(BasePredictionWriter):
    """Writes each finished video to the store and its journal; shows videos/s and an ETA."""

    def __init__(self, run_id: str, progress: bool = True):
        super().__init__(write_interval="batch")
        self.run_id, self.progress = run_id, progress
        self.bar = None

    def on_predict_start(self, trainer, pl_module: ExtractModule) -> None:
        from tqdm.auto import tqdm

        rank = f" rank {trainer.global_rank}" if trainer.world_size > 1 else ""
        self.journal = pl_module.store.journal(pl_module.journal_name())
        self.bar = tqdm(total=len(pl_module.todo), unit="video", desc=f"extract{rank}", disable=not self.progress,
                        dynamic_ncols=True, smoothing=0.1)
        self.failures = FailureLog("extract")  # logs each failure as it happens; the report lists them again
        self.failed_videos = 0
        self.frames, self.started = 0, time.monotonic()  # frames/s next to the bar's videos/s
        self.described: set[str] = set()  # keys whose extractor.json is written (with their first features, so a
        # run that stops before any, e.g. a model that does not load, leaves no empty configuration folder behind)

    def write_on_batch_end(self, trainer, pl_module: ExtractModule, prediction: VideoResult | None, batch_indices,
                           batch, batch_idx, dataloader_idx) -> None:
        if prediction is None:
            return
        result, store, encoder = prediction, pl_module.store, pl_module.encoder
        rows, now = [], datetime.now().isoformat(timespec="milliseconds")
        stamp = file_stamp(result.item.path)
        for key, record in result.records.items():
            try:
                if key not in self.described:
                    store.write_extractor_info(key, encoder.extractors[key].fingerprint, encoder.describe(key))
                    self.described.add(key)
                store.write(result.item.video_id, record)
            except OSError as e:
                result.failures[key] = f"cannot write features: {e.strerror or e}"
                continue
            rows.append(self._row(result, key, "done", result.absent.get(key), len(record), now, encoder, stamp))
        for key, reason in result.absent.items():  # no input stream: done, nothing stored, the reason recorded
            if key not in result.records and key not in result.failures:
                rows.append(self._row(result, key, "done", reason, 0, now, encoder, stamp))
        for key, reason in result.failures.items():
            rows.append(self._row(result, key, "failed", reason, 0, now, encoder, stamp))
            self.failures.record(f"{result.item.video_id} [{key}]", reason, display_path(result.item.path))
        self.journal.append(rows)
        self.failed_videos += bool(result.failures)
        if self.bar is not None:
            visual = result.records.get("visual")
            self.frames += len(visual) if visual is not None else 0
            fps = self.frames / max(time.monotonic() - self.started, 1e-6)
            self.bar.update(1)
            self.bar.set_postfix(frames_per_s=f"{fps:.1f}", failed=self.failed_videos, refresh=False)

    def _row(self, result: VideoResult, key: str, status: str, reason: str | None, n: int, now: str,
             encoder: Encoder, stamp: str | None) -> dict[str, Any]:
        ext = encoder.extractors[key]
        return {"video_id": result.item.video_id, "key": key, "fingerprint": ext.fingerprint, "status": status,
                "reason": reason, "model": ext.model_name, "n": n, "path": display_path(result.item.path),
                "seconds": round(result.seconds, 3), "finished_at": now, "run": self.run_id, "file_stamp": stamp}

    def on_predict_end(self, trainer, pl_module) -> None:
        if self.bar is not None:
            self.bar.close()
