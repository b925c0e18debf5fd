"""Every input of `stage=extract`, and its bad variants, through the real command line.

One table row per variant: the files it writes, the command-line overrides, and what the
contract (docs/DEVELOPING.md, "Exit codes and messages") promises for it:

- exit 1: the video source as a whole is unusable (missing, empty, binary, a list naming
  nothing that exists, a Parquet file without the columns or rows). Nothing is written.
- exit 2: a bad setting (shard, num_shards, num_workers, a flag that is not true/false, an
  unknown extractor option, decode settings). Nothing is written.
- exit 3: some videos failed (zero-byte, truncated, garbage, no stream at all, missing):
  each named with its reason in the log and in summary.json; the rest was extracted.
- exit 0: the video is done, including files without an audio or a video stream (done with
  nothing to extract for those keys, not failed) and odd or non-UTF-8 file names.

Every row runs against one feature store that already holds a finished video (made once
for the module): whatever the row, those features are byte for byte unchanged afterwards,
and the journal only ever grows at its end; rows that must fail leave the store untouched.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.bad_inputs.harness import check_contract, run_in_process, snapshot
from tests.extract.media import ffmpeg, make_video

FOLDER = object()  # a files-table value: make a folder at that path
FIFO = object()  # a files-table value: make a named pipe at that path (nothing ever writes to it)


def link(name: str) -> tuple[str, str]:
    """A files-table value: a symlink to one of the module's media files."""
    return ("link", name)


def encoded(text: str, codec: str) -> tuple[str, str, str]:
    """A files-table value: `text` (after "{m}" is filled in) written in `codec`."""
    return ("encoded", text, codec)


def nonutf8(text: str) -> str:
    """A file name made of raw bytes: `text` with \\xNN escapes turned into those bytes."""
    return os.fsdecode(text.encode("latin-1").decode("unicode_escape").encode("latin-1"))


@dataclass
class Row:
    id: str
    args: list[str]                    # overrides; "{t}" is the row's folder, "{m}" the media folder
    code: int
    files: dict[str, Any] = field(default_factory=dict)  # path under {t} -> str | bytes | FOLDER | link(name)
    names: list[str] = field(default_factory=list)       # must appear in the output ("{t}", "{m}" allowed)
    problem: str | None = None         # regex the output must match
    check: Callable[[dict, Path], None] | None = None    # (summary.json, store) for exit 0 / 3 rows


def summary_says(**expected: Any) -> Callable[[dict, Path], None]:
    def _check(summary: dict, store: Path) -> None:
        for key, value in expected.items():
            assert summary[key] == value, (key, summary[key], summary)
    return _check


def stays_inside(summary: dict, store: Path) -> None:
    """Odd ids: every feature file is a direct child of its key/fingerprint folder, and reads back."""
    from videolang.store import FeatureStore

    fs = FeatureStore(store)
    ids = set(fs.video_ids("visual"))
    assert {"a b&c", "-rf", "~tilde", "..", "x:y"} <= ids, ids
    for path in store.rglob("*"):
        if path.is_file() and "manifest" not in path.parts:
            assert len(path.relative_to(store).parts) in (1, 3), path  # <key>/<fingerprint>/<file>
    for vid in ("a b&c", "-rf", "~tilde", "..", "x:y"):
        assert len(fs.read(vid, "visual")) > 0


def no_stream(reason: str, keys: list[str]) -> Callable[[dict, Path], None]:
    def _check(summary: dict, store: Path) -> None:
        assert summary["failed"] == 0 and summary["no_stream"][reason]["keys"] == keys, summary
    return _check


