"""Batch prediction: `stage=predict videos=<folder|list.txt|videos.parquet|file> ckpt=...` over many videos.

The feature store's rules, applied to prediction files:

- **One set of outputs per video** in `stage.out_dir`, named by `id_to_filename(video_id)`:
  `<stem>.chapters.json`, `<stem>.youtube.txt`, `<stem>.chapters.vtt` (each written atomically)
  and last `<stem>.predict.json`, the commit mark: the video, its file stamp (size + mtime),
  the fingerprint of the checkpoint (its SHA-256) and the predict settings, and the size and
  SHA-256 of each output file.
- **Skip what is done**: a video whose commit mark has this run's fingerprint, the video's
  current size and every output file at its recorded size is skipped; a re-run of a
  finished run predicts nothing and writes nothing (it does not even load the model).
- **Failures are recorded, the run goes on**: each video's outcome is one row in this writer's
  JSON Lines journal `predict_journal/shard<i>of<n>-rank<r>of<w>.jsonl` (the store's journal
  format: `video_id, key, fingerprint, status, reason, n, path, seconds, finished_at, run,
  file_stamp`). A video that failed with these settings is not retried (`retry_failed=true`
  retries it; a media file changed since is retried anyway) and still counts as failed, so
  the exit code stays 3 until it is fixed or removed from the list. A video without an audio
  stream is predicted from its frames alone: done, with a note.
- **Shards and ranks**: `shard=i num_shards=n` takes `videolang.extract.sources.shard` of the
  sorted list (the same videos as `stage=extract` with the same values); under a multi-process
  trainer (`trainer=ddp`, `trainer=ddp_sim`) each rank takes every world_size-th video of its
  shard (`BatchPredictModule`, Lightning `trainer.predict`, one model per rank on its device).
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset

from videolang.core.errors import ConfigError, VideolangError
from videolang.core.ids import id_to_filename
from videolang.core.frame_names import FRAME_EXTENSIONS
from videolang.core.io import atomic_target, atomic_write_json, ensure_writable_dir, file_sha256
from videolang.core.options import extension_list, flag, instantiate, shard_numbers
from videolang.core.quiet import PREDICT_WRITER_NOTES
from videolang.extract.sources import VideoItem, display_path, list_videos, shard
from videolang.predict.chapters import ChapterPredictor
from videolang.predict.formats import write_chapter_files
from videolang.predict.folders import checkpoint_frames, require_fps, video_stamp
from videolang.predict.runners import ChapterRun, frames_fps_of, generation_overrides, model_dir_of
from videolang.store.manifest import Journal, outcome_stands, read_journal
from videolang.store.record import fingerprint_of

log = logging.getLogger(__name__)

FORMAT = "videolang-predict-batch/1"
KEY = "chapters"                     # the journal's `key` column: what was predicted
MARK_SUFFIX = ".predict.json"        # the per-video commit mark, written after the outputs
JOURNAL_DIR = "predict_journal"
OUTPUT_SUFFIXES = (".chapters.json", ".youtube.txt", ".chapters.vtt", MARK_SUFFIX)
MAX_LISTED = 1000                    # failures listed in summary.json (the journals have them all)
MAX_TABLE = 10000                    # per-video rows in summary.json
MAX_PRINTED = 100                    # per-video rows printed


# ---------------------------------------------------------------------- identity of a run's settings
def settings_identity(ckpt: str | Path, runner: str, extractor: Any, generation: dict[str, Any],
                      frames_fps: float | None = None) -> dict[str, Any]:
    """What the predictions depend on: the checkpoint's bytes (not its path: a moved checkpoint is the
    same model), the runner, the extractors (`checkpoint` or the `extractor` config), decoding overrides and,
    when the list holds frame folders, their rate (media-only runs keep their identity)."""
    return {"format": FORMAT, "checkpoint_sha256": file_sha256(ckpt), "runner": runner,
            "extractor": extractor, "generation": dict(sorted(generation.items())),
            **({"frames_fps": frames_fps} if frames_fps is not None else {})}


def batch_frame_settings(cfg, ckpt: Path) -> tuple[float | None, tuple[str, ...]]:
    """(frame folders' rate, their image extensions): `frames_fps=` / `extractor.frames.fps`, else the rate the
    checkpoint's training extraction recorded (read with the tensors mapped: a finished run loads no model)."""
    from omegaconf import OmegaConf

    fps = frames_fps_of(cfg)
    recorded = checkpoint_frames(ckpt) or {}
    extensions = OmegaConf.select(cfg, "extractor.frames.extensions", default=None) or \
        recorded.get("extensions") or FRAME_EXTENSIONS
    return (fps if fps is not None else recorded.get("fps")), tuple(str(e).lower().lstrip(".") for e in extensions)


# ---------------------------------------------------------------------- what a batch run carries
@dataclass
class BatchJob:
    """Everything a worker needs to predict and record one video (plain data: picklable for ddp_spawn)."""

    out_dir: str
    ckpt: str
    fingerprint: str
    identity: dict[str, Any]
    extractor_cfg: Any = None            # a plain dict (stage.extractor=config) or None (the checkpoint's)
    model_dir: str | None = None         # paths.model_dir: where the models the checkpoint names are
    device: str = "auto"                 # single process; ranks use their trainer device
    generation: dict[str, Any] = field(default_factory=dict)
    frames_fps: float | None = None      # frame folders' rate (stated, or the checkpoint's recorded one)
    run_id: str = ""
    writer: str = "shard0of1"
    retry_failed: bool = False
    progress: bool = True

    def mark_path(self, video_id: str) -> Path:
        return Path(self.out_dir) / f"{id_to_filename(video_id)}{MARK_SUFFIX}"

    def journal_paths(self) -> list[Path]:
        return sorted((Path(self.out_dir) / JOURNAL_DIR).glob("*.jsonl"))


# ---------------------------------------------------------------------- what is done, what failed before
def read_mark(job: BatchJob, item: VideoItem, stamp: str | None) -> dict[str, Any] | None:
    """The video's commit mark when its outputs are complete for this fingerprint and file; else None."""
    path = job.mark_path(item.video_id)
    try:
        mark = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(mark, dict) or mark.get("format") != FORMAT or mark.get("video_id") != item.video_id:
        return None
    if mark.get("fingerprint") != job.fingerprint or stamp is None or _size(mark.get("file_stamp")) != _size(stamp):
        return None  # another size: another video under the same name (a copy with new mtimes is the same video)
    files = mark.get("files")
    if not isinstance(files, dict) or not files:
        return None
    for entry in files.values():
        try:
            if (path.parent / entry["name"]).stat().st_size != int(entry["size"]):
                return None
        except (OSError, KeyError, TypeError, ValueError):
            return None
    return mark


def _size(stamp: Any) -> str | None:
    """The size part of a `file_stamp` ("<size>:<mtime_ns>")."""
    return stamp.split(":", 1)[0] if isinstance(stamp, str) else None


def latest_rows(job: BatchJob, torn: dict[str, int] | None = None) -> dict[str, dict[str, Any]]:
    """video_id -> the journals' latest row with this fingerprint."""
    latest: dict[str, dict[str, Any]] = {}
    for path in job.journal_paths():
        for row in read_journal(path, torn):
            if row.get("key") != KEY or row.get("fingerprint") != job.fingerprint:
                continue
            before = latest.get(row["video_id"])
            if before is None or str(row.get("finished_at") or "") >= str(before.get("finished_at") or ""):
                latest[row["video_id"]] = row
    return latest


def classify(job: BatchJob, items: list[VideoItem]) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """video_id -> ("complete", mark) | ("failed_before", journal row) | ("todo", None)."""
    recorded = latest_rows(job)
    out: dict[str, tuple[str, dict[str, Any] | None]] = {}
    for item in items:
        stamp = video_stamp(item.path)
        mark = read_mark(job, item, stamp)
        if mark is not None:
            out[item.video_id] = ("complete", mark)
            continue
        row = recorded.get(item.video_id)
        if row is not None and row.get("status") == "failed" and outcome_stands(row, stamp, job.retry_failed):
            out[item.video_id] = ("failed_before", row)
            continue
        out[item.video_id] = ("todo", None)
    return out


def remove_debris(out_dir: str | Path, stems: set[str]) -> int:
    """Temporary files (`videolang.core.io.atomic_path`) a killed writer left for the videos this writer owns."""
    removed = 0
    try:
        entries = list(os.scandir(out_dir))
    except OSError:
        return 0
    for entry in entries:
        final = atomic_target(entry.name)
        for suffix in OUTPUT_SUFFIXES if final is not None else ():
            if final.endswith(suffix) and final[: -len(suffix)] in stems:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
                break
    return removed


# ---------------------------------------------------------------------- one process's worker
class BatchWorker:
    """Loads the predictor once, then predicts, writes and journals one video at a time."""

    def __init__(self, job: BatchJob, device: str | None = None, rank: int = 0, world: int = 1):
        self.job, self.rank, self.world = job, rank, world
        self.device = device or job.device
        self.journal = Journal(Path(job.out_dir) / JOURNAL_DIR / f"{job.writer}-rank{rank}of{world}.jsonl")
        self.predictor = None
        self.failed = 0

    def load(self) -> None:
        if self.predictor is None:
            self.predictor = ChapterPredictor.from_checkpoint(self.job.ckpt, extractor_cfg=self.job.extractor_cfg,
                                                              device=self.device, model_dir=self.job.model_dir,
                                                              frames_fps=self.job.frames_fps)
            self.predictor.encoder.load(self.predictor.device)  # the extractors on the model's device

    def predict(self, item: VideoItem) -> None:
        """Predict one video, write its outputs and commit mark, journal the outcome; never raises for the video."""
        self.load()
        started, stamp = time.time(), video_stamp(item.path)
        stem = id_to_filename(item.video_id)
        n, reason = 0, None
        try:
            prediction = self.predictor.predict_video(item.path, **self.job.generation)
            files = write_chapter_files(prediction, self.job.out_dir, stem)
            n, notes = len(prediction.chapters), list(prediction.notes)
            mark = {"format": FORMAT, "video_id": item.video_id, "path": display_path(item.path), "file_stamp": stamp,
                    "fingerprint": self.job.fingerprint, "settings": self.job.identity, "chapters": n,
                    "duration": prediction.duration, "notes": notes,
                    "files": {kind: {"name": Path(p).name, "size": Path(p).stat().st_size, "sha256": file_sha256(p)}
                              for kind, p in files.items()},
                    "seconds": round(time.time() - started, 3),
                    "finished_at": datetime.now().isoformat(timespec="milliseconds")}
            atomic_write_json(self.job.mark_path(item.video_id), mark)
        except VideolangError as e:  # the file (or writing its outputs): this video fails, the run goes on
            reason = e.problem
        except OSError as e:
            reason = f"cannot write predictions: {e.strerror or e}"
        except Exception as e:  # noqa: BLE001 - a long run keeps going; the traceback is logged (a bug or OOM)
            log.error("predict: %s: unexpected error", display_path(item.path), exc_info=True)
            reason = f"unexpected error: {type(e).__name__}: {e}"
            _free_accelerator_memory()
        seconds = round(time.time() - started, 3)
        status = "failed" if reason is not None else "done"
        row = {"video_id": item.video_id, "key": KEY, "fingerprint": self.job.fingerprint, "status": status,
               "reason": reason, "model": Path(self.job.ckpt).name, "n": n, "path": display_path(item.path),
               "seconds": seconds, "finished_at": datetime.now().isoformat(timespec="milliseconds"),
               "run": self.job.run_id, "file_stamp": stamp}
        self.journal.append([row])
        if reason is not None:
            self.failed += 1
            log.warning("predict: failed %s (%s) [%s]", item.video_id, reason, display_path(item.path))

    def run(self, items: list[VideoItem]) -> None:
        """Predict `items` (already filtered to the work left) in this process, with one progress bar."""
        bar = progress_bar(len(items), "predict", self.job.progress)
        try:
            for item in items:
                self.predict(item)
                bar.update(1)
                bar.set_postfix(failed=self.failed, refresh=False)
        finally:
            bar.close()


def validate_checkpoint(job: BatchJob) -> None:
    """Load the checkpoint once on the CPU (model, head, extractor descriptions; not the extractors' weights)."""
    predictor = ChapterPredictor.from_checkpoint(job.ckpt, extractor_cfg=job.extractor_cfg, device="cpu",
                                                 model_dir=job.model_dir, frames_fps=job.frames_fps)
    del predictor


def _free_accelerator_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="video", desc=desc, disable=not enabled or not total, dynamic_ncols=True,
                smoothing=0.1, file=sys.stderr)


