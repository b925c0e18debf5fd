"""stage=extract: every per-video feature the models need, into the feature store, resumably.

    python -m videolang.run stage=extract videos=datasets/sample extractor=tiny
    python -m videolang.run stage=extract videos=list.txt trainer=ddp          # all GPUs of a machine
    python -m videolang.run stage=extract videos=list.txt shard=3 num_shards=8  # machine 3 of 8

Finished videos are skipped after a cheap validity check, corrupt ones redone; every
failure is recorded with its reason and the run goes on; the exit code is 3 when
anything failed. A key whose input stream the file lacks ("no audio stream") is done,
not failed. Keys that failed before are not retried (`retry_failed=true` retries them,
a changed media file is retried anyway), so a re-run of a finished run does nothing.
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
from videolang.core.options import extension_list, flag, shard_numbers, whole_number
from videolang.core.quiet import PREDICT_WRITER_NOTES
from videolang.extract.encoder import Encoder
from videolang.extract.parallel import ExtractModule, StoreWriter
from videolang.extract.sources import list_videos, shard
from videolang.stages import StageResult
from videolang.store import FeatureStore
from videolang.store.lock import describe_holder
from videolang.store.manifest import current_rows

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> StageResult:
    started = time.time()
    st = cfg.stage
    index, count = shard_numbers(cfg.get("shard"), cfg.get("num_shards"))
    shard([], index, count)  # the range, checked before anything is listed
    num_workers = whole_number("stage.num_workers", st.num_workers, 0)
    overwrite, progress = flag("stage.overwrite", st.overwrite), flag("stage.progress", st.progress)
    retry_failed = flag("retry_failed", st.get("retry_failed", False))
    extensions = extension_list(st.extensions)
    encoder = Encoder.from_config(cfg.extractor)  # every setting is checked before a large folder is listed
    listed = list_videos(cfg.videos, extensions, encoder.frame_extensions if encoder.frame_fps else None)
    items = shard(listed, index, count)
    # checks over the whole list, not this shard's part (a box file of another shard's video is no orphan)
    notes = [note for ext in encoder.extractors.values() for note in ext.check_items(listed)]
    for note in notes:
        log.warning(note)
    store = FeatureStore(ensure_writable_dir(st.store), encoder.fingerprints)
    run_id = str(cfg.paths.output_dir)
    log.info("extract: %d video(s) in shard %d/%d -> %s (%s)", len(items), index, count, store.root,
             ", ".join(f"{k}={fp}" for k, fp in encoder.fingerprints.items()))

    module = ExtractModule(encoder, store, items, num_workers=num_workers, overwrite=overwrite,
                           writer_name=f"shard{index}of{count}", retry_failed=retry_failed, run_id=run_id,
                           lock_timeout=lock_timeout(st.get("lock_timeout")))
    trainer = hydra.utils.instantiate(cfg.trainer, logger=False, enable_checkpointing=False,
                                      enable_progress_bar=False, enable_model_summary=False,
                                      callbacks=[StoreWriter(run_id, progress=progress)])
    with warnings.catch_warnings():
        for message in PREDICT_WRITER_NOTES:
            warnings.filterwarnings("ignore", message=message)
        try:
            trainer.predict(module, return_predictions=False)
        finally:
            module.release_lock()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()  # every rank's journal is complete before anyone reports

    manifest = store.manifest()  # merged once: the report, the counts and manifest.parquet all read it
    report = build_report(manifest, items, encoder.fingerprints, run_id)
    for journal, lines in sorted(store.torn_lines.items()):
        log.warning("journal %s: %d torn line%s dropped (a writer was killed mid-line; the rest is intact)",
                    journal, lines, "" if lines == 1 else "s")
    counted = [k for k, e in encoder.extractors.items() if getattr(e, "summarize_counts", False)]
    if counted:
        report["counts"] = sum_counts(store, manifest, counted, run_id)
    if trainer.global_rank == 0 and store.manifest_outdated():  # a run that did nothing writes nothing
        store.write_manifest(manifest)
    report.update(store=str(store.root), fingerprints=encoder.fingerprints, seconds=round(time.time() - started, 2),
                  shard=index, num_shards=count, warnings=notes, retry_failed=retry_failed,
                  torn_lines=dict(store.torn_lines))
    if module.lock is not None and module.lock.waited:
        report["waited_for_lock"] = {"seconds": round(module.lock.waited, 2), "holder": module.lock.waited_for}
    log.info(format_report(report))
    return StageResult(report, failed=report["failed"])


MAX_LISTED = 1000  # failures listed in summary.json; the manifest has them all


def build_report(manifest, items, fingerprints: dict[str, str], run_id: str) -> dict:
    """done / skipped / failed videos of this shard, from the merged journals (`FeatureStore.manifest`: so
    every rank agrees).

    `failed` counts the videos with a failed key now: failed in this run, or failed before and not
    retried (`failed_before` of them; their failures are listed with `"retried": false`)."""
    ids = {it.video_id for it in items}
    rows = current_rows(manifest, fingerprints)  # the latest outcome of each key with these settings,
    if len(rows):                                # of this shard's videos
        rows = rows[rows["video_id"].isin(ids)]
    this_run = rows[rows["run"] == run_id]
    failed_now = this_run[this_run["status"] == "failed"]
    earlier = rows[(rows["run"] != run_id) & (rows["status"] == "failed")]
    failed_ids = set(failed_now["video_id"])
    before_ids = set(earlier["video_id"]) - failed_ids  # a key still failed, not retried this run
    earlier = earlier[earlier["video_id"].isin(before_ids)]
    done_ids = set(this_run["video_id"]) - failed_ids - before_ids
    failures = [{"video_id": r.video_id, "key": r.key, "reason": r.reason, "path": r.path}
                for r in failed_now.head(MAX_LISTED).itertuples()]
    failures += [{"video_id": r.video_id, "key": r.key, "reason": r.reason, "path": r.path, "retried": False,
                  "run": r.run} for r in earlier.head(max(0, MAX_LISTED - len(failures))).itertuples()]
    no_stream: dict[str, dict] = {}  # keys done this run without their input stream, by reason
    absent = this_run[(this_run["status"] == "done") & this_run["reason"].notna()]
    for reason, group in absent.groupby("reason"):
        no_stream[str(reason)] = {"videos": int(group["video_id"].nunique()), "keys": sorted(set(group["key"]))}
    return {"videos": len(items), "done": len(done_ids), "skipped": len(ids - done_ids - failed_ids - before_ids),
            "failed": len(failed_ids) + len(before_ids), "failed_before": len(before_ids),
            "failed_keys": len(failed_now) + len(earlier), "failures": failures, "no_stream": no_stream}


def sum_counts(store: FeatureStore, manifest, keys: list[str], run_id: str) -> dict[str, dict[str, int]]:
    """Per key, the sum of the `meta["counts"]` of the videos this run wrote (e.g. reused frames, clipped boxes),
    from the merged journals (`FeatureStore.manifest`)."""
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


def lock_timeout(value) -> float | None:
    """stage.lock_timeout: seconds to wait for another run of the same shard (null: as long as it takes)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"stage.lock_timeout={value!r}: seconds >= 0, or null to wait as long as it takes")
    return float(value)


