"""Make (or confirm) the sample corpus: videos, metadata, awkward files and the manifest.

Idempotence: `manifest.json` is written last and lists every file with its size
and SHA-256, under a fingerprint of the parameters and plans. A call whose fingerprint
matches a manifest whose files are all intact does nothing. Otherwise the
manifest is removed first (a half-made corpus never looks finished), a
`.in-progress.json` marker records the fingerprint being made, files that are
already right are kept (so a killed run resumes), and everything else in the
generator's folders (`videos/`, `metadata/`, `awkward/`) is deleted: old and new
parameter sets never mix. Next to each video's metadata go its object boxes
(`<id>.boxes.jsonl`), multiple-choice questions (`<id>.qa.jsonl`, from the plan: see
videolang.sample.questions) and narration subtitles (`<id>.srt`, timed by the measured
narration spans). `object_classes.json` (the object vocabulary, the same
for every parameter set) sits at the top level and is rewritten whenever it differs.
Every file is written to a temporary name and renamed.
"""
from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from videolang.core.errors import VideolangError
from videolang.core.ids import id_to_filename
from videolang.core.io import atomic_write_json, atomic_write_text, ensure_writable_dir, file_sha256, read_json
from videolang.sample.awkward import AWKWARD_FILES, make_awkward_files
from videolang.sample.metadata import boxes_jsonl, describe, info_json, repeated_title_words
from videolang.sample.objects import CLASS_NAMES
from videolang.sample.plan import (GENERATOR_VERSION, SampleParams, VideoPlan, corpus_fingerprint, params_record,
                                   plan_corpus)
from videolang.sample.questions import narration_srt, plan_questions
from videolang.sample.render import narration_spans, render_video

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
IN_PROGRESS = ".in-progress.json"
OWNED_FOLDERS = ("videos", "metadata", "awkward")
OBJECT_CLASSES_FILE = "object_classes.json"  # the object vocabulary; list order = class index
MANIFEST_FORMAT = "videolang-sample-corpus/1"


@dataclass
class SampleReport:
    """What one call did; `nothing_to_do` when the corpus was already there and intact."""

    out_dir: Path
    fingerprint: str
    videos: int
    made: int = 0
    skipped: int = 0
    awkward_made: int = 0
    awkward_skipped: int = 0
    removed: int = 0
    total_duration: float = 0.0
    nothing_to_do: bool = False

    def message(self) -> str:
        if self.nothing_to_do:
            return (f"nothing to do: {self.skipped} videos already present and valid in {self.out_dir} "
                    f"(fingerprint {self.fingerprint})")
        return (f"made {self.made} videos ({self.skipped} already present), {self.awkward_made} awkward files "
                f"({self.awkward_skipped} already present), removed {self.removed} stale or damaged files, "
                f"in {self.out_dir}")


sha256_of = file_sha256


def file_record(path: Path) -> dict:
    return {"size": path.stat().st_size, "sha256": sha256_of(path)}


def load_manifest(sample_dir: str | Path) -> dict:
    """The manifest of a finished corpus, or a clear error (run `stage=make_sample` first)."""
    path = Path(sample_dir) / MANIFEST
    if not path.exists():
        raise VideolangError("no sample corpus here (manifest.json missing)", sample_dir,
                             hint="make one with `python -m videolang.run stage=make_sample`")
    manifest = read_json(path)
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise VideolangError(f"not a sample corpus manifest (expected format {MANIFEST_FORMAT})", path)
    return manifest