# ---------------------------------------------------------------------- several processes: Lightning
def _as_is(item: Any) -> Any:
    return item


class ItemStream(IterableDataset):
    """This rank's videos left to predict, one at a time (an iterable: no sampler splits it again)."""

    def __init__(self, todo: list[VideoItem]):
        self.todo = todo

    def __iter__(self):
        return iter(self.todo)


class BatchPredictModule(L.LightningModule):
    """`trainer.predict` over a shard's videos: each rank takes every world_size-th video (one owner per video),
    loads its own predictor on its own device and writes outputs, commit marks and its own journal."""

    def __init__(self, job: BatchJob, items: list[VideoItem], todo_ids: set[str]):
        super().__init__()
        self.job, self.items, self.todo_ids = job, items, todo_ids
        self.todo: list[VideoItem] = []

    def predict_dataloader(self) -> DataLoader:
        rank, world = self.trainer.global_rank, self.trainer.world_size
        mine = shard(self.items, rank, world)  # this rank owns `mine`: their crash debris is its to clean
        remove_debris(self.job.out_dir, {id_to_filename(it.video_id) for it in mine})
        self.todo = [it for it in mine if it.video_id in self.todo_ids]  # classified once, by run_batch
        return DataLoader(ItemStream(self.todo), batch_size=None, num_workers=0, collate_fn=_as_is)

    def on_predict_start(self) -> None:
        rank, world = self.trainer.global_rank, self.trainer.world_size
        if self.device.type == "cpu" and world > 1:  # processes sharing this machine's cores: no oversubscription
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, int(self.trainer.num_devices))))
        self.worker = BatchWorker(self.job, device=str(self.device), rank=rank, world=world)
        if self.todo:
            self.worker.load()  # before the bar starts: its videos/s are predictions, not model loading
        self.bar = progress_bar(len(self.todo), f"predict rank {rank}", self.job.progress)

    def transfer_batch_to_device(self, batch: Any, device: Any, dataloader_idx: int) -> Any:
        return batch  # a VideoItem: the worker reads the file itself

    def predict_step(self, item: VideoItem, batch_idx: int = 0) -> None:
        self.worker.predict(item)
        self.bar.update(1)
        self.bar.set_postfix(failed=self.worker.failed, refresh=False)

    def on_predict_end(self) -> None:
        self.bar.close()


