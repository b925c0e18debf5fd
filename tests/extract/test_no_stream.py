"""The Encoder on files without an audio or a video stream: those keys are absent (done, nothing to compute),
not failed; dependants of an absent key are absent too; a file with neither stream is a failure."""
from __future__ import annotations

import numpy as np
import pytest

from videolang.extract import Encoder
from videolang.extract.base import Extractor
from videolang.extract.sources import VideoItem
from videolang.media.probe import probe
from tests.extract.media import ffmpeg, make_video


class FrameCount(Extractor):
    input = "frames"

    def begin(self, item, info):
        return {"n": 0, "seen": []}

    def update(self, state, chunk):
        state["n"] += len(chunk.times)

    def finish(self, state):
        return self.record(np.ones((state["n"], 1), np.float32), np.arange(state["n"]), 1.0)


class NeedsFrames(Extractor):
    """Computed from FrameCount's state (like commonsense from regions), fed the audio."""

    input = "audio"
    requires = ("frames",)

    def begin(self, item, info):
        return {}

    def link(self, state, required):
        state["dep"] = required["frames"]

    def update(self, state, audio):
        state["len"] = len(audio)

    def finish(self, state):
        return self.record(np.zeros((1, 1), np.float32), [0.0], None)


class AudioLen(Extractor):
    input = "audio"

    def begin(self, item, info):
        return {}

    def update(self, state, audio):
        state["len"] = len(audio)

    def finish(self, state):
        return self.record(np.array([[state["len"]]], np.float32), [0.0], None)


class Transcript(AudioLen):
    def absent_record(self, item, info, reason):
        return self.record(np.zeros((0, 1), np.float32), [], None, meta={"absent": reason})


def encoder() -> Encoder:
    return Encoder({"frames": FrameCount(), "audio": AudioLen(), "speech": Transcript(), "mixed": NeedsFrames()})


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("media")
    silent = make_video(tmp / "silent.mp4", seconds=2, size=(64, 48), audio=False)
    sound = tmp / "sound.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=2", "-c:a", "aac", str(sound))
    cover = tmp / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1", "-frames:v", "1", str(cover))
    song = tmp / "song.mp3"  # music with its album cover: the picture is no video stream
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=2", "-i", str(cover),
           "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "mjpeg", "-disposition:v", "attached_pic", str(song))
    srt = tmp / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    subtitles = tmp / "subtitles.mkv"  # a valid container holding neither audio nor video
    ffmpeg("-i", str(srt), str(subtitles))
    return {"silent": silent, "sound": sound, "song": song, "subtitles": subtitles}


def test_no_audio_stream(media):
    result = encoder().try_encode(media["silent"])
    assert result.failures == {}
    assert result.absent == {"audio": "no audio stream", "speech": "no audio stream", "mixed": "no audio stream"}
    assert sorted(result.records) == ["frames", "speech"]  # speech's absent record (an empty one) is kept
    assert len(result.records["speech"]) == 0 and result.records["speech"].meta["absent"] == "no audio stream"
    assert len(result.records["frames"]) == 2


@pytest.mark.parametrize("name", ["sound", "song"])
def test_no_video_stream_and_its_dependants(media, name):
    result = encoder().try_encode(media[name])
    assert result.failures == {}
    assert result.absent == {"frames": "no video stream", "mixed": "no video stream"}  # mixed needs frames
    assert sorted(result.records) == ["audio", "speech"]
    assert encoder().encode(media[name]).keys() == {"audio", "speech"}  # strict: absent is not a failure


def test_cover_art_is_not_video(media):
    info = probe(media["song"])
    assert not info.has_video and info.has_audio


def test_neither_stream_is_a_failure(media):
    result = encoder().try_encode(VideoItem("subtitles", str(media["subtitles"])))
    assert not result.absent and set(result.failures) == {"frames", "audio", "speech", "mixed"}
    assert result.failures["frames"] == "no audio or video stream in the file"