ROWS = [
    # -- videos= : the source as a whole --------------------------------------------------------------
    Row("folder_missing", ["videos={t}/nowhere"], 1, names=["{t}/nowhere"], problem="video source not found"),
    Row("folder_empty", ["videos={t}/empty"], 1, {"empty": FOLDER}, ["{t}/empty"], "no media file in this folder"),
    Row("folder_without_media", ["videos={t}/docs"], 1, {"docs/readme.txt": "hello", "docs/a.srt": "1\n"},
        ["{t}/docs"], "no media file in this folder"),
    Row("folder_with_broken_and_good", ["videos={t}/mixed"], 3,
        {"mixed/good.mp4": link("good.mp4"), "mixed/empty.mp4": b"", "mixed/sub/deep.mkv": link("good.mp4")},
        ["{t}/mixed/empty.mp4"], r"empty \[visual\]: empty file \(0 bytes\)",
        summary_says(videos=3, done=1, skipped=1, failed=1)),
    Row("text_file_instead_of_folder", ["videos={t}/notes.md"], 1, {"notes.md": "# My videos\nsee the shared drive\n"},
        ["{t}/notes.md"], "none of the 1 listed files exists"),
    Row("binary_file_instead_of_folder", ["videos={t}/weights.bin"], 1, {"weights.bin": bytes(range(256)) * 8},
        ["{t}/weights.bin"], "binary file, not a list of video paths"),
    # special files: refused by name before anything reads them (a pipe would block, /dev/zero never end)
    Row("source_is_dev_zero", ["videos=/dev/zero"], 1, names=["/dev/zero"], problem="is a character device"),
    Row("source_is_a_named_pipe", ["videos={t}/list.txt"], 1, {"list.txt": FIFO}, ["{t}/list.txt"],
        r"is a named pipe \(FIFO\), not a regular file"),
    Row("one_media_file", ["videos={m}/good.mp4"], 0, names=["1 skipped (already complete)"],
        check=summary_says(videos=1, skipped=1, done=0)),
    Row("one_media_file_upper_case", ["videos={t}/LOUD.MP4"], 0, {"LOUD.MP4": link("good.mp4")},
        check=summary_says(done=1)),
    Row("empty_videos_value", ["videos="], 2, names=["videos="], problem="is empty"),
    Row("null_videos_value", ["videos=null"], 2, names=["videos="], problem="is empty"),
    # -- list files -------------------------------------------------------------------------------
    Row("list_empty", ["videos={t}/list.txt"], 1, {"list.txt": ""}, ["{t}/list.txt"], "lists no video"),
    Row("list_only_comments", ["videos={t}/list.txt"], 1, {"list.txt": "# todo\n\n   \n"}, ["{t}/list.txt"],
        "lists no video"),
    Row("list_all_missing", ["videos={t}/list.txt"], 1, {"list.txt": "gone1.mp4\n/abs/gone2.mp4\n"},
        ["{t}/list.txt", "line 1", "{t}/gone1.mp4"], "none of the 2 listed files exists"),
    Row("list_some_missing", ["videos={t}/list.txt"], 3, {"list.txt": "{m}/good.mp4\ngone.mp4\n"},
        ["{t}/gone.mp4"], r"gone \[visual\]: file not found", summary_says(videos=2, skipped=1, failed=1)),
    Row("list_names_a_folder", ["videos={t}/list.txt"], 3, {"list.txt": "{m}/good.mp4\nadir.mp4\n", "adir.mp4": FOLDER},
        ["{t}/adir.mp4"], "is a folder, not a media file"),
    Row("list_non_utf8_file_name", ["videos={t}/list.txt"], 0,
        {"list.txt": nonutf8(r"caf\xe9.mp4") + "\n", nonutf8(r"caf\xe9.mp4"): link("good.mp4")},
        check=summary_says(done=1, failed=0)),
    Row("list_latin1_of_utf8_name", ["videos={t}/list.txt"], 0,
        {"list.txt": "crème.mp4\n".encode("latin-1"), "crème.mp4": link("good.mp4")}, check=summary_says(done=1)),
    Row("list_non_utf8_missing", ["videos={t}/list.txt"], 3, {"list.txt": b"{m}/good.mp4\nna\xefve.mp4\n"},
        ["{t}/na\\xefve.mp4"], "file not found"),
    Row("list_utf16_with_bom", ["videos={t}/list.txt"], 0, {"list.txt": encoded("{m}/good.mp4\r\n", "utf-16")},
        check=summary_says(skipped=1)),
    Row("list_utf16_without_bom", ["videos={t}/list.txt"], 0, {"list.txt": encoded("{m}/good.mp4\n", "utf-16-le")},
        check=summary_says(skipped=1)),
    Row("list_duplicate_stems", ["videos={t}/list.txt"], 1,
        {"list.txt": "a/clip.mp4\nb/clip.mkv\n", "a/clip.mp4": link("good.mp4"), "b/clip.mkv": link("good.mp4")},
        ["{t}/list.txt", "line 1", "line 2"], "two videos share the id 'clip'"),
    Row("list_same_file_twice", ["videos={t}/list.txt"], 0, {"list.txt": "{m}/good.mp4\n{m}/good.mp4\n"},
        check=summary_says(videos=1, skipped=1)),
    Row("list_control_character_id", ["videos={t}/list.txt"], 1, {"list.txt": b"{m}/good.mp4\nbad\x01name.mp4\n"},
        ["{t}/list.txt", "line 2"], "control characters"),
    Row("list_unsafe_ids", ["videos={t}/list.txt"], 0,
        {"list.txt": "a b&c.mp4\n-rf.mp4\n~tilde.mp4\n...mp4\nx:y.mp4\n", "a b&c.mp4": link("good.mp4"),
         "-rf.mp4": link("good.mp4"), "~tilde.mp4": link("good.mp4"), "...mp4": link("good.mp4"),
         "x:y.mp4": link("good.mp4")}, check=stays_inside),
    # -- videos.parquet (a built dataset) ---------------------------------------------------------
    Row("parquet_without_columns", ["videos={t}/videos.parquet"], 1,
        {"videos.parquet": pd.DataFrame({"id": ["a"], "path": ["{m}/good.mp4"]})}, ["{t}/videos.parquet"],
        "no 'video_id' column"),
    Row("parquet_all_paths_nan", ["videos={t}/videos.parquet"], 1,
        {"videos.parquet": pd.DataFrame({"video_id": ["a", "b"], "video_path": [float("nan"), None]})},
        ["{t}/videos.parquet"], "no row has a video_path"),
    Row("parquet_some_paths_nan", ["videos={t}/videos.parquet"], 0,
        {"videos.parquet": pd.DataFrame({"video_id": ["good", "b"], "video_path": ["{m}/good.mp4", float("nan")]})},
        ["{t}/videos.parquet"], "1 of 2 row.*no video_path", summary_says(videos=1, skipped=1)),
    Row("parquet_nan_id", ["videos={t}/videos.parquet"], 1,
        {"videos.parquet": pd.DataFrame({"video_id": [float("nan")], "video_path": ["{m}/good.mp4"]})},
        ["{t}/videos.parquet", "row 0"], "video id must be a string"),
    Row("parquet_garbage", ["videos={t}/videos.parquet"], 1, {"videos.parquet": b"PAR1" + b"\x00" * 64},
        ["{t}/videos.parquet"], "cannot read as Parquet"),
    # -- media files ------------------------------------------------------------------------------
    Row("media_zero_bytes", ["videos={t}/zero.mp4"], 3, {"zero.mp4": b""}, ["{t}/zero.mp4"],
        r"empty file \(0 bytes\)"),
    Row("media_truncated_data", ["videos={m}/truncated_data.mp4"], 3, names=["{m}/truncated_data.mp4"],
        problem="truncated video: frames stop at"),
    Row("media_truncated_before_index", ["videos={m}/truncated_no_moov.mp4"], 3,
        names=["{m}/truncated_no_moov.mp4"], problem="cannot open as media: corrupt or truncated file"),
    Row("media_garbage", ["videos={t}/noise.mp4"], 3, {"noise.mp4": bytes(range(256)) * 40},
        ["{t}/noise.mp4"], "cannot open as media"),
    Row("media_html_page", ["videos={t}/page.webm"], 3,
        {"page.webm": "<!DOCTYPE html><html><body>429 Too Many Requests</body></html>\n"},
        ["{t}/page.webm"], "cannot open as media"),
    Row("media_no_audio_stream", ["videos={m}/silent.mp4"], 0, names=["1 video(s) with no audio stream"],
        check=no_stream("no audio stream", ["audio", "audio_mel"])),
    Row("media_no_video_stream", ["videos={m}/sound.m4a"], 0, names=["1 video(s) with no video stream"],
        check=no_stream("no video stream", ["visual"])),
    Row("media_audio_with_cover_art", ["videos={m}/song.mp3"], 0, names=["1 video(s) with no video stream"],
        check=no_stream("no video stream", ["visual"])),
    Row("media_no_stream_at_all", ["videos={m}/subtitles.mkv"], 3, names=["{m}/subtitles.mkv"],
        problem="no audio or video stream in the file"),
    Row("media_extreme_aspect_ratio", ["videos={m}/wide.mp4"], 0, check=summary_says(done=1, failed=0)),
    # -- settings ---------------------------------------------------------------------------------
    Row("shard_not_a_number", ["videos={m}/good.mp4", "shard=abc"], 2, names=["shard='abc'"], problem="whole number"),
    Row("shard_fraction", ["videos={m}/good.mp4", "shard=1.5", "num_shards=2"], 2, names=["shard=1.5"],
        problem="whole number"),
    Row("shard_out_of_range", ["videos={m}/good.mp4", "shard=2", "num_shards=2"], 2, names=["shard=2 num_shards=2"],
        problem="need 0 <= shard < num_shards"),
    Row("shard_negative", ["videos={m}/good.mp4", "shard=-1"], 2, names=["shard=-1"], problem="need 0 <= shard"),
    Row("num_shards_zero", ["videos={m}/good.mp4", "num_shards=0"], 2, names=["num_shards=0"],
        problem="need 0 <= shard"),
    Row("shard_without_videos", ["videos={m}/good.mp4", "shard=3", "num_shards=4"], 0,
        check=summary_says(videos=0, done=0, failed=0)),
    Row("num_workers_negative", ["videos={m}/good.mp4", "stage.num_workers=-1"], 2, names=["stage.num_workers=-1"],
        problem="must be at least 0"),
    Row("num_workers_text", ["videos={m}/good.mp4", "stage.num_workers=many"], 2, names=["stage.num_workers='many'"],
        problem="not a whole number"),
    Row("overwrite_not_a_flag", ["videos={m}/good.mp4", "stage.overwrite=maybe"], 2, names=["stage.overwrite='maybe'"],
        problem="must be true or false"),
    Row("retry_failed_not_a_flag", ["videos={m}/good.mp4", "retry_failed=yes please"], 2, names=["retry_failed"],
        problem="must be true or false"),
    Row("extensions_not_a_list", ["videos={m}/good.mp4", "stage.extensions=5"], 2, names=["stage.extensions=5"],
        problem="list of file extensions"),
    Row("unknown_stage_option", ["videos={m}/good.mp4", "stage.retry=true"], 2, names=["stage.retry"]),
    Row("unknown_extractor_option", ["videos={m}/good.mp4", "extractor.extractors.visual.batchsize=8"], 2,
        names=["batchsize"]),
    Row("unknown_extractor_option_appended", ["videos={m}/good.mp4", "+extractor.extractors.visual.batchsize=8"], 2,
        names=["extractor.extractors.visual", "batchsize"], problem="unexpected keyword argument"),
    Row("unknown_extractor_set", ["videos={m}/good.mp4", "extractor=tinny"], 2, names=["tinny"]),
    Row("unknown_extractor_in_group", ["videos={m}/good.mp4", "extractor@extractor.extractors.visual=clip_huge"], 2,
        names=["clip_huge"]),
    Row("unknown_decode_option", ["videos={m}/good.mp4", "+extractor.decode.fsp=2"], 2, names=["fsp"],
        problem="unknown extractor.decode option"),
    Row("decode_fps_negative", ["videos={m}/good.mp4", "extractor.decode.fps=-1"], 2,
        names=["extractor.decode.fps=-1"], problem="must be a number >= "),
    Row("decode_fps_text", ["videos={m}/good.mp4", "extractor.decode.fps=fast"], 2,
        names=["extractor.decode.fps='fast'"], problem="must be a number"),
    Row("decode_size_zero", ["videos={m}/good.mp4", "extractor.decode.size=0"], 2, names=["extractor.decode.size=0"],
        problem="whole number >= 1"),
    Row("decode_backend_unknown", ["videos={m}/good.mp4", "extractor.decode.backend=ffmpeg"], 2,
        names=["extractor.decode.backend='ffmpeg'"], problem="choose one of"),
    Row("audio_backend_unknown", ["videos={m}/good.mp4", "extractor.audio.backend=sox"], 2,
        names=["extractor.audio.backend='sox'"], problem="choose one of"),
    Row("model_folder_missing", ["videos={t}/other.mp4", "extractor.extractors.visual.model={t}/no-such-model"], 1,
        {"other.mp4": link("good.mp4")}, ["{t}/no-such-model", "'visual' model"], "cannot load"),
    Row("store_is_a_file", ["videos={m}/good.mp4", "stage.store={t}/store.txt"], 1, {"store.txt": "x"},
        ["{t}/store.txt"], "cannot create output folder"),
    Row("store_in_proc", ["videos={m}/good.mp4", "stage.store=/proc/1"], 1, names=["/proc/1"],
        problem="exists, but its file system refuses to create files in it"),
]


