"""Raw video in, chapters out: `ChapterPredictor.from_checkpoint(ckpt).predict_video("talk.mp4")`.

The video goes through `videolang.extract`'s own `Encoder` (the code path of
`stage=extract`), rebuilt from the extractor descriptions stored in the
checkpoint, so a raw video is featurised exactly as the training videos were.
Videos without speech get an empty transcript; videos longer than the model's
frame budget are uniformly subsampled like in training.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videolang.core.errors import BadInputError, ConfigError
from videolang.datamodule.sources import VideoFeatures, segments_from_transcript
from videolang.datamodule.vid2seq import Vid2SeqCollator, build_item
from videolang.model.module import Vid2SeqModule
from videolang.model.sequences import Segment

log = logging.getLogger(__name__)


@dataclass
class ChapterPrediction:
    video: str
    duration: float
    events: list[tuple[float, float, str]]          # as generated (parsed, malformed dropped)
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def chapters(self) -> list[dict[str, Any]]:
        """Events as YouTube-style chapters: sorted, contiguous, the first at 0, the last to the end."""
        return events_to_chapters(self.events, self.duration)

    def to_json(self) -> dict[str, Any]:
        return {"video": self.video, "duration": self.duration, "chapters": self.chapters,
                "events": [{"start": s, "end": e, "title": t} for s, e, t in self.events],
                "dropped": dict(self.dropped), "notes": list(self.notes)}


def events_to_chapters(events: list[tuple[float, float, str]], duration: float) -> list[dict[str, Any]]:
    """Sorted by start, one chapter per distinct start second, each ending where the next begins."""
    chosen: list[tuple[float, str]] = []
    for s, _, t in sorted(events, key=lambda x: (x[0], x[1])):
        if chosen and int(s) <= int(chosen[-1][0]):
            continue  # YouTube cannot show two chapters starting in the same second
        chosen.append((max(0.0, float(s)), t))
    if chosen:
        chosen[0] = (0.0, chosen[0][1])
    ends = [s for s, _ in chosen[1:]] + [float(duration)]
    return [{"start": round(s, 3), "end": round(e, 3), "title": t} for (s, t), e in zip(chosen, ends)]


class ChapterPredictor:
    """A trained Vid2Seq checkpoint plus the feature extractors it was trained on."""

    def __init__(self, module: Vid2SeqModule, encoder: Any | None = None, device: str = "auto"):
        self.module = module.eval()
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if device == "auto" else device))
        self.module.to(self.device)
        self.encoder = encoder

    @classmethod
    def from_checkpoint(cls, ckpt: str | Path, extractor_cfg: Any | None = None, device: str = "auto",
                        **overrides: Any) -> "ChapterPredictor":
        """`extractor_cfg=None`: the extractors described in the checkpoint; else an `extractor` config group."""
        module = Vid2SeqModule.from_checkpoint(ckpt, **overrides)
        if module.mode != "events":
            raise ConfigError(f"{ckpt} is a chapter-title model (task {module.hparams.task}): it needs chapter "
                              "boundaries; predict on a raw video needs a chapter_generation or "
                              "dense_captioning checkpoint")
        return cls(module, build_encoder(module, extractor_cfg), device)

    # ---------------------------------------------------------- features
    def encode_video(self, path: str | Path) -> tuple[VideoFeatures, list[str]]:
        """Frames and transcript of one raw video through `videolang.extract`, plus notes on what was missing."""
        from videolang.extract.media import probe

        path = Path(path)
        if not path.is_file():
            raise BadInputError("video file not found", path)
        info = probe(str(path))
        result = self.encoder.try_encode(path)
        notes = []
        visual = result.records.get("visual")
        if visual is None or visual.array is None or len(visual.array) == 0:
            reason = result.failures.get("visual", "no frames decoded")
            raise BadInputError(f"cannot read frames: {reason}", path)
        speech: list[Segment] = []
        if self.module.net.use_speech:
            rec = result.records.get("speech")
            if rec is None:
                notes.append(f"no transcript ({result.failures.get('speech', 'speech not extracted')}): "
                             "predicting from the frames alone")
            else:
                speech = segments_from_transcript(rec.segments)
                if not speech:
                    notes.append("no speech in this video: empty transcript")
        ts = np.asarray(visual.timestamps, dtype=np.float64)
        duration = info.video_duration or info.duration or (float(ts[-1]) + 1.0 if len(ts) else 0.0)
        if len(ts) > self.module.hparams.max_frames:
            notes.append(f"{len(ts)} frames > the model's {self.module.hparams.max_frames}: uniformly subsampled")
        return VideoFeatures(np.asarray(visual.array, dtype=np.float32), ts, speech, float(duration)), notes

    # ---------------------------------------------------------- the model
    @torch.no_grad()
    def predict_features(self, feats: VideoFeatures, video: str = "video", **generation: Any) -> ChapterPrediction:
        m = self.module
        if feats.frames.shape[1] != m.hparams.visual_dim:
            raise BadInputError(f"features have width {feats.frames.shape[1]}, the model expects "
                                f"{m.hparams.visual_dim}: extracted with a different visual model?", video)
        duration = float(feats.duration or (feats.timestamps[-1] + 1.0))
        item = build_item(video, video, feats, duration, [], m.builder, "events", m.hparams.max_frames,
                          m.net.use_speech)
        batch = Vid2SeqCollator(m.builder.pad_id, m.hparams.visual_dim)([item])
        batch = {k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        out = m.decode_batch(batch, **generation)[0]
        return ChapterPrediction(video, duration, out["events"], out.get("dropped", {}))

    def predict_video(self, path: str | Path, **generation: Any) -> ChapterPrediction:
        feats, notes = self.encode_video(path)
        pred = self.predict_features(feats, str(path), **generation)
        pred.notes = notes + pred.notes
        if not pred.events:
            pred.notes.append("the model generated no well-formed event")
        return pred


def build_encoder(module: Vid2SeqModule, extractor_cfg: Any | None = None):
    """The `videolang.extract.Encoder` for the keys the model reads (visual, and speech unless ablated).

    Without `extractor_cfg`, each extractor is rebuilt from the description the training
    features' store recorded (class, options, frame sampling) and its fingerprint is checked
    against the recorded one; with it, the given config is used and a fingerprint mismatch is
    reported (features from another model would not match what the model learnt).
    """
    import hydra.utils
    from omegaconf import DictConfig, OmegaConf

    from videolang.extract.encoder import Encoder

    keys = ["visual"] + (["speech"] if module.net.use_speech else [])
    info = module.feature_info or {}
    if extractor_cfg is not None:
        cfg = OmegaConf.to_container(extractor_cfg, resolve=True) if isinstance(extractor_cfg, DictConfig) \
            else dict(extractor_cfg)
        built = {k: hydra.utils.instantiate(v) for k, v in (cfg.get("extractors") or {}).items() if v and k in keys}
        encoder = Encoder(built, decode=cfg.get("decode"), audio=cfg.get("audio"))
        for key, fp in encoder.fingerprints.items():
            trained = (info.get(key) or {}).get("fingerprint")
            if trained and trained != fp:
                log.warning("'%s' extractor differs from the one the model was trained on (%s vs %s)",
                            key, fp, trained)
        return encoder
    missing = [k for k in keys if not (info.get(k) or {}).get("class")]
    if "visual" in missing:
        raise ConfigError("the checkpoint does not record how its visual features were extracted: "
                          "pass an extractor config (e.g. extractor=tiny)")
    built, decode = {}, None
    for key in keys:
        if key in missing:
            log.warning("the checkpoint does not record the '%s' extractor: predicting without it", key)
            continue
        desc = info[key]
        built[key] = hydra.utils.instantiate({"_target_": desc["class"], **desc.get("config", {})})
        if desc.get("input") and "backend" in desc["input"]:
            decode = dict(desc["input"])
    encoder = Encoder(built, decode=decode)
    for key, fp in encoder.fingerprints.items():
        if fp != info[key].get("fingerprint"):
            log.warning("rebuilt '%s' extractor has fingerprint %s, the training features %s",
                        key, fp, info[key].get("fingerprint"))
    return encoder
