"""Speech: Whisper ASR (faster-whisper or openai-whisper) or an imported transcript, as sentences.

Output (`FeatureRecord.segments`), VidChapters-compatible plus words:
    {"text": [sentence, ...], "start": [s, ...], "end": [s, ...],
     "words": [[{"word", "start", "end", "probability"}, ...] per sentence], "language": "en"}
Sentences are rebuilt from word timestamps (a Whisper segment is not a sentence).
A video whose audio is silent gets an empty transcript without running the model.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from videolang.core.errors import BadInputError
from videolang.core.ids import id_to_filename
from videolang.core.io import read_json
from videolang.extract.base import Extractor
from videolang.media.audio import SAMPLE_RATE
from videolang.store.record import empty_transcript

SENTENCE_END = (".", "?", "!", "。", "？", "！", "…")


def words_to_sentences(words: list[dict[str, Any]], max_words: int = 60) -> list[list[dict[str, Any]]]:
    """Group timed words into sentences at end punctuation (or every `max_words`)."""
    sentences, current = [], []
    for w in words:
        if not w["word"].strip():
            continue
        current.append(w)
        if w["word"].strip().endswith(SENTENCE_END) or len(current) >= max_words:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def transcript_from_words(words: list[dict[str, Any]], language: str | None) -> dict[str, Any]:
    out = empty_transcript(language)
    for sentence in words_to_sentences(words):
        out["text"].append("".join(w["word"] for w in sentence).strip())
        out["start"].append(round(float(sentence[0]["start"]), 3))
        out["end"].append(round(float(sentence[-1]["end"]), 3))
        out["words"].append([{"word": w["word"].strip(), "start": round(float(w["start"]), 3),
                              "end": round(float(w["end"]), 3), "probability": round(float(w.get("probability", 1.0)), 4)}
                             for w in sentence])
    return out


def transcript_from_segments(segments: list[dict[str, Any]], language: str | None) -> dict[str, Any]:
    """Segment-level transcript when the backend gave no word times."""
    out = empty_transcript(language)
    for s in segments:
        if s["text"].strip():
            out["text"].append(s["text"].strip())
            out["start"].append(round(float(s["start"]), 3))
            out["end"].append(round(float(s["end"]), 3))
            out["words"].append([])
    return out


def is_silent(audio: np.ndarray, threshold_dbfs: float) -> bool:
    if audio.size == 0:
        return True
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20 * np.log10(max(rms, 1e-12)) < threshold_dbfs


class WhisperASR(Extractor):
    """Shared part of the Whisper backends: silence gate, sentence building, the record."""

    input = "audio"

    def __init__(self, silence_dbfs: float = -60.0, **config: Any):
        super().__init__(silence_dbfs=silence_dbfs, **config)

    def begin(self, item, info):
        return {}

    def update(self, state, audio: np.ndarray) -> None:
        if is_silent(audio, self.config["silence_dbfs"]):
            state["transcript"] = empty_transcript(self.config.get("language"))
        else:
            state["transcript"] = self.transcribe(audio)
        state["duration"] = len(audio) / SAMPLE_RATE

    def transcribe(self, audio: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    def finish(self, state):
        transcript = state.get("transcript") or empty_transcript(self.config.get("language"))
        return self.record(None, transcript["start"], None, segments=transcript,
                           meta={"duration": state.get("duration"), "sentences": len(transcript["text"])})

    def absent_record(self, item, info, reason: str):
        """A video without an audio stream has no speech: an empty transcript, stored like any other."""
        transcript = empty_transcript(self.config.get("language"))
        return self.record(None, transcript["start"], None, segments=transcript,
                           meta={"duration": info.duration if info else None, "sentences": 0, "absent": reason})


class FasterWhisperASR(WhisperASR):
    """faster-whisper (CTranslate2); `batched` runs the VAD-cut chunks in batches (BatchedInferencePipeline)."""

    def __init__(self, model: str = "large-v3", language: str | None = None, word_timestamps: bool = True,
                 vad_filter: bool = True, batched: bool = True, beam_size: int = 5, batch_size: int = 16,
                 compute_type: str = "default", cpu_threads: int = 0, silence_dbfs: float = -60.0):
        super().__init__(silence_dbfs=silence_dbfs, model=model, language=language, word_timestamps=word_timestamps,
                         vad_filter=vad_filter, batched=batched, beam_size=beam_size)
        self.batch_size, self.compute_type, self.cpu_threads = batch_size, compute_type, cpu_threads
        self.whisper = None

    def load(self, device):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        super().load(device)
        if self.whisper is None:
            kind = "cuda" if device.type == "cuda" else "cpu"
            compute = self.compute_type if self.compute_type != "default" else ("float16" if kind == "cuda" else "int8")
            model = WhisperModel(self.config["model"], device=kind, device_index=device.index or 0,
                                 compute_type=compute, cpu_threads=self.cpu_threads)
            self.whisper = BatchedInferencePipeline(model) if self.config["batched"] else model

    def transcribe(self, audio: np.ndarray) -> dict[str, Any]:
        c = self.config
        kwargs = dict(language=c["language"], beam_size=c["beam_size"], word_timestamps=c["word_timestamps"],
                      vad_filter=c["vad_filter"])
        if c["batched"]:
            kwargs["batch_size"] = self.batch_size
        segments, info = self.whisper.transcribe(audio, **kwargs)
        segments = list(segments)
        language = c["language"] or info.language
        if c["word_timestamps"]:
            words = [{"word": w.word, "start": w.start, "end": w.end, "probability": w.probability}
                     for s in segments for w in (s.words or [])]
            return transcript_from_words(words, language)
        return transcript_from_segments([{"text": s.text, "start": s.start, "end": s.end} for s in segments], language)


class OpenAIWhisperASR(WhisperASR):
    """openai-whisper (`whisper.load_model` takes a name or a local .pt checkpoint); `options` go to `transcribe`
    (temperature, beam_size, condition_on_previous_text, ...)."""

    def __init__(self, model: str = "large-v3", language: str | None = None, word_timestamps: bool = True,
                 silence_dbfs: float = -60.0, options: dict[str, Any] | None = None):
        super().__init__(silence_dbfs=silence_dbfs, model=model, language=language, word_timestamps=word_timestamps,
                         options=dict(options or {}))
        self.whisper = None

    def load(self, device):
        import whisper

        super().load(device)
        if self.whisper is None:
            self.whisper = whisper.load_model(self.config["model"], device=device)
        else:
            self.whisper.to(device)

    def transcribe(self, audio: np.ndarray) -> dict[str, Any]:
        c = self.config
        result = self.whisper.transcribe(audio, language=c["language"], word_timestamps=c["word_timestamps"],
                                         fp16=self.device.type == "cuda", verbose=None, **c["options"])
        language = c["language"] or result.get("language")
        if c["word_timestamps"]:
            words = [w for s in result["segments"] for w in s.get("words", [])]
            return transcript_from_words(words, language)
        return transcript_from_segments(result["segments"], language)


class PrecomputedASR(Extractor):
    """Import transcripts made elsewhere: one JSON `{video_id: {text, start, end}}` or a folder of `<id>.json`.

    Needs no media at all. A video missing from the source is a failure, not an empty transcript.
    """

    input = None

    def __init__(self, source: str, language: str | None = None):
        super().__init__(model=f"precomputed:{Path(source).name}", source=str(source), language=language)
        self._table: dict[str, Any] | None = None

    def _lookup(self, video_id: str) -> dict[str, Any]:
        source = Path(self.config["source"])
        if source.is_dir():
            path = source / f"{id_to_filename(video_id)}.json"
            if not path.exists():
                raise BadInputError(f"no precomputed transcript for {video_id!r}", path)
            return read_json(path)
        if self._table is None:
            self._table = read_json(source)
        if video_id not in self._table:
            raise BadInputError(f"no precomputed transcript for {video_id!r}", source)
        return self._table[video_id]

    def begin(self, item, info):
        return {"video_id": item.video_id}

    def finish(self, state):
        entry = self._lookup(state["video_id"])
        try:
            text, start, end = list(entry["text"]), [float(x) for x in entry["start"]], [float(x) for x in entry["end"]]
        except (KeyError, TypeError, ValueError) as e:
            raise BadInputError(f"precomputed transcript of {state['video_id']!r} needs text/start/end lists ({e})",
                                self.config["source"]) from None
        if not len(text) == len(start) == len(end):
            raise BadInputError(f"precomputed transcript of {state['video_id']!r} has lists of different lengths",
                                self.config["source"])
        transcript = empty_transcript(entry.get("language", self.config["language"]))
        transcript.update(text=text, start=start, end=end, words=entry.get("words") or [[] for _ in text])
        return self.record(None, start, None, segments=json.loads(json.dumps(transcript)))