# ---------------------------------------------------------------------- the report
def build_report(job: BatchJob, items: list[VideoItem], before: dict[str, tuple[str, dict | None]],
                 seconds: float) -> dict[str, Any]:
    """Per video of this shard: done / skipped / failed / failed before, from the commit marks and journals
    (so every rank, and a run whose ranks were other processes, reports the same)."""
    torn: dict[str, int] = {}
    recorded = latest_rows(job, torn)
    table, failures = [], []
    counts = {"done": 0, "skipped": 0, "failed": 0, "failed_before": 0}
    for item in items:
        state, info = before.get(item.video_id, ("todo", None))
        row = recorded.get(item.video_id)
        if state == "complete":
            entry = {"video_id": item.video_id, "status": "skipped", "chapters": info.get("chapters"),
                     "notes": info.get("notes") or [], "seconds": None}
            counts["skipped"] += 1
        elif state == "failed_before":
            entry = {"video_id": item.video_id, "status": "failed before", "reason": info.get("reason"),
                     "seconds": None, "run": info.get("run")}
            counts["failed_before"] += 1
        elif row is not None and row.get("run") == job.run_id and row.get("status") == "done":
            mark = _mark_of(job, item.video_id)
            entry = {"video_id": item.video_id, "status": "done", "chapters": row.get("n"),
                     "notes": (mark or {}).get("notes") or [], "seconds": row.get("seconds")}
            counts["done"] += 1
        else:
            reason = (row or {}).get("reason") if (row or {}).get("run") == job.run_id else None
            entry = {"video_id": item.video_id, "status": "failed",
                     "reason": reason or "no outcome recorded (the process predicting it stopped)",
                     "seconds": (row or {}).get("seconds")}
            counts["failed"] += 1
        if entry["status"] in ("failed", "failed before") and len(failures) < MAX_LISTED:
            failures.append({"video_id": item.video_id, "reason": entry["reason"], "path": display_path(item.path),
                             **({"retried": False, "run": entry.get("run")} if entry["status"] != "failed" else {})})
        entry["path"] = display_path(item.path)
        table.append(entry)
    frames_only = sum(1 for e in table if any(_frames_only(n) for n in e.get("notes") or []))
    return {"videos": len(items), "done": counts["done"], "skipped": counts["skipped"],
            "failed": counts["failed"] + counts["failed_before"], "failed_before": counts["failed_before"],
            "frames_only": frames_only, "failures": failures, "table": table[:MAX_TABLE],
            "table_rows_left_out": max(0, len(table) - MAX_TABLE), "out_dir": str(job.out_dir),
            "fingerprint": job.fingerprint, "settings": job.identity, "retry_failed": job.retry_failed,
            "journals": [str(p) for p in job.journal_paths()], "torn_lines": torn,
            "videos_per_second": round(counts["done"] / seconds, 3) if seconds > 0 and counts["done"] else None}