def _read_marker(path: Path) -> dict | None:
    """A manifest or progress marker as a dict, or None when missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _fingerprint_of(marker: dict | None) -> str | None:
    return (marker or {}).get("generator", {}).get("fingerprint")


def _intact(out_dir: Path, records: dict) -> set[str]:
    """The relative paths whose size and hash still match their record."""
    good = set()
    for rel, record in records.items():
        path = out_dir / rel
        if path.is_file() and path.stat().st_size == record.get("size") and sha256_of(path) == record.get("sha256"):
            good.add(rel)
    return good


def _owned_files(out_dir: Path) -> list[Path]:
    return [p for folder in OWNED_FOLDERS if (out_dir / folder).is_dir()
            for p in sorted((out_dir / folder).iterdir()) if p.is_file() or p.is_symlink()]


def _video_files(plan: VideoPlan) -> dict[str, str]:
    stem = id_to_filename(plan.id)
    return {"video": f"videos/{stem}.mp4", "info_json": f"metadata/{stem}.info.json",
            "description": f"metadata/{stem}.description", "boxes": f"metadata/{stem}.boxes.jsonl",
            "questions": f"metadata/{stem}.qa.jsonl", "subtitles": f"metadata/{stem}.srt"}


def _video_entry(plan: VideoPlan, spans: list[tuple[float, float]]) -> dict:
    chapters = []
    for chapter, (first, last) in zip(plan.chapters, spans):
        chapters.append({
            "start": chapter.start, "end": chapter.end, "title": chapter.title, "kind": chapter.kind,
            "action": chapter.action, "thing": chapter.thing, "narration": chapter.narration,
            "narration_start": round(first, 4), "narration_end": round(last, 4),
            "scene": {"background": chapter.background, "shape": chapter.shape,
                      "shape_colour": chapter.shape_colour, "motion": chapter.motion},
            "objects": [o.name for o in chapter.objects],
        })
    return {
        "id": plan.id, "index": plan.index, "title": plan.title, "domain": plan.domain, "subject": plan.subject,
        "duration": plan.duration, "fps": plan.fps, "width": plan.width, "height": plan.height,
        "description_style": plan.description_style, "files": _video_files(plan), "chapters": chapters,
        "repeated_title_words": repeated_title_words([c.title for c in plan.chapters]),
    }


def make_sample_corpus(
    out_dir: Path,
    *,
    num_videos: int = 12,
    seed: int = 1234,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    min_duration: float = 20,
    max_duration: float = 120,
    with_awkward: bool = True,
    workers: int | None = None,
    titles_spoken: bool = True,
) -> SampleReport:
    """Make the corpus defined by the parameters in `out_dir`, or confirm that it is already there.

    Deterministic for a seed (ids, titles, times, narration). `workers` (parallel
    ffmpeg jobs; default the CPU count, at most 4) changes only the speed. `titles_spoken=False` makes the
    variant whose narration names no word of its video's chapter titles (see `SampleParams`).
    """
    params = SampleParams(num_videos, seed, width, height, fps, min_duration, max_duration, with_awkward,
                          titles_spoken).validate()
    out_dir = ensure_writable_dir(Path(out_dir))
    plans = plan_corpus(params)
    fingerprint = corpus_fingerprint(params, plans)
    report = SampleReport(out_dir, fingerprint, videos=len(plans), total_duration=float(sum(p.duration for p in plans)))

    manifest = _read_marker(out_dir / MANIFEST)
    same = _fingerprint_of(manifest) == fingerprint
    intact = _intact(out_dir, manifest.get("files", {})) if same else set()
    if same and len(intact) == len(manifest.get("files", {})):
        report.nothing_to_do = True
        report.skipped, report.awkward_skipped = len(plans), len(manifest.get("awkward", []))
        log.info(report.message())
        return report

    # Keep what is already right: files recorded by a manifest of the same parameters, or any
    # file that a killed run of the same parameters renamed into place (renames are atomic and
    # plans deterministic). Everything else in the generator's folders goes.
    resuming = _fingerprint_of(_read_marker(out_dir / IN_PROGRESS)) == fingerprint
    if manifest is None and not (out_dir / IN_PROGRESS).exists() and _owned_files(out_dir):
        raise VideolangError("this folder holds files the sample generator did not make (no manifest.json)",
                             _owned_files(out_dir)[0], hint="remove them or choose another paths.sample_dir")
    (out_dir / MANIFEST).unlink(missing_ok=True)  # from here on the corpus is unfinished until the manifest is back
    atomic_write_json(out_dir / IN_PROGRESS, {"generator": {"fingerprint": fingerprint, "params": params_record(params)}})
    wanted = {rel for p in plans for rel in _video_files(p).values()}
    wanted |= {f"awkward/{a.name}" for a in AWKWARD_FILES} if with_awkward else set()
    wanted.add(OBJECT_CLASSES_FILE)  # top level: outside the folders cleaned below, always rewritten
    for path in _owned_files(out_dir):
        rel = path.relative_to(out_dir).as_posix()
        if rel in intact or (resuming and rel in wanted):
            continue
        path.unlink()
        report.removed += not path.name.startswith(".")  # temporary files of a killed run do not count

    todo = [p for p in plans if not (out_dir / _video_files(p)["video"]).exists()]
    log.info("sample corpus %s: %d videos to make, %d already present", fingerprint, len(todo), len(plans) - len(todo))
    spans = {v["id"]: [(c["narration_start"], c["narration_end"]) for c in v["chapters"]]
             for v in (manifest or {}).get("videos", []) if same}

    def make(plan: VideoPlan) -> list[tuple[float, float]]:
        result = render_video(plan, out_dir / _video_files(plan)["video"])
        log.info("made %s (%d s, %d chapters): %s", plan.id, plan.duration, len(plan.chapters), plan.title)
        return result

    pool = ThreadPoolExecutor(max_workers=max(1, workers or min(4, os.cpu_count() or 1)))
    try:
        futures = {pool.submit(make, plan): plan.id for plan in todo}
        for future in as_completed(futures):
            spans[futures[future]] = future.result()
    finally:  # on the first failure, start nothing new
        pool.shutdown(wait=True, cancel_futures=True)
    report.made, report.skipped = len(todo), len(plans) - len(todo)
    for plan in plans:
        if plan.id not in spans:  # made by a killed run: the narration spans come from espeak-ng again
            spans[plan.id] = narration_spans(plan)
        files = _video_files(plan)
        info = json.dumps(info_json(plan), indent=2, ensure_ascii=False) + "\n"
        _write_if_changed(out_dir / files["info_json"], info)
        _write_if_changed(out_dir / files["description"], describe(plan))
        _write_if_changed(out_dir / files["boxes"], boxes_jsonl(plan))
        _write_if_changed(out_dir / files["questions"], questions_jsonl(plan))
        _write_if_changed(out_dir / files["subtitles"], narration_srt(plan, spans[plan.id]))
    _write_if_changed(out_dir / OBJECT_CLASSES_FILE, json.dumps(list(CLASS_NAMES), indent=2) + "\n")

    missing = {a.name for a in AWKWARD_FILES if with_awkward and not (out_dir / "awkward" / a.name).exists()}
    made = make_awkward_files(out_dir / "awkward", width=width, height=height, fps=fps, names=missing)
    report.awkward_made = len(made)
    report.awkward_skipped = (len(AWKWARD_FILES) if with_awkward else 0) - report.awkward_made

    videos = [_video_entry(p, spans[p.id]) for p in plans]
    awkward = [a.to_dict() for a in AWKWARD_FILES] if with_awkward else []
    atomic_write_json(out_dir / MANIFEST, {
        "format": MANIFEST_FORMAT,
        "generator": {"version": GENERATOR_VERSION, "fingerprint": fingerprint, "params": params_record(params)},
        "totals": {"videos": len(videos), "chapters": sum(len(v["chapters"]) for v in videos),
                   "duration_seconds": report.total_duration, "awkward_files": len(awkward)},
        "object_classes": list(CLASS_NAMES),
        "videos": videos,
        "awkward": awkward,
        "files": {rel: file_record(out_dir / rel) for rel in sorted(wanted)},
    })
    (out_dir / IN_PROGRESS).unlink(missing_ok=True)
    log.info(report.message())
    return report


def questions_jsonl(plan: VideoPlan) -> str:
    """The `<id>.qa.jsonl` text: the video's multiple-choice questions in TVQA's fields."""
    return "".join(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n" for row in plan_questions(plan))


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)
