"""Frame folders (JPEG / PNG sequences with a stated fps) as a video source: one decode path with containers.

The images of a folder are on screen at (number - first number) / fps; the visual extractors see the images
on screen at the extractor's own times, exactly as `select_frames` picks a container's frames; the folder has
no audio, so audio keys are done without their stream, not failed; every way a folder is broken is a
per-video failure with its reason (or, for a folder source without a stated fps, a usage error).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from videolang.core.errors import BadInputError
from videolang.media.decode import FrameSampling, make_decoder
from videolang.media.frames import probe_frames

from tests.bad_inputs.harness import run_folder, run_in_process
from tests.extract.conftest import NO_SPEECH, extract_overrides


def frame_folder(folder: Path, count: int, size=(64, 48), numbers=None, ext="jpg") -> Path:
    """`count` images named 00001.jpg ... (or `numbers`), image k a flat grey of value 10 * number."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers or range(1, count + 1):
        Image.fromarray(np.full((size[1], size[0], 3), 10 * n % 256, np.uint8)).save(folder / f"{n:05d}.{ext}")
    return folder


def decoded(folder: Path, fps: float = 3.0, **sampling):
    info = probe_frames(folder, fps)
    chunks = list(make_decoder("pyav", sampling=FrameSampling(**{"size": 16, **sampling}), chunk_frames=4).frames(info))
    return (info, np.concatenate([c.times for c in chunks]), np.concatenate([c.frame_times for c in chunks]),
            np.concatenate([c.frames for c in chunks]))


def test_images_on_screen_at_the_extractors_times(tmp_path):
    """3 fps images sampled at 1 fps: targets 0, 1, 2, 3 s take images 1, 4, 7, 10 (TVQA: image k at (k-1)/3 s)."""
    info, times, frame_times, frames = decoded(frame_folder(tmp_path / "clip", 11))
    assert (info.has_video, info.has_audio, info.fps, info.width, info.height) == (True, False, 3.0, 64, 48)
    assert info.video_duration == pytest.approx(11 / 3)
    assert times.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert frame_times == pytest.approx([0.0, 1.0, 2.0, 3.0])
    assert frames.shape == (4, 16, 16, 3) and frames.dtype == np.uint8
    assert np.abs(frames[:, 8, 8, 0].astype(int) - [10, 40, 70, 100]).max() <= 2  # JPEG rounding
    # num_frames sampling and PNGs take the same route
    _, times, frame_times, frames = decoded(frame_folder(tmp_path / "png", 6, ext="png"), num_frames=2)
    assert times.tolist() == pytest.approx([0.5, 1.5]) and frame_times.tolist() == pytest.approx([1 / 3, 4 / 3])
    assert frames[:, 0, 0, 0].tolist() == [20, 50]


def test_a_gap_in_the_numbering_holds_the_previous_image(tmp_path):
    folder = frame_folder(tmp_path / "gap", 0, numbers=[1, 2, 3, 7, 8, 9])  # 00004-00006 missing
    info, times, frame_times, frames = decoded(folder)
    assert info.video_duration == pytest.approx(3.0)  # the last image's period ends at 9/3 s
    assert frame_times.tolist() == pytest.approx([0.0, 2 / 3, 2.0])  # target 1 s: image 3 is still on screen
    assert np.abs(frames[:, 0, 0, 0].astype(int) - [10, 30, 70]).max() <= 2