# --- the module's media and its finished store -----------------------------------------------------

@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    m = tmp_path_factory.mktemp("media")
    make_video(m / "good.mp4", seconds=3, size=(96, 64))
    make_video(m / "silent.mp4", seconds=3, size=(96, 64), audio=False)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=3", "-c:a", "aac", str(m / "sound.m4a"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1", "-frames:v", "1", str(m / "cover.png"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=3", "-i", str(m / "cover.png"),
           "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "mjpeg", "-disposition:v", "attached_pic",
           str(m / "song.mp3"))
    (m / "subs.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    ffmpeg("-i", str(m / "subs.srt"), str(m / "subtitles.mkv"))
    make_video(m / "wide.mp4", seconds=2, size=(4000, 16), fps=5)
    # a faststart file cut at 40%: the header announces 8 s, the media data stops early
    long = make_video(m / "long.mp4", seconds=8, size=(96, 64))
    ffmpeg("-i", str(long), "-c", "copy", "-movflags", "+faststart", str(m / "faststart.mp4"))
    data = (m / "faststart.mp4").read_bytes()
    (m / "truncated_data.mp4").write_bytes(data[: int(len(data) * 0.4)])
    data = long.read_bytes()  # index (moov) at the end: the first half cannot be opened
    (m / "truncated_no_moov.mp4").write_bytes(data[: len(data) // 2])
    return m


@pytest.fixture(scope="module")
def finished_store(media, zoo, tmp_path_factory) -> Path:
    """A store that already holds good.mp4's features (made by the stage itself)."""
    from hydra.core.global_hydra import GlobalHydra

    from tests.conftest import compose_config
    from tests.extract.conftest import NO_SPEECH, extract_overrides
    from videolang.run import run_stage

    tmp = tmp_path_factory.mktemp("finished")
    cfg = compose_config(extract_overrides(zoo, tmp / "store", media / "good.mp4", NO_SPEECH, "stage.num_workers=0"),
                         tmp)
    assert run_stage(cfg) == 0
    GlobalHydra.instance().clear()
    return tmp / "store"


def _materialize(t: Path, m: Path, files: dict[str, Any]) -> None:
    for rel, content in files.items():
        path = t / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is FOLDER:
            path.mkdir(exist_ok=True)
        elif content is FIFO:
            os.mkfifo(path)
        elif isinstance(content, tuple) and content[0] == "link":
            path.symlink_to(m / content[1])
        elif isinstance(content, tuple) and content[0] == "encoded":
            path.write_bytes(content[1].replace("{m}", str(m)).encode(content[2]))
        elif isinstance(content, pd.DataFrame):
            content.replace({"{m}": str(m)}, regex=True).to_parquet(path)
        elif isinstance(content, bytes):
            path.write_bytes(content.replace(b"{m}", os.fsencode(str(m))))
        else:  # text; a name with surrogate escapes (bytes that are not UTF-8) keeps its bytes
            path.write_bytes(os.fsencode(content.replace("{m}", str(m))))


def _run_folder(output: str) -> Path:
    found = re.findall(r"\[videolang\] output folder: (\S+)", output)
    assert found, output[-2000:]
    return Path(found[-1])


def _features(store: Path) -> dict[str, str]:
    return {k: v for k, v in snapshot(store).items() if f"{os.sep}manifest" not in k}


def _journals(store: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (store / "manifest").glob("*.jsonl")}


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_extract_bad_input(row: Row, tmp_path: Path, capfd, media: Path, finished_store: Path, zoo):
    t = tmp_path
    _materialize(t, media, row.files)
    before, journals, whole = _features(finished_store), _journals(finished_store), snapshot(finished_store)
    args = [a.replace("{t}", str(t)).replace("{m}", str(media)) for a in row.args]
    outcome = run_in_process(["stage=extract", "extractor=tiny", f"paths.model_dir={zoo['tiny-clip'].parent}",
                              f"stage.store={finished_store}", "stage.progress=false", "stage.num_workers=0",
                              "~extractor.extractors.speech", f"paths.log_dir={t / 'logs'}", *args], capfd)
    names = [n.replace("{t}", str(t)).replace("{m}", str(media)) for n in row.names]
    check_contract(outcome, code=row.code, names=names, problem=row.problem)

    after = _features(finished_store)
    assert {k: after.get(k) for k in before} == before, "finished features changed"
    for name, old in journals.items():  # the journal only grows, at its end
        assert _journals(finished_store)[name].startswith(old), f"journal {name} was rewritten"
    if row.code in (1, 2):
        assert snapshot(finished_store) == whole, "a run that must fail wrote into the store"
        if row.code == 1:
            message = [ln for ln in outcome.output.splitlines() if "extract failed:" in ln]
            assert len(message) == 1, outcome.output[-3000:]  # one paragraph
        return
    summary = json.loads((_run_folder(outcome.output) / "summary.json").read_text())
    if row.code == 3:
        listed = " ".join(f"{f['video_id']} {f['path']} {f['reason']}" for f in summary["failures"])
        for name in names:
            assert name in listed, f"summary.json does not list {name!r}: {listed[:2000]}"
        assert summary["failed"] >= 1
    if row.check is not None:
        row.check(summary, finished_store)
