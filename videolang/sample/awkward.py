"""Deliberately broken inputs for robustness tests, each with the problem it has.

They are cut from a real 6-second clip made by the same renderer, so the
failures are the ones users meet: a download that stopped early (with and
without the index), a stream missing, an empty file, an error page saved as .mp4.
"""
from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from videolang.core.io import atomic_write_bytes, ensure_dir
from videolang.sample.plan import ChapterPlan, VideoPlan
from videolang.sample.render import TRACK_RATE, build_soundtrack, encode, video_filtergraph, write_wav

CLIP_SECONDS = 6


@dataclass(frozen=True)
class AwkwardFile:
    """One broken input: what is wrong with it and what a decoder can get out of it."""

    name: str
    problem: str  # a short code tests and reports can match on
    detail: str
    opens: bool  # a container/decoder can open it at all
    has_video: bool
    has_audio: bool

    def to_dict(self) -> dict:
        return {"id": Path(self.name).stem, "file": f"awkward/{self.name}", **asdict(self)}


AWKWARD_FILES: tuple[AwkwardFile, ...] = (
    AwkwardFile("truncated_no_moov.mp4", "truncated_no_index",
                "the first half of an mp4 whose index (moov atom) was at the end: cannot be opened",
                False, False, False),
    AwkwardFile("truncated_data.mp4", "truncated_data",
                f"a faststart mp4 cut at 40%: the header announces {CLIP_SECONDS} s but the media data ends early",
                True, True, True),
    AwkwardFile("video_only.mp4", "no_audio_stream", "a valid H.264 video without an audio stream", True, True, False),
    AwkwardFile("audio_only.m4a", "no_video_stream", "a valid AAC audio file without a video stream",
                True, False, True),
    AwkwardFile("zero_bytes.mp4", "empty_file", "a zero-byte file", False, False, False),
    AwkwardFile("not_a_video.mp4", "not_media", "an HTML error page saved with an .mp4 name", False, False, False),
)

_ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>429 Too Many Requests</title></head>\n"
               b"<body><h1>Too Many Requests</h1><p>Please try again later.</p></body></html>\n")


def _clip_plan(width: int, height: int, fps: int) -> VideoPlan:
    half = CLIP_SECONDS // 2
    chapters = [
        ChapterPlan(0, half, "Red square", "topic", "A red square.", "#a03030", "square", "#f0f0f0", "sweep",
                    action_index=0),
        ChapterPlan(half, CLIP_SECONDS, "Blue circle", "topic", "A blue circle.", "#3040a0", "circle", "#f0f0f0",
                    "orbit", action_index=1),
    ]
    return VideoPlan(index=-1, id="awkward", domain="awkward", category="", subject="", title="awkward sample",
                     duration=CLIP_SECONDS, chapters=chapters, shape_size=max(8, min(width, height) // 5 // 2 * 2),
                     motion_period=3.0, description_style="plain", width=width, height=height, fps=fps)


def make_awkward_files(folder: Path, *, width: int, height: int, fps: int, names: set[str] | None = None) -> list[Path]:
    """Write the awkward files (all, or those in `names`) into `folder`; returns the paths written."""
    wanted = [a for a in AWKWARD_FILES if names is None or a.name in names]
    if not wanted:
        return []
    ensure_dir(folder)
    plan = _clip_plan(width, height, fps)
    graph = video_filtergraph(plan)
    written = []
    with tempfile.TemporaryDirectory(prefix="videolang-awkward-") as tmp:
        tmp = Path(tmp)
        track, _ = build_soundtrack(plan, tmp)
        wav = tmp / "soundtrack.wav"
        write_wav(wav, track, TRACK_RATE)
        for item in wanted:
            target = folder / item.name
            if item.problem == "truncated_no_index":
                data = encode(tmp / "moov_at_end.mp4", graph=graph, wav=wav, title=plan.title,
                              faststart=False).read_bytes()
                atomic_write_bytes(target, data[: len(data) // 2])
            elif item.problem == "truncated_data":
                data = encode(tmp / "faststart.mp4", graph=graph, wav=wav, title=plan.title).read_bytes()
                atomic_write_bytes(target, data[: len(data) * 2 // 5])
            elif item.problem == "no_audio_stream":
                encode(target, graph=graph, wav=None, title=plan.title)
            elif item.problem == "no_video_stream":
                encode(target, graph=None, wav=wav, title=plan.title)
            elif item.problem == "empty_file":
                atomic_write_bytes(target, b"")
            else:
                atomic_write_bytes(target, _ERROR_PAGE)
            written.append(target)
    return written
