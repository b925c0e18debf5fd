"""The real Whisper-base model hears the sample corpus's narration: words and word times."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.speech

SAMPLE_RATE = 16000
STOPWORDS = {"the", "and", "for", "you", "are", "now", "can", "this", "that", "with", "it's", "let's", "here"}


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", text.lower()) if len(w) >= 3 and w not in STOPWORDS]


def test_whisper_base_transcribes_the_first_chapter_of_each_sample_video(whisper_base_dir, sample_corpus,
                                                                         sample_manifest):
    from faster_whisper import WhisperModel, decode_audio

    model = WhisperModel(str(whisper_base_dir), device="cpu", compute_type="int8")
    found = expected = 0
    for video in sample_manifest["videos"]:
        chapter = video["chapters"][0]
        audio = decode_audio(str(sample_corpus / video["files"]["video"]), sampling_rate=SAMPLE_RATE)
        clip = audio[int(chapter["start"] * SAMPLE_RATE):int(chapter["end"] * SAMPLE_RATE)]
        segments, info = model.transcribe(clip, language="en", word_timestamps=True)
        words = [w for segment in segments for w in segment.words]
        heard = set(content_words(" ".join(w.word for w in words)))
        said = content_words(chapter["narration"])
        hits = sum(w in heard for w in said)
        assert hits >= len(said) / 2, (chapter["narration"], [w.word for w in words])
        found, expected = found + hits, expected + len(said)

        # Word times (relative to the clip) fall inside the narrated span, give or take Whisper's slack.
        assert words, chapter
        starts = [chapter["start"] + w.start for w in words]
        ends = [chapter["start"] + w.end for w in words]
        assert all(s <= e for s, e in zip(starts, ends)) and starts == sorted(starts)
        assert chapter["narration_start"] - 1.0 <= starts[0] and ends[-1] <= chapter["narration_end"] + 1.0
    assert found >= 0.75 * expected, f"heard {found} of {expected} narrated content words"
