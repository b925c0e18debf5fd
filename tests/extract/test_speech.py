"""Speech: sentences from timed words, silent audio, imported transcripts, both Whisper backends,
and the real-speech test (narrated words land inside the right chapter)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from videolang.extract import Encoder, encode_video
from videolang.extract.speech import FasterWhisperASR, OpenAIWhisperASR, transcript_from_words, words_to_sentences
from videolang.run import run_stage
from videolang.store import FeatureStore
from tests.extract.media import make_silent


def w(word, start, end):
    return {"word": word, "start": start, "end": end, "probability": 0.9}


def test_sentences_are_rebuilt_from_words():
    words = [w(" Hello", 0.0, 0.4), w(" there.", 0.4, 0.8), w(" Chop", 2.0, 2.3), w(" 3", 2.3, 2.4), w(" onions!", 2.4, 3.0),
             w(" and", 4.0, 4.2)]
    assert [len(s) for s in words_to_sentences(words)] == [2, 3, 1]
    t = transcript_from_words(words, "en")
    assert t["text"] == ["Hello there.", "Chop 3 onions!", "and"]
    assert t["start"] == [0.0, 2.0, 4.0] and t["end"] == [0.8, 3.0, 4.2]
    assert t["words"][1][1] == {"word": "3", "start": 2.3, "end": 2.4, "probability": 0.9}  # digits keep their times
    assert t["language"] == "en"


def test_silent_video_gives_an_empty_transcript(tmp_path, whisper_base_dir):
    path = make_silent(tmp_path / "silent.mp4")
    gated = {"speech": FasterWhisperASR(model=str(whisper_base_dir), beam_size=1)}
    ungated = {"speech": FasterWhisperASR(model=str(whisper_base_dir), beam_size=1, silence_dbfs=-1000.0)}
    for extractors in (gated, ungated):  # the silence gate, and the model itself through VAD
        rec = encode_video(path, Encoder(extractors).load("cpu"))["speech"]
        assert rec.segments["text"] == [] and rec.segments["start"] == [] and len(rec) == 0


def test_openai_whisper_backend_runs(tmp_path, zoo):
    from tests.extract.media import make_video

    path = make_video(tmp_path / "v.mp4", seconds=3)
    fast = {"temperature": 0.0, "sample_len": 16, "condition_on_previous_text": False}  # random weights ramble
    enc = Encoder({"speech": OpenAIWhisperASR(model=str(zoo["tiny-whisper.pt"]), language="en", silence_dbfs=-1000.0,
                                              options=fast)})
    rec = enc.load("cpu").encode(path)["speech"]  # random tiny weights: any text, but a well-formed transcript
    seg = rec.segments
    assert len(seg["text"]) == len(seg["start"]) == len(seg["end"]) == len(seg["words"]) and seg["language"] == "en"
    assert all(0 <= s <= e for s, e in zip(seg["start"], seg["end"]))


def test_precomputed_transcripts_are_imported(tmp_path, extract_cfg, sample_corpus, sample_manifest):
    vids = sorted(v["id"] for v in sample_manifest["videos"])
    asr = {vid: {"text": ["Hi.", "Bye."], "start": [0.5, 3.0], "end": [1.0, 4.0]} for vid in vids[:-1]}
    (tmp_path / "asr.json").write_text(json.dumps(asr))
    cfg = extract_cfg(sample_corpus / "videos", "extractor@extractor.extractors.speech=speech_precomputed",
                      f"extractor.extractors.speech.source={tmp_path / 'asr.json'}",
                      "~extractor.extractors.audio", "~extractor.extractors.audio_mel", "~extractor.extractors.visual")
    assert run_stage(cfg) == 3  # the last video has no transcript in the file: a failure with a reason
    store = FeatureStore(tmp_path / "store")
    assert store.read(vids[0], "speech").segments["text"] == ["Hi.", "Bye."]
    failed = store.manifest().query("status == 'failed'")
    assert failed["video_id"].tolist() == [vids[-1]] and "no precomputed transcript" in failed["reason"].iloc[0]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


@pytest.mark.speech
def test_narrated_words_land_in_the_right_chapter(tiny_encoder, sample_corpus, sample_manifest):
    """The real Whisper-base on a narrated sample video: its words, timed inside the chapter that says them."""
    video = max(sample_manifest["videos"], key=lambda v: len(v["chapters"]))
    speech = tiny_encoder.encode(sample_corpus / video["files"]["video"])["speech"]
    words = [x for sentence in speech.segments["words"] for x in sentence]
    assert speech.segments["language"] == "en" and words
    said_total = heard_total = 0
    for chapter in video["chapters"]:
        said = {x for x in _words(chapter["narration"]) if len(x) > 3}
        inside = {y for x in words if chapter["start"] <= x["start"] < chapter["end"] for y in _words(x["word"])}
        heard = said & inside
        assert heard, (chapter["title"], sorted(said), sorted(inside))  # every chapter: its own words, in its span
        said_total, heard_total = said_total + len(said), heard_total + len(heard)
    assert heard_total >= 0.7 * said_total  # Whisper-base on espeak: most words, not every one ("sand" -> "send")
    assert np.all(np.diff(speech.timestamps) >= 0)
