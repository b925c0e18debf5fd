"""The viewer's models: one predictor per checkpoint, loaded once, and one encoding per video.

Each task (chapters, grounding, videoqa) has an optional checkpoint. The predictors are the public
ones (`ChapterPredictor`, `GroundingPredictor`, `VideoQAPredictor`): no model logic lives in the web
layer. A video is encoded by the predictor's own `encode_video` (the extraction stage's code path, with
the predictor's cache of the last video) and the result is kept here too, per file and extractor
fingerprints, for the last `cache_videos` videos: predictors whose checkpoints were trained on the same
features share one encoding, and going back to a video does not encode it again.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videolang.backbone.sources import VideoFeatures
from videolang.core.errors import BadInputError, VideolangError
from videolang.predict import ChapterPredictor, GroundingPredictor, VideoPredictor, VideoQAPredictor
from videolang.predict.chapters import model_feature_keys
from videolang.predict.formats import webvtt_chapters
from videolang.serve.jobs import Progress
from videolang.serve.library import VideoEntry

log = logging.getLogger(__name__)

PREDICTORS: dict[str, type[VideoPredictor]] = {
    "chapters": ChapterPredictor, "grounding": GroundingPredictor, "videoqa": VideoQAPredictor}


@dataclass
class ModelSlot:
    """One task's checkpoint: `absent` (none given), `loading`, `ready` or `error` (with the message)."""

    task: str
    ckpt: Path | None
    state: str = "absent"
    message: str = ""
    predictor: VideoPredictor | None = None

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "checkpoint": None if self.ckpt is None else str(self.ckpt),
                "state": self.state, "message": self.message}


