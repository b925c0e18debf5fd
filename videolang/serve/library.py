"""The videos the viewer may show: a built dataset's (videos.parquet with its media files) and uploads.

The page names videos by id only; a file is reached through this library, which refuses every path
outside the configured folders (the dataset's media folders, the dataset folder, the upload folder), so
a crafted id or a table row pointing elsewhere can never make the server read another file.
Uploads go to a temporary folder this library creates and removes (`close`).
"""
from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from videolang.core.errors import BadInputError
from videolang.core.io import ensure_dir
from videolang.media.probe import probe

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "upload-"
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,5}")


class RefusedPath(BadInputError):
    """A file outside the folders the viewer was given: never served, never read."""


class UnknownVideo(BadInputError):
    """An id the library does not hold."""


@dataclass
class VideoEntry:
    """One video: its file, and what the dataset knows about it (true chapters, transcript, questions)."""

    id: str
    path: Path
    source: str                         # "dataset" or "upload"
    split: str | None = None
    duration: float | None = None
    title: str | None = None
    chapters: list[dict[str, Any]] = field(default_factory=list)    # the true ones: {start, end, title}
    transcript: list[dict[str, Any]] = field(default_factory=list)  # {start, end, text}
    questions: list[dict[str, Any]] = field(default_factory=list)   # {qid, question, answers, answer_idx, ts}

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "split": self.split, "duration": self.duration,
                "title": self.title, "num_chapters": len(self.chapters)}

    def details(self) -> dict[str, Any]:
        return {**self.summary(), "chapters": self.chapters, "transcript": self.transcript,
                "questions": self.questions}


def _records(frame: pd.DataFrame | None, vid: str, split: str | None) -> list[dict[str, Any]]:
    if frame is None or not len(frame):
        return []
    mask = frame["video_id"] == vid
    if split is not None and "split" in frame:
        mask &= frame["split"] == split
    return frame[mask].to_dict("records")


def _plain(value: Any) -> Any:
    """Parquet values (numpy scalars and arrays) as JSON-able Python."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return None if isinstance(value, float) and value != value else value


def read_table(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.is_file() else None


def load_dataset(dataset_dir: Path) -> list[VideoEntry]:
    """The videos of a built dataset that have a media file, with their chapters, subtitles and questions."""
    videos = read_table(dataset_dir / "videos.parquet")
    if videos is None:
        raise BadInputError("no videos.parquet: not a built dataset", dataset_dir,
                            "build it with python -m videolang.run stage=build_dataset data=<name>")
    chapters, subtitles, questions = (read_table(dataset_dir / f"{name}.parquet")
                                      for name in ("chapters", "subtitles", "questions"))
    entries, seen = [], set()
    for row in videos.to_dict("records"):
        vid, split, path = str(row["video_id"]), row.get("split"), row.get("video_path")
        if not isinstance(path, str) or not path or vid in seen:  # no media file; or a second split of it
            continue
        seen.add(vid)
        entry = VideoEntry(vid, Path(path), "dataset", split, _plain(row.get("duration")), _plain(row.get("title")))
        entry.chapters = [{"start": float(c["start"]), "end": float(c["end"]), "title": str(c["title"])}
                          for c in sorted(_records(chapters, vid, split), key=lambda c: c["chapter_index"])]
        entry.transcript = [{"start": float(c["start"]), "end": float(c["end"]), "text": str(c["text"])}
                            for c in sorted(_records(subtitles, vid, split), key=lambda c: c["index"])]
        entry.questions = [{"qid": str(q["qid"]), "question": str(q["question"]), "answers": _plain(q["answers"]),
                            "answer_idx": _plain(q.get("answer_idx")), "ts": _plain(q.get("ts"))}
                           for q in _records(questions, vid, split)]
        entries.append(entry)
    return entries


class VideoLibrary:
    """Dataset videos and uploads by id, every file checked to lie inside `roots` before it is used."""

    def __init__(self, dataset_dir: str | Path | None = None, media_dirs: list[str | Path] = (),
                 upload_dir: str | Path | None = None, max_upload_bytes: int = 2 << 30):
        self.videos: dict[str, VideoEntry] = {}
        self.problems: list[str] = []  # shown on the page: why no dataset video is listed
        self.max_upload_bytes = int(max_upload_bytes)
        parent = None if upload_dir is None else str(ensure_dir(upload_dir))
        self.upload_dir = Path(tempfile.mkdtemp(prefix="videolang-serve-", dir=parent)).resolve()
        self.roots = [self.upload_dir] + [Path(d).resolve() for d in media_dirs]
        self._lock = threading.Lock()
        self.dataset_dir = Path(dataset_dir) if dataset_dir else None
        if self.dataset_dir is not None:
            self.roots.append(self.dataset_dir.resolve())
            try:
                for entry in load_dataset(self.dataset_dir):
                    self.videos[entry.id] = entry
            except (BadInputError, OSError, ValueError, KeyError) as e:  # the viewer still serves uploads
                self.problems.append(f"dataset not loaded: {e}")
                log.warning("dataset not loaded: %s", e)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [v.summary() for v in self.videos.values()]

    def get(self, vid: str) -> VideoEntry:
        """The entry of `vid`, its file checked (inside the configured folders, a regular file)."""
        with self._lock:
            entry = self.videos.get(vid)
        if entry is None:
            raise UnknownVideo(f"unknown video id {vid[:80]!r}")
        self.check_path(entry.path)
        return entry

    def check_path(self, path: Path) -> Path:
        real = path.resolve()
        if not any(real.is_relative_to(root) for root in self.roots):
            raise RefusedPath("outside the dataset and upload folders: refused", path)
        if not real.is_file():
            raise BadInputError("video file not found", path)
        return real

    def add_upload(self, filename: str, stream: BinaryIO) -> VideoEntry:
        """Copy an uploaded file into the upload folder and keep it only if it is a readable video."""
        suffix = Path(filename or "").suffix
        suffix = suffix.lower() if _SUFFIX.fullmatch(suffix) else ".bin"
        vid = f"{UPLOAD_PREFIX}{uuid.uuid4().hex[:12]}"
        path = self.upload_dir / f"{vid}{suffix}"
        size = 0
        with open(path, "wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > self.max_upload_bytes:
                    out.close()
                    path.unlink(missing_ok=True)
                    raise BadInputError(f"upload larger than {self.max_upload_bytes >> 20} MiB", filename,
                                        "raise stage.max_upload_mb")
                out.write(chunk)
        try:
            info = probe(path)
            if not info.has_video:
                raise BadInputError("no video stream (an audio file, or not a video)", path)
        except BadInputError as e:
            path.unlink(missing_ok=True)
            raise BadInputError(f"not a usable video: {e.problem}", filename or "upload") from None
        entry = VideoEntry(vid, path, "upload", duration=info.video_duration or info.duration,
                           title=Path(filename or vid).name)
        with self._lock:
            self.videos[vid] = entry
        return entry

    def close(self) -> None:
        """Remove the upload folder and every upload in it (a folder of its own, made by `mkdtemp`, even inside
        a configured `upload_dir`)."""
        shutil.rmtree(self.upload_dir, ignore_errors=True)