def _mark_of(job: BatchJob, video_id: str) -> dict[str, Any] | None:
    try:
        return json.loads(job.mark_path(video_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _frames_only(note: str) -> bool:
    return note.startswith("no transcript") or note.startswith("no speech in this video")


def _result_text(entry: dict[str, Any]) -> str:
    if entry["status"] in ("failed", "failed before"):
        text = str(entry.get("reason"))
        return text + (" (failed before, not retried; retry_failed=true retries)" if entry["status"] != "failed"
                       else "")
    n = entry.get("chapters")
    text = f"{n} chapter{'' if n == 1 else 's'}"
    return text + (" (frames only)" if any(_frames_only(x) for x in entry.get("notes") or []) else "")


def format_report(report: dict[str, Any], shard_index: int, num_shards: int) -> str:
    """The totals line and the per-video table (id, status, chapters or reason, seconds)."""
    before = report["failed_before"]
    failed = f"{report['failed'] - before} failed"
    if before:
        failed += f", {before} failed before (not retried)"
    lines = [f"predict: {report['videos']} video(s) in shard {shard_index}/{num_shards}: {report['done']} done, "
             f"{report['skipped']} skipped (already complete), {failed}; outputs in {report['out_dir']}"]
    if report.get("frames_only"):
        lines.append(f"  {report['frames_only']} video(s) without audio or speech: predicted from the frames alone "
                     "(not a failure)")
    table = report["table"]
    shown = table if len(table) <= MAX_PRINTED else \
        [e for e in table if e["status"] in ("failed", "failed before", "done")][:MAX_PRINTED]
    if shown:
        width = min(40, max(len("video"), *(len(e["video_id"]) for e in shown)))
        lines.append(f"  {'video':<{width}}  {'status':<13}  {'seconds':>7}  chapters / reason")
        for e in shown:
            secs = "-" if e.get("seconds") is None else f"{e['seconds']:.1f}"
            vid = e["video_id"] if len(e["video_id"]) <= width else e["video_id"][: width - 3] + "..."
            lines.append(f"  {vid:<{width}}  {e['status']:<13}  {secs:>7}  {_result_text(e)}")
    left = len(table) + report.get("table_rows_left_out", 0) - len(shown)
    if left > 0:
        lines.append(f"  ... {left} more row(s) in summary.json (table) and the journals in "
                     f"{Path(report['out_dir']) / JOURNAL_DIR}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- the stage's batch mode
def check_task(cfg) -> str:
    """The runner the task config names must be the chapters one: batch grounding / VideoQA need per-video
    queries or questions, which have no input format yet."""
    import hydra.utils
    from omegaconf import OmegaConf

    target = str((OmegaConf.select(cfg, "task.predict") or {}).get("_target_")
                 or "videolang.predict.runners.ChapterRun")
    try:
        runner = hydra.utils.get_class(target)
    except Exception:  # noqa: BLE001 - hydra raises several kinds for a name that does not import
        raise ConfigError(f"task.predict._target_={target!r} does not name a predict runner") from None
    if not (isinstance(runner, type) and issubclass(runner, ChapterRun)):
        task = OmegaConf.select(cfg, "task.name") or "this task"
        raise ConfigError(f"videos=: batch prediction supports chapters / dense captions only, not task={task} "
                          f"({target.rsplit('.', 1)[-1]}) yet", hint="predict one video at a time with video=<file> "
                          "and its query / question, or use task=chapter_generation")
    return target


def trainer_for(cfg):
    """The `trainer` group built for prediction (fp32 as in single-video predict), or a usage error."""
    return instantiate(cfg.trainer, "trainer", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                       enable_model_summary=False, precision="32-true", callbacks=[])


def wants_several_processes(trainer_cfg) -> bool:
    """True when the trainer config asks for more than one process (several devices or nodes, a ddp strategy)."""
    strategy = str(trainer_cfg.get("strategy", "auto") or "auto")
    devices = trainer_cfg.get("devices", 1)
    nodes = trainer_cfg.get("num_nodes", 1) or 1
    several = "ddp" in strategy or int(nodes) > 1
    if isinstance(devices, int) or (isinstance(devices, str) and devices.lstrip("-").isdigit()):
        several = several or int(devices) != 1
    elif devices is not None and not isinstance(devices, str):  # a list of device indices
        several = several or len(devices) > 1
    return several


def run_batch(cfg, ckpt: Path, extractor_cfg: Any, device: str) -> tuple[dict[str, Any], int]:
    """`stage=predict videos=...`: (summary, failed videos)."""
    from omegaconf import DictConfig, OmegaConf

    started = time.time()
    opts = cfg.stage
    index, count = shard_numbers(cfg.get("shard", 0), cfg.get("num_shards", 1))
    shard([], index, count)  # the range, checked before anything is listed
    retry_failed = flag("retry_failed", opts.get("retry_failed", False))
    progress = flag("stage.progress", opts.get("progress", True))
    target = check_task(cfg)
    extensions = extension_list(opts.get("extensions"))
    if opts.get("references"):
        log.warning("predict: stage.references is used with video=<file> only; batch runs print a summary table")
    several = wants_several_processes(cfg.trainer)
    trainer = trainer_for(cfg) if several else None
    frames_fps, frame_extensions = batch_frame_settings(cfg, ckpt)
    listed = list_videos(cfg.videos, extensions, frame_extensions if frames_fps else None)
    folders = [it for it in listed if os.path.isdir(it.path)]
    if folders:  # without a rate no frame folder can be read: the run's usage error, not one failure per folder
        require_fps(folders[0].path, frames_fps)
    items = shard(listed, index, count)
    out_dir = ensure_writable_dir(opts.out_dir)
    extractor = OmegaConf.to_container(extractor_cfg, resolve=True) if isinstance(extractor_cfg, DictConfig) \
        else extractor_cfg
    generation = generation_overrides(cfg)
    identity = settings_identity(ckpt, target, extractor if extractor is not None else "checkpoint", generation,
                                 frames_fps if folders else None)
    job = BatchJob(out_dir=str(out_dir), ckpt=str(ckpt), fingerprint=fingerprint_of(identity), identity=identity,
                   extractor_cfg=extractor, model_dir=model_dir_of(cfg), device=device, generation=generation,
                   frames_fps=frames_fps,
                   run_id=str(cfg.paths.output_dir), writer=f"shard{index}of{count}", retry_failed=retry_failed,
                   progress=progress)
    if not several:  # one process owns the whole shard: a killed run's temporary files are its to clean
        remove_debris(out_dir, {id_to_filename(it.video_id) for it in items})
    before = classify(job, items)
    todo = [it for it in items if before[it.video_id][0] == "todo"]
    log.info("predict: %d video(s) in shard %d/%d, %d to predict -> %s (fingerprint %s)", len(items), index, count,
             len(todo), out_dir, job.fingerprint)
    rank = 0
    if todo and trainer is not None:
        import warnings

        validate_checkpoint(job)  # in this process: an unusable checkpoint is the run's error, not a rank's crash
        with warnings.catch_warnings():
            for message in PREDICT_WRITER_NOTES:
                warnings.filterwarnings("ignore", message=message)
            trainer.predict(BatchPredictModule(job, items, {it.video_id for it in todo}), return_predictions=False)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()  # every rank's journal is complete before anyone reports
        rank = trainer.global_rank
    elif todo:
        worker = BatchWorker(job)
        worker.load()  # an unusable checkpoint is the run's error (exit 1 / 2), not every video's
        worker.run(todo)
    elapsed = time.time() - started
    report = build_report(job, items, before, elapsed)
    report.update(checkpoint=str(ckpt), shard=index, num_shards=count, seconds=round(elapsed, 2))
    for journal, lines in sorted(report["torn_lines"].items()):
        log.warning("journal %s: %d torn line(s) dropped (a writer was killed mid-line; the rest is intact)",
                    journal, lines)
    if rank == 0:
        print(format_report(report, index, count), file=sys.stdout, flush=True)
    return report, report["failed"]
