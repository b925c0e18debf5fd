"""`stage=make_sample`: write (or confirm) the deterministic sample corpus under `${paths.sample_dir}`.

Idempotent: a second run with the same options validates the files against the
manifest, does no work and says so.
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from videolang.sample import make_sample_corpus
from videolang.stages import StageResult


def run(cfg: DictConfig) -> StageResult:
    opts = cfg.stage
    report = make_sample_corpus(
        Path(opts.out_dir),
        num_videos=int(opts.num_videos),
        seed=int(opts.seed),
        width=int(opts.width),
        height=int(opts.height),
        fps=int(opts.fps),
        min_duration=float(opts.min_duration),
        max_duration=float(opts.max_duration),
        with_awkward=bool(opts.with_awkward),
        workers=opts.get("workers"),
        titles_spoken=bool(opts.get("titles_spoken", True)),
    )
    return StageResult({
        "out_dir": str(report.out_dir),
        "fingerprint": report.fingerprint,
        "videos": report.videos,
        "videos_made": report.made,
        "videos_skipped": report.skipped,
        "awkward_files": report.awkward_made + report.awkward_skipped,
        "awkward_made": report.awkward_made,
        "stale_files_removed": report.removed,
        "total_duration_seconds": report.total_duration,
        "nothing_to_do": report.nothing_to_do,
    })
