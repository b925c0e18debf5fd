"""TVQA: `tvqa_<split>.jsonl` questions plus one `<vid_name>.srt` per clip.

Question rows: `{"a0".."a4", "answer_idx" (absent in test), "q", "qid", "ts": "start-end",
"vid_name", "show_name"}`. Each clip becomes a video (no chapters); its questions go to the
`questions` table and `tasks/videoqa_<split>.jsonl`, its subtitles to the `subtitles` table.
Clip durations, first of: a `durations` file when given; the clip's frame folder when one is found in
`frames_dirs` (`<dir>/<vid_name>/00001.jpg ...`) and `frames_fps` is stated: its frame periods (last image
number - first + 1, a gap in the numbering holds a frame) / fps, the length of the video `stage=extract` reads
from that folder; else an estimate, the latest subtitle or `ts` end (clips are 60-90 s).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from videolang.builder.converters import AnnotationReader
from videolang.builder.questions import parse_ts, question_from_row
from videolang.builder.readers import load_durations
from videolang.builder.records import VideoRecord
from videolang.builder.srt import read_srt
from videolang.core.errors import BadInputError, ConfigError, VideolangError
from videolang.core.failures import Failure
from videolang.core.frame_names import frame_span
from videolang.core.io import json_lines

__all__ = ["TVQA", "parse_ts"]


@dataclass
class TVQA(AnnotationReader):
    """`files`: {split: tvqa_<split>.jsonl}; `subtitles_dir`: folder of <vid_name>.srt."""

    files: dict[str, str]
    subtitles_dir: str | None = None
    durations: str | None = None
    frames_dirs: list[str] | None = None   # folders of <vid_name>/ frame folders (frames_hq/<show>_frames)
    frames_fps: float | None = None        # their rate (the release: 3); None: durations are not read from them

    @property
    def input_path(self) -> str:
        return ", ".join(str(p) for p in (self.files or {}).values())

    def records(self) -> tuple[list[VideoRecord], list[Failure]]:
        if not self.files:
            raise ConfigError("tvqa needs data.reader.files: {split: tvqa_<split>.jsonl}")
        if self.subtitles_dir and not Path(self.subtitles_dir).is_dir():
            raise BadInputError("subtitles folder not found" if not Path(self.subtitles_dir).exists()
                                else "subtitles path is not a folder", self.subtitles_dir,
                                "set data.reader.subtitles_dir=<folder of <vid_name>.srt>, or null for none")
        fps = self.frames_fps
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0):
            raise ConfigError(f"data.reader.frames_fps={fps!r} must be a number > 0 (the frame folders' rate, "
                              "TVQA's frames_hq: 3) or null")
        durations = load_durations(self.durations) if self.durations else {}
        frame_folders = find_frame_folders(self.frames_dirs or []) if self.frames_fps else {}
        failures: list[Failure] = []
        clips: dict[tuple[str, str], dict] = {}
        for split, path in self.files.items():
            for n, row, problem in json_lines(path, "TVQA question file"):
                where = f"{Path(path).name}:{n}"
                try:
                    if problem is not None:
                        raise BadInputError(problem, where)
                    if not isinstance(row, dict) or row.get("vid_name") is None:
                        raise BadInputError("question row has no vid_name", where)
                    vid = str(row["vid_name"])
                    question = question_from_row(row, where, str(path))
                except BadInputError as e:
                    failures.append(Failure(where, f"not a TVQA question row ({e.problem})", str(path)))
                    continue
                clip = clips.setdefault((split, vid), {"questions": [], "show": row.get("show_name"), "source": str(path)})
                clip["questions"].append(question)
        records = []
        for (split, vid), clip in clips.items():
            subtitles = []
            if self.subtitles_dir:
                srt = Path(self.subtitles_dir) / f"{vid}.srt"
                try:
                    subtitles = read_srt(srt)
                except VideolangError as e:
                    failures.append(Failure(vid, f"subtitles: {e.problem}", str(srt)))
            duration = durations.get(vid)
            if duration is None and vid in frame_folders:
                duration = frame_span(frame_folders[vid]) / float(self.frames_fps) or None
            if duration is None:
                ends = [s["end"] for s in subtitles] + [q["ts"][1] for q in clip["questions"] if q["ts"]]
                duration = max(ends) if ends else None
            records.append(VideoRecord(
                video_id=vid, source=clip["source"], chapters=[], split=split, duration=duration,
                title=clip["show"], extra={"questions": clip["questions"], "subtitles": subtitles}))
        return records, failures


def find_frame_folders(folders: list[str]) -> dict[str, str]:
    """{vid_name: its frame folder} from folders of per-clip sub-folders (the first folder holding a name wins,
    as in the build's media lookup); missing folders are skipped (not every show is downloaded)."""
    found: dict[str, str] = {}
    for folder in folders:
        if not folder or not os.path.isdir(folder):
            continue
        with os.scandir(folder) as entries:
            for e in entries:
                if e.is_dir() and not e.name.startswith("."):
                    found.setdefault(e.name, e.path)
    return found
