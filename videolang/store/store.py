"""The feature store: the one place that knows where features live.

Layout under `root` (one folder per key and fingerprint, so features of different
models or settings never mix):

    <key>/<fingerprint>/extractor.json     what made these features (model, config)
    <key>/<fingerprint>/<stem>.npy         (T, D) array          } stem = id_to_filename(video_id)
    <key>/<fingerprint>/<stem>.json        sidecar: timestamps, fps, model, fingerprint, shape
                                           (speech: the transcript itself, no .npy)
    manifest/<writer>.jsonl                one journal per writer (shard x rank), append-only
    manifest/<writer>.lock                 while a run writes that shard: who it is (`videolang.store.lock`)
    manifest.parquet                       merged snapshot of the journals

Every file is written atomically (temporary name + rename); the sidecar is written
last and is the commit mark, so a video is done exactly when its sidecar is valid
and agrees with its array. Each video has one owner (deterministic sharding), so no
two writers ever touch the same file, and each writer holds its shard's lock while it
works, so a second run of the same shard waits instead of doing the work again.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.ids import filename_to_id, id_to_filename
from videolang.core.io import (atomic_path, atomic_save_npy, atomic_target, atomic_write_json, atomic_write_parquet,
                               ensure_dir)
from videolang.store.lock import ShardLock
from videolang.store.manifest import Journal, merge_journals
from videolang.store.record import FeatureRecord

SIDECAR_VERSION = 1


class FeatureStore:
    """Read and write per-video features.

    `fingerprints` pins the fingerprint read for each key (e.g. `Encoder.fingerprints`);
    without it a key must have exactly one fingerprint in the store.
    """

    def __init__(self, root: str | Path, fingerprints: dict[str, str] | None = None):
        self.root = Path(root)
        self.fingerprints = dict(fingerprints or {})
        self.torn_lines: dict[str, int] = {}  # journal file name -> lines dropped at the last `manifest()`

    # ----- where things live
    def key_dir(self, key: str, fingerprint: str | None = None) -> Path:
        return self.root / key / self.resolve_fingerprint(key, fingerprint)

    def sidecar_path(self, video_id: str, key: str, fingerprint: str | None = None) -> Path:
        return self.key_dir(key, fingerprint) / f"{id_to_filename(video_id)}.json"

    def array_path(self, video_id: str, key: str, fingerprint: str | None = None) -> Path:
        return self.key_dir(key, fingerprint) / f"{id_to_filename(video_id)}.npy"

    def keys(self) -> list[str]:
        skip = {"manifest"}
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name not in skip) if self.root.is_dir() else []

    def fingerprints_of(self, key: str) -> list[str]:
        folder = self.root / key
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def resolve_fingerprint(self, key: str, fingerprint: str | None = None) -> str:
        if fingerprint or key in self.fingerprints:
            return fingerprint or self.fingerprints[key]
        found = self.fingerprints_of(key)
        if len(found) == 1:
            return found[0]
        if not found:
            raise BadInputError(f"no '{key}' features in the store", self.root,
                                hint="run stage=extract first, or point paths.feature_dir at the right store")
        described = ", ".join(f"{fp} ({self.describe(key, fp).get('model', '?')})" for fp in found)
        raise ConfigError(f"the store holds '{key}' features from {len(found)} configurations: {described}",
                          self.root, hint="pass fingerprints={key: ...} (Encoder.fingerprints) to choose one")

    def describe(self, key: str, fingerprint: str) -> dict[str, Any]:
        """The extractor.json of one key/fingerprint folder ({} when absent)."""
        path = self.root / key / fingerprint / "extractor.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def video_ids(self, key: str, fingerprint: str | None = None) -> list[str]:
        """Ids of the videos with a (sidecar-committed) `key` feature."""
        folder = self.root / key / self.resolve_fingerprint(key, fingerprint)
        if not folder.is_dir():
            return []
        return sorted(filename_to_id(e.name[:-5]) for e in os.scandir(folder)
                      if e.name.endswith(".json") and not e.name.startswith(".") and e.name != "extractor.json")

    # ----- writing
    def write_extractor_info(self, key: str, fingerprint: str, info: dict[str, Any]) -> None:
        """The first description of a configuration stays; a frame folders' rate (`frames`, not fingerprinted)
        is added when a later run states one the description lacks (what predict reads back)."""
        path = self.root / key / fingerprint / "extractor.json"
        if not path.exists():
            atomic_write_json(path, info)
        elif info.get("frames"):
            described = self.describe(key, fingerprint)
            if described and not described.get("frames"):
                atomic_write_json(path, {**described, "frames": info["frames"]})

    def write(self, video_id: str, record: FeatureRecord) -> Path:
        """Write one record atomically: the array first, then the sidecar (the commit mark)."""
        folder = ensure_dir(self.root / record.key / record.fingerprint)
        stem = id_to_filename(video_id)
        sidecar: dict[str, Any] = {
            "version": SIDECAR_VERSION, "video_id": video_id, "key": record.key, "model": record.model,
            "fingerprint": record.fingerprint, "fps": record.fps, "meta": record.meta,
            "timestamps": [round(float(t), 6) for t in record.timestamps],
        }
        if record.segments is not None:
            sidecar["segments"] = record.segments
        if record.array is not None:
            array = np.ascontiguousarray(record.array)
            sidecar["shape"], sidecar["dtype"] = list(array.shape), str(array.dtype)
            atomic_save_npy(folder / f"{stem}.npy", array)
        # no fsync here: a kill cannot tear a renamed file, and after a power loss the
        # validity check finds a damaged sidecar and the video is redone (fsync cost ~20 ms a file)
        path = folder / f"{stem}.json"
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(sidecar, ensure_ascii=False, allow_nan=False), encoding="utf-8")
        return path

    # ----- reading
    def read(self, video_id: str, key: str, fingerprint: str | None = None, mmap: bool = False) -> FeatureRecord:
        """The record of `video_id` / `key`; raises BadInputError when missing or corrupt."""
        path = self.sidecar_path(video_id, key, fingerprint)
        sidecar = self._read_sidecar(path)
        if sidecar is None:
            raise BadInputError(f"no valid '{key}' features for video {video_id!r}", path)
        array = None
        if "shape" in sidecar:
            npy = path.with_suffix(".npy")
            if not npy_matches(npy, sidecar["shape"], sidecar["dtype"]):
                raise BadInputError(f"'{key}' array is missing or does not match its sidecar", npy)
            array = np.load(npy, mmap_mode="r" if mmap else None, allow_pickle=False)
        return FeatureRecord(key=key, array=array, timestamps=np.asarray(sidecar["timestamps"], dtype=np.float64),
                             fps=sidecar.get("fps"), model=sidecar["model"], fingerprint=sidecar["fingerprint"],
                             segments=sidecar.get("segments"), meta=sidecar.get("meta") or {})

    def is_valid(self, video_id: str, key: str, fingerprint: str) -> bool:
        """Cheap check that a finished record is intact: sidecar parses and agrees with the array header/size."""
        path = self.root / key / fingerprint / f"{id_to_filename(video_id)}.json"
        sidecar = self._read_sidecar(path)
        if sidecar is None or sidecar.get("fingerprint") != fingerprint:
            return False
        if "shape" in sidecar:
            return npy_matches(path.with_suffix(".npy"), sidecar["shape"], sidecar["dtype"])
        return "segments" in sidecar

    @staticmethod
    def _read_sidecar(path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        needed = ("version", "key", "model", "fingerprint", "timestamps")
        return data if isinstance(data, dict) and all(k in data for k in needed) else None

    # ----- crash debris and the manifest
    def remove_temp_files(self, keys_fingerprints: Iterable[tuple[str, str]], stems: set[str]) -> int:
        """Delete temporary files left by a killed writer, only for the videos this writer owns."""
        removed = 0
        for key, fp in keys_fingerprints:
            folder = self.root / key / fp
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                stem = temp_owner_stem(entry.name)
                if stem is not None and stem in stems:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        return removed

    def shard_lock(self, writer: str, owner: dict[str, Any] | None = None) -> ShardLock:
        """The lock a writer (`shard<i>of<n>-rank<r>of<w>`) holds while it works (`videolang.store.lock`)."""
        return ShardLock(self.root / "manifest" / f"{writer}.lock", owner)

    def journal(self, writer: str) -> Journal:
        return Journal(self.root / "manifest" / f"{writer}.jsonl")

    def manifest(self):
        """All journals merged: the latest row per (video_id, key, fingerprint), as a DataFrame.

        Lines torn by a killed writer are dropped; their count per journal file is in
        `df.attrs["torn_lines"]` (and `self.torn_lines`)."""
        torn: dict[str, int] = {}
        df = merge_journals(sorted((self.root / "manifest").glob("*.jsonl")), torn)
        self.torn_lines = torn
        df.attrs["torn_lines"] = dict(torn)
        return df

    def manifest_outdated(self) -> bool:
        """True when manifest.parquet is missing or a journal changed since it was written."""
        try:
            written = (self.root / "manifest.parquet").stat().st_mtime_ns
        except OSError:
            return True
        return any(p.stat().st_mtime_ns >= written for p in (self.root / "manifest").glob("*.jsonl"))

    def write_manifest(self, manifest=None) -> Path:
        """manifest.parquet from `manifest` (a `self.manifest()` the caller has merged already) or a fresh merge."""
        return atomic_write_parquet(self.root / "manifest.parquet", self.manifest() if manifest is None else manifest)


def temp_owner_stem(name: str) -> str | None:
    """For a temporary file of `videolang.core.io.atomic_path` that was to become `<stem>.npy` or
    `<stem>.json`, the stem."""
    final = atomic_target(name)
    for ext in (".npy", ".json"):
        if final is not None and final.endswith(ext):
            return final[: -len(ext)]
    return None


def npy_matches(path: Path, shape: list[int], dtype: str) -> bool:
    """True when `path` is an .npy whose header says `shape`/`dtype` and whose size holds all the data."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(f)
            offset = f.tell()
        size = path.stat().st_size
    except (OSError, ValueError):
        return False
    got_shape, _, got_dtype = header
    expected = offset + int(np.prod(got_shape)) * got_dtype.itemsize
    return list(got_shape) == list(shape) and str(got_dtype) == dtype and size == expected
