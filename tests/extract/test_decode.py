"""Decoding: sampling times, both backends agreeing, and the awkward formats (webm, mkv, rotation, VFR, odd sizes)."""
from __future__ import annotations

import numpy as np
import pytest

from videolang.core.errors import BadInputError
from videolang.media.audio import load_audio
from videolang.media.decode import FrameSampling, make_decoder, select_frames
from videolang.media.probe import probe
from tests.extract.media import make_rotated, make_vfr, make_video

BACKENDS = ["decord", "pyav"]


def decode(path, backend, **sampling):
    chunks = list(make_decoder(backend, sampling=FrameSampling(**sampling), chunk_frames=4).frames(probe(path)))
    return np.concatenate([c.times for c in chunks]), np.concatenate([c.frames for c in chunks]), chunks


def test_targets_fps_and_num_frames():
    assert FrameSampling(fps=1).targets(4.0).tolist() == [0, 1, 2, 3]
    assert FrameSampling(fps=2).targets(2.2).tolist() == [0, 0.5, 1.0, 1.5, 2.0]
    assert FrameSampling(num_frames=4).targets(8.0).tolist() == [1, 3, 5, 7]


def test_select_frames_takes_the_frame_on_screen():
    frame_times = np.array([0.0, 0.2, 0.4, 2.0, 2.1])  # a gap: the frame at 0.4 stays until 2.0
    assert select_frames(frame_times, np.array([0.0, 0.3, 1.0, 1.999, 2.0, 5.0])).tolist() == [0, 1, 2, 2, 3, 4]


def test_scaled_size_keeps_aspect_and_odd_sizes():
    s = FrameSampling(size=224)
    assert s.scaled_size(1280, 720) == (398, 224)
    assert s.scaled_size(181, 321) == (224, 397)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, size", [("a.mp4", (160, 120)), ("b.webm", (162, 90)), ("c.mkv", (121, 97))])
def test_containers_and_odd_sizes(tmp_path, backend, name, size):
    path = make_video(tmp_path / name, seconds=4.5, size=size)
    times, frames, chunks = decode(path, backend)
    assert times.tolist() == [0, 1, 2, 3, 4]
    assert frames.shape == (5, 224, 224, 3) and frames.dtype == np.uint8
    assert [len(c.times) for c in chunks] == [4, 1]  # handed out in chunks, never all at once
    assert frames.std() > 10  # real picture content, not a blank buffer


def frame_times(chunks):
    return np.concatenate([c.frame_times for c in chunks]).round(4).tolist()


@pytest.mark.parametrize("gop", [250, 12])
def test_backends_take_the_same_frames(tmp_path, gop):
    path = make_video(tmp_path / "v.mp4", seconds=6.5, size=(320, 180), fps=30, gop=gop, preset="veryfast")
    (t1, f1, c1), (t2, f2, c2) = decode(path, "decord", fps=3), decode(path, "pyav", fps=3)
    assert t1.tolist() == t2.tolist()
    assert frame_times(c1) == frame_times(c2) == t1.round(4).tolist()  # exact frames, B-frame skipping included
    assert np.abs(f1.astype(int) - f2.astype(int)).mean() < 8  # the scalers differ slightly


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotation_metadata_is_applied(tmp_path, backend):
    src = make_video(tmp_path / "src.mp4", seconds=2, size=(320, 180), audio=False)
    rot = make_rotated(src, tmp_path / "rot.mp4", 90)
    info = probe(rot)
    assert (info.width, info.height, info.rotation) == (180, 320, 90)
    _, frames, _ = decode(rot, backend, crop=False)
    assert frames.shape[1:3] == (398, 224)  # portrait, as a player shows it
    _, upright, _ = decode(src, backend, crop=False)
    reference = np.rot90(upright, 1, axes=(1, 2))  # ffmpeg's autorotate for this tag
    assert np.abs(frames.astype(int) - reference.astype(int)).mean() < 8


@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_frame_rate_samples_by_time(tmp_path, backend):
    path = make_vfr(tmp_path / "vfr.mp4", tmp_path)  # red at 5 fps for 2 s, then blue at 30 fps
    times, frames, chunks = decode(path, backend, fps=2, crop=False)
    assert times.tolist() == [0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert frame_times(chunks) == [0, 0.4, 1.0, 1.4, 2.0, 2.5, 3.0, 3.5]  # the frame on screen at each time
    red = frames[..., 0].mean((1, 2)) > frames[..., 2].mean((1, 2))
    assert red.tolist() == [True] * 4 + [False] * 4


def test_num_frames_sampling(tmp_path):
    path = make_video(tmp_path / "v.mp4", seconds=6, audio=False)
    times, frames, _ = decode(path, "pyav", num_frames=3)
    assert times.tolist() == [1, 3, 5] and len(frames) == 3


def test_audio_is_16k_mono(tmp_path):
    path = make_video(tmp_path / "v.webm", seconds=3)
    audio = load_audio(probe(path))
    assert audio.dtype == np.float32 and abs(len(audio) / 16000 - 3) < 0.1
    assert 0.05 < np.abs(audio).max() <= 1.0


@pytest.mark.parametrize("make, problem", [
    (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    (lambda p: p.write_text("<html>404</html>"), "cannot open as media"),
])
def test_bad_files_are_named_with_a_reason(tmp_path, make, problem):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(BadInputError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        probe(path)


def test_missing_streams_are_reasons(tmp_path):
    silent_video = make_video(tmp_path / "v.mp4", seconds=2, audio=False)
    with pytest.raises(BadInputError, match="no audio stream"):
        load_audio(probe(silent_video))
    with pytest.raises(BadInputError, match="file not found"):
        probe(tmp_path / "nope.mp4")


LONG_VIDEO_SCRIPT = """
import resource, sys
from videolang.media.decode import make_decoder
from videolang.media.probe import probe
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
frames, first = 0, None
for chunk in make_decoder("pyav").frames(probe(sys.argv[1])):
    frames += len(chunk.times)
    first = first or peak()
print(frames, first, peak())
"""


@pytest.mark.slow
def test_hour_long_video_in_bounded_memory(tmp_path):
    """3,600 sampled frames would be 0.54 GB at 224 px; streaming in chunks keeps the peak where it started."""
    import subprocess
    import sys

    from tests.extract.media import ffmpeg

    path = tmp_path / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=1", "-t", "3600", "-c:v", "libx264", "-preset", "ultrafast",
           "-g", "600", "-pix_fmt", "yuv420p", str(path))
    out = subprocess.run([sys.executable, "-c", LONG_VIDEO_SCRIPT, str(path)], capture_output=True, text=True,
                         check=True, timeout=600).stdout.split()
    frames, first_chunk_mb, end_mb = map(int, out)
    assert frames == 3600
    assert end_mb - first_chunk_mb < 100, (first_chunk_mb, end_mb)