class ViewerModels:
    """Predictors by task, the encoding cache, and the three questions the page asks."""

    def __init__(self, checkpoints: dict[str, str | Path | None], device: str = "auto",
                 model_dir: str | Path | None = None, cache_videos: int = 8):
        unknown = set(checkpoints) - set(PREDICTORS)
        if unknown:
            raise ValueError(f"unknown tasks {sorted(unknown)}; known: {sorted(PREDICTORS)}")
        self.slots = {task: ModelSlot(task, Path(str(checkpoints[task])) if checkpoints.get(task) else None)
                      for task in PREDICTORS}
        for slot in self.slots.values():
            if slot.ckpt is not None:
                slot.state = "loading"
        self.device, self.model_dir, self.cache_videos = device, model_dir, max(1, int(cache_videos))
        self._features: OrderedDict[tuple, tuple[VideoFeatures, list[str]]] = OrderedDict()
        self._chapters: dict[tuple, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ loading
    def load(self, progress: Progress) -> dict[str, Any]:
        """Load every given checkpoint once (on the worker thread); a bad one is an error on its slot only."""
        loaded: dict[tuple[str, Path], VideoPredictor] = {}
        for slot in self.slots.values():
            if slot.ckpt is None:
                continue
            progress(f"loading the {slot.task} checkpoint")
            try:
                key = (slot.task, slot.ckpt.resolve())
                if key not in loaded:
                    loaded[key] = PREDICTORS[slot.task].from_checkpoint(slot.ckpt, device=self.device,
                                                                        model_dir=self.model_dir)
                slot.predictor, slot.state, slot.message = loaded[key], "ready", ""
            except (VideolangError, OSError) as e:
                slot.state, slot.message = "error", f"{slot.task} checkpoint not usable: {e}"
                log.warning("%s", slot.message)
        return self.status()

    def status(self) -> dict[str, Any]:
        return {task: slot.to_json() for task, slot in self.slots.items()}

    def predictor(self, task: str) -> VideoPredictor:
        slot = self.slots[task]
        if slot.state == "ready" and slot.predictor is not None:
            return slot.predictor
        if slot.state == "absent":
            raise BadInputError(f"no {task} checkpoint given", hint=f"start the viewer with {task}_ckpt=<file>")
        if slot.state == "loading":
            raise BadInputError(f"the {task} checkpoint is still loading", hint="try again in a moment")
        raise BadInputError(slot.message)

    # ------------------------------------------------------------------ encoding
    def features(self, predictor: VideoPredictor, entry: VideoEntry, progress: Progress
                 ) -> tuple[VideoFeatures, list[str]]:
        """The video's features as this predictor reads them: from the cache, else encoded now."""
        stat = entry.path.stat()
        key = (str(entry.path.resolve()), stat.st_size, stat.st_mtime_ns,
               tuple(sorted(predictor.encoder.fingerprints.items())), tuple(model_feature_keys(predictor.module)),
               int(predictor.module.hparams.max_frames))
        with self._lock:
            if key in self._features:
                self._features.move_to_end(key)
                feats, notes = self._features[key]
                return feats, list(notes)
        progress("encoding the video (frames and speech)")
        feats, notes = predictor.encode_video(entry.path)
        with self._lock:
            self._features[key] = (feats, list(notes))
            while len(self._features) > self.cache_videos:
                self._features.popitem(last=False)
        return feats, notes

    def encoded(self, entry: VideoEntry) -> bool:
        """Whether some predictor's encoding of this file is cached (the page says "encoding" otherwise)."""
        stat = entry.path.stat()
        with self._lock:
            return any(k[:3] == (str(entry.path.resolve()), stat.st_size, stat.st_mtime_ns) for k in self._features)

    # ------------------------------------------------------------------ the three questions
    @staticmethod
    def _chapter_key(entry: VideoEntry) -> tuple:
        stat = entry.path.stat()
        return entry.id, stat.st_size, stat.st_mtime_ns

    def cached_chapters(self, entry: VideoEntry) -> dict[str, Any] | None:
        with self._lock:
            return self._chapters.get(self._chapter_key(entry))

    def chapters(self, entry: VideoEntry, progress: Progress) -> dict[str, Any]:
        """Predicted chapters (cached per file), the WebVTT track, and the ASR transcript (the page shows it
        when the dataset has none)."""
        predictor = self.predictor("chapters")
        key = self._chapter_key(entry)
        with self._lock:
            if key in self._chapters:
                return self._chapters[key]
        feats, notes = self.features(predictor, entry, progress)
        progress("generating chapters")
        pred = predictor.predict_features(feats, str(entry.path))
        pred.notes = notes + pred.notes + ([] if pred.events else ["the model generated no well-formed event"])
        out = {"video": entry.id, "duration": pred.duration, "chapters": pred.chapters, "notes": pred.notes,
               "vtt": webvtt_chapters(pred.chapters),
               "transcript": [{"start": s.start, "end": s.end, "text": s.text} for s in feats.speech]}
        with self._lock:
            self._chapters[key] = out
        return out

    def ground(self, entry: VideoEntry, query: str, progress: Progress) -> dict[str, Any]:
        """Ranked windows (best first) and, when the model gives one, the saliency curve for one query."""
        predictor = self.predictor("grounding")
        feats, notes = self.features(predictor, entry, progress)
        progress("searching the video")
        pred = predictor.predict_features(feats, [query], str(entry.path))
        q = pred.queries[0]
        return {"video": entry.id, "query": q["query"], "duration": pred.duration,
                "windows": [[float(s), float(e), float(p)] for s, e, p in q["windows"]],
                "saliency": q.get("saliency"), "notes": notes}

    def ask(self, entry: VideoEntry, question: str, answers: list[str], ts: str | None,
            progress: Progress) -> dict[str, Any]:
        """Every answer's probability (summing to 1), the chosen one, and the span the question is about."""
        predictor = self.predictor("videoqa")
        feats, notes = self.features(predictor, entry, progress)
        progress("scoring the answers")
        asked = {"question": question, "answers": answers, **({"ts": ts} if ts else {})}
        pred = predictor.predict_features(feats, [asked], video=str(entry.path))
        q = pred.questions[0]
        return {"video": entry.id, "question": q["question"], "answers": q["answers"],
                "probabilities": [float(p) for p in q["probabilities"]], "pred": int(q["pred"]),
                "ts": q["ts"], "notes": notes}
