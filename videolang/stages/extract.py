"""stage=extract: every per-video feature the models need, into the feature store, resumably.

    python -m videolang.run stage=extract videos=datasets/sample extractor=tiny
    python -m videolang.run stage=extract videos=list.txt trainer=ddp          # all GPUs of a machine
    python -m videolang.run stage=extract videos=list.txt shard=3 num_shards=8  # machine 3 of 8

Finished videos are skipped after a cheap validity check, corrupt ones redone; every
failure is recorded with its reason and the run goes on; the exit code is 3 when
anything failed.
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import hydra.utils
import torch
from omegaconf import DictConfig

from videolang.core.errors import ConfigError, VideolangError
from videolang.core.io import ensure_writable_dir
from videolang.extract.encoder import Encoder
from videolang.extract.parallel import ExtractModule, StoreWriter
from videolang.extract.sources import list_videos, shard
from videolang.stages import StageResult
from videolang.store import FeatureStore

log = logging.getLogger(__name__)


# Lightning's notes that do not apply to a prediction writer over an iterable of pieces
QUIET = ("Couldn't infer the batch indices", "predict returned None", ".*LeafSpec.*is deprecated")


def shard_numbers(shard_value: object, count_value: object) -> tuple[int, int]:
    """`shard` / `num_shards` as integers, or a usage error naming the value (`shard=abc`)."""
    numbers = []
    for name, value in (("shard", shard_value), ("num_shards", count_value)):
        try:
            if isinstance(value, bool) or float(value) != int(value):
                raise ValueError
            numbers.append(int(value))
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={value!r} is not a whole number (e.g. shard=3 num_shards=8)") from None
    return numbers[0], numbers[1]


def run(cfg: DictConfig) -> StageResult:
    started = time.time()
    st = cfg.stage
    index, count = shard_numbers(cfg.get("shard"), cfg.get("num_shards"))
    listed = list_videos(cfg.videos, tuple(st.extensions))
    items = shard(listed, index, count)
    encoder = Encoder.from_config(cfg.extractor)
    # checks over the whole list, not this shard's part (a box file of another shard's video is no orphan)
    notes = [note for ext in encoder.extractors.values() for note in ext.check_items(listed)]
    for note in notes:
        log.warning(note)
    store = FeatureStore(ensure_writable_dir(st.store), encoder.fingerprints)
    run_id = str(cfg.paths.output_dir)
    log.info("extract: %d video(s) in shard %d/%d -> %s (%s)", len(items), cfg.shard, cfg.num_shards, store.root,
             ", ".join(f"{k}={fp}" for k, fp in encoder.fingerprints.items()))

    module = ExtractModule(encoder, store, items, num_workers=int(st.num_workers), overwrite=bool(st.overwrite),
                           writer_name=f"shard{cfg.shard}of{cfg.num_shards}")
    trainer = hydra.utils.instantiate(cfg.trainer, logger=False, enable_checkpointing=False,
                                      enable_progress_bar=False, enable_model_summary=False,
                                      callbacks=[StoreWriter(run_id, progress=bool(st.progress))])
    with warnings.catch_warnings():
        for message in QUIET:
            warnings.filterwarnings("ignore", message=message)
        trainer.predict(module, return_predictions=False)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()  # every rank's journal is complete before anyone reports

    report = build_report(store, items, list(encoder.extractors), run_id)
    counted = [k for k, e in encoder.extractors.items() if getattr(e, "summarize_counts", False)]
    if counted:
        report["counts"] = sum_counts(store, counted, run_id)
    if trainer.global_rank == 0:
        store.write_manifest()
    report.update(store=str(store.root), fingerprints=encoder.fingerprints, seconds=round(time.time() - started, 2),
                  shard=int(cfg.shard), num_shards=int(cfg.num_shards), warnings=notes)
    log.info(format_report(report))
    return StageResult(report, failed=report["failed"])


MAX_LISTED = 1000  # failures listed in summary.json; the manifest has them all


def build_report(store: FeatureStore, items, keys: list[str], run_id: str) -> dict:
    """done / skipped / failed videos of this shard, from the journals (so every rank agrees)."""
    manifest = store.manifest()
    ids = {it.video_id for it in items}
    rows = manifest[manifest["video_id"].isin(ids) & manifest["key"].isin(keys)] if len(manifest) else manifest
    this_run = rows[rows["run"] == run_id] if len(rows) else rows
    failed_rows = this_run[this_run["status"] == "failed"] if len(this_run) else this_run
    failed_ids = set(failed_rows["video_id"]) if len(failed_rows) else set()
    done_ids = (set(this_run["video_id"]) - failed_ids) if len(this_run) else set()
    failures = [{"video_id": r.video_id, "key": r.key, "reason": r.reason, "path": r.path}
                for r in failed_rows.head(MAX_LISTED).itertuples()] if len(failed_rows) else []
    return {"videos": len(items), "done": len(done_ids), "skipped": len(ids - done_ids - failed_ids),
            "failed": len(failed_ids), "failed_keys": len(failed_rows), "failures": failures}


def sum_counts(store: FeatureStore, keys: list[str], run_id: str) -> dict[str, dict[str, int]]:
    """Per key, the sum of the `meta["counts"]` of the videos this run wrote (e.g. reused frames, clipped boxes)."""
    manifest = store.manifest()
    if not len(manifest):
        return {}
    done = manifest[(manifest["run"] == run_id) & (manifest["status"] == "done") & manifest["key"].isin(keys)]
    totals: dict[str, dict[str, int]] = {}
    for row in done.itertuples():
        try:
            counts = store.read(row.video_id, row.key, mmap=True).meta.get("counts") or {}
        except VideolangError:  # removed since: nothing to add
            continue
        bucket = totals.setdefault(row.key, {})
        for name, value in counts.items():
            if isinstance(value, (int, float)):
                bucket[name] = bucket.get(name, 0) + int(value)
    return totals


def format_report(report: dict) -> str:
    lines = [f"extract: {report['videos']} video(s): {report['done']} done, {report['skipped']} skipped "
             f"(already complete), {report['failed']} failed; store {report.get('store')}"]
    for key, counts in (report.get("counts") or {}).items():
        lines.append(f"  {key}: " + ", ".join(f"{name} {value}" for name, value in counts.items()))
    for f in report["failures"][:100]:
        lines.append(f"  failed {f['video_id']} [{f['key']}]: {f['reason']}")
    if report["failed_keys"] > 100:
        lines.append(f"  ... {report['failed_keys'] - 100} more in {Path(report['store']) / 'manifest.parquet'}")
    return "\n".join(lines)