def format_report(report: dict) -> str:
    before = report.get("failed_before", 0)
    failed = f"{report['failed'] - before} failed"
    if before:
        failed += f", {before} skipped (failed before; retry_failed=true to retry)"
    lines = [f"extract: {report['videos']} video(s): {report['done']} done, {report['skipped']} skipped "
             f"(already complete), {failed}; store {report.get('store')}"]
    waited = report.get("waited_for_lock")
    if waited:
        lines.append(f"  waited {waited['seconds']:g} s for another run of this shard ({describe_holder(waited['holder'])})"
                     " before deciding what to do: what it finished is counted as skipped")
    for reason, what in (report.get("no_stream") or {}).items():
        lines.append(f"  {what['videos']} video(s) with {reason}: {', '.join(what['keys'])} done, nothing to "
                     "extract (not a failure)")
    for key, counts in (report.get("counts") or {}).items():
        lines.append(f"  {key}: " + ", ".join(f"{name} {value}" for name, value in counts.items()))
    for f in report["failures"][:100]:
        note = " (failed before, not retried)" if f.get("retried") is False else ""
        lines.append(f"  failed {f['video_id']} [{f['key']}]: {f['reason']}{note}")
    if report["failed_keys"] > 100:
        lines.append(f"  ... {report['failed_keys'] - 100} more in {Path(report['store']) / 'manifest.parquet'}")
    return "\n".join(lines)