@pytest.mark.parametrize("problem", ["empty", "corrupt", "mixed_sizes", "no_fps", "not_an_image"])
def test_a_broken_folder_is_one_reason_naming_it(tmp_path, problem):
    folder = frame_folder(tmp_path / "clip", 4)
    fps = None if problem == "no_fps" else 3.0
    if problem == "empty":
        for f in folder.iterdir():
            f.unlink()
    elif problem == "corrupt":
        data = (folder / "00002.jpg").read_bytes()  # the header reads, the picture stops half-way
        (folder / "00002.jpg").write_bytes(data[:len(data) // 2])
    elif problem == "mixed_sizes":
        frame_folder(folder, 0, size=(32, 48), numbers=[3])
    elif problem == "not_an_image":
        (folder / "00003.jpg").write_text("not a picture")
    want = {"empty": "is a folder, not a media file, and holds no frames", "corrupt": "damaged or truncated",
            "mixed_sizes": "frames of different sizes: 00003.jpg is 32x48, 00001.jpg is 64x48",
            "no_fps": "no frame rate is stated", "not_an_image": "cannot read the image"}[problem]
    with pytest.raises(BadInputError, match=want) as err:
        info = probe_frames(folder, fps)
        for _ in make_decoder("pyav", sampling=FrameSampling(fps=3.0, size=16)).frames(info):
            pass
    assert str(folder) in str(err.value)


def test_stage_extract_on_frame_folders(zoo, tmp_path, capfd):
    """stage=extract: a folder of frame folders with the stated fps; audio keys done without their stream; the
    broken folders of a list are failures with their reasons (exit 3); no stated fps is a usage error (exit 2)."""
    frames = tmp_path / "frames_hq"
    frame_folder(frames / "friends_frames" / "friends_s01e01_seg01_clip_00", 9)
    frame_folder(frames / "bbt_frames" / "s01e01_seg01_clip_00", 7, size=(48, 64))
    store, logs = tmp_path / "store", f"paths.log_dir={tmp_path / 'logs'}"
    args = extract_overrides(zoo, store, frames, NO_SPEECH, "extractor.frames.fps=3", logs)
    outcome = run_in_process(args, capfd)
    assert outcome.code == 0, outcome.output[-3000:]
    assert "2 video(s) with no audio stream" in outcome.output
    manifest = pd.read_parquet(store / "manifest.parquet").set_index(["video_id", "key"])
    assert manifest.loc[("s01e01_seg01_clip_00", "visual"), "n"] == 3  # 7 images at 3 fps: 0, 1, 2 s
    assert manifest.loc[("friends_s01e01_seg01_clip_00", "visual"), "n"] == 3
    for key in ("audio", "audio_mel"):
        row = manifest.loc[("s01e01_seg01_clip_00", key)]
        assert (row["status"], row["reason"], row["n"]) == ("done", "no audio stream", 0)
    sidecar = json.loads(next((store / "visual").glob("*/s01e01_seg01_clip_00.json")).read_text())
    assert sidecar["timestamps"] == [0.0, 1.0, 2.0] and sidecar["fps"] == 1.0

    # broken folders listed one by one: each a failure with its reason, the good one skipped (done before)
    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = frame_folder(tmp_path / "mixed", 3)
    frame_folder(mixed, 0, size=(10, 10), numbers=[2])
    listing = tmp_path / "list.txt"
    listing.write_text(f"{frames / 'bbt_frames' / 's01e01_seg01_clip_00'}\n{empty}\n{mixed}\n")
    outcome = run_in_process(extract_overrides(zoo, store, listing, NO_SPEECH, "extractor.frames.fps=3", logs), capfd)
    assert outcome.code == 3, outcome.output[-3000:]
    summary = json.loads((run_folder(outcome.output) / "summary.json").read_text())
    assert (summary["skipped"], summary["failed"]) == (1, 2)
    reasons = {f["video_id"]: f["reason"] for f in summary["failures"] if f["key"] == "visual"}
    assert "holds no frames" in reasons["empty"] and "frames of different sizes" in reasons["mixed"]

    # no stated fps: a folder holding only frame folders is a usage error naming the setting
    outcome = run_in_process(extract_overrides(zoo, tmp_path / "store2", frames, NO_SPEECH, logs), capfd)
    assert outcome.code == 2 and "extractor.frames.fps" in outcome.output and "2 frame folder(s)" in outcome.output


def test_extractor_json_gains_the_frames_rate_once(tmp_path):
    """A store first extracted from media files (no rate) records the frame folders' rate when a later run states
    one (what predict reads back from the checkpoint); the first rate recorded stays."""
    from videolang.store import FeatureStore

    store, first = FeatureStore(tmp_path), {"key": "visual", "model": "m", "fingerprint": "fp"}
    store.write_extractor_info("visual", "fp", first)
    store.write_extractor_info("visual", "fp", {**first, "frames": {"fps": 3.0, "extensions": ["jpg"]}})
    store.write_extractor_info("visual", "fp", {**first, "frames": {"fps": 5.0, "extensions": ["jpg"]}})
    assert store.describe("visual", "fp") == {**first, "frames": {"fps": 3.0, "extensions": ["jpg"]}}
