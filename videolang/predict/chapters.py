"""Raw video in, chapters out: `ChapterPredictor.from_checkpoint(ckpt).predict_video("talk.mp4")`.

The video goes through `videolang.extract`'s own `Encoder` (the code path of
`stage=extract`), rebuilt from the extractor descriptions stored in the
checkpoint, so a raw video is featurised exactly as the training videos were.
Videos without speech get an empty transcript; videos longer than the model's
frame budget are uniformly subsampled like in training. A model that reads the
common-sense stream gets its extractor (and the keys it requires) in the encoder,
and its rows go through the data module's own item and collate code (same fusion).
The extractors' models are found under `model_dir` (`paths.model_dir`) when the checkpoint
names them relative to it (`model_dir:tiny-clip`) or by an absolute path that has moved.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videolang.backbone.sequences import Segment
from videolang.backbone.sources import VideoFeatures, segments_from_transcript
from videolang.backbone.streams import RowStream
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.frame_names import check_fps
from videolang.core.model_paths import as_saved, resolve_tree
from videolang.datamodule.vid2seq import collator_for
from videolang.extract.encoder import Encoder
from videolang.media.frames import probe_frames
from videolang.media.probe import probe
from videolang.model.base import TaskModule
from videolang.model.loading import load_module
from videolang.predict.folders import folder_stamp, frame_settings, recorded_frames, require_fps
from videolang.store.record import fingerprint_of

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


class VideoPredictor:
    """A trained checkpoint (Vid2Seq, or Moment-DETR for grounding) plus the feature extractors it was trained on.

    Subclasses say which kind of output their task head produces (`produces`: "events",
    "windows", ...) and decode with it; featurising a raw video is shared.
    """

    produces = "events"
    what = "chapters"

    def __init__(self, module: TaskModule, encoder: Any | None = None, device: str = "auto"):
        self.module = module.eval()
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if device == "auto" else device))
        self.module.to(self.device)
        self.encoder = encoder
        self._encoded: dict[tuple, tuple[VideoFeatures, list[str]]] = {}
        self.last_video: Path | None = None  # the file of the last `encode_video` (what `predict` asks about)

    @classmethod
    def from_checkpoint(cls, ckpt: str | Path, extractor_cfg: Any | None = None, device: str = "auto",
                        model_dir: str | Path | None = None, frames_fps: float | None = None,
                        **overrides: Any) -> "ChapterPredictor":
        """`extractor_cfg=None`: the extractors described in the checkpoint; else an `extractor` config group.
        `model_dir`: where the models the checkpoint names are looked for first (`stage=predict` passes
        `paths.model_dir`), then the model folder it was saved with; without it, the saved folder while it
        exists, then the project's `models/` (docs/model.md, "Moving a checkpoint").
        `frames_fps`: the rate of frame folders given as the video (else the recorded one: predict.folders)."""
        module = load_module(ckpt, model_dir=model_dir, **overrides)  # Vid2Seq or Moment-DETR, as the file says
        if module.tasks.producing(cls.produces) is None:
            raise ConfigError(f"{ckpt} has no head that predicts {cls.what} (its task: {module.hparams.task}); "
                              f"use a checkpoint trained with a task that does")
        return cls(module, build_encoder(module, extractor_cfg, check_fps(frames_fps)), device)

    @property
    def task(self):
        """The checkpoint's head for this predictor (a multi-task checkpoint has several)."""
        return self.module.tasks.producing(self.produces)

    def check_features(self, feats: VideoFeatures, video: str) -> VideoFeatures:
        """Widths as trained; a missing common-sense stream becomes an all-masked one (as in training)."""
        m = self.module
        if feats.frames.shape[1] != m.hparams.visual_dim:
            raise BadInputError(f"features have width {feats.frames.shape[1]}, the model expects "
                                f"{m.hparams.visual_dim}: extracted with a different visual model?", video)
        fusion, cs_dim = m.commonsense.active_fusion, m.hparams.get("commonsense_dim")
        if fusion and feats.commonsense is not None and feats.commonsense.dim != cs_dim:
            raise BadInputError(f"common-sense features have width {feats.commonsense.dim}, the model expects "
                                f"{cs_dim}: extracted with a different common-sense model?", video)
        if fusion and feats.commonsense is None:
            feats = replace(feats, commonsense=RowStream.empty(int(cs_dim)))
        return feats

    def decode_entries(self, entries: list, feats: VideoFeatures, **generation: Any) -> list[dict[str, Any]]:
        """The head's decoded outputs for entries of one video (one batch: the video is encoded once)."""
        m, task = self.module, self.task
        fusion = m.commonsense.active_fusion
        items = [task.build_item(e, feats, m.builders[task.name], m.hparams.max_frames, m.net.use_speech,
                                 commonsense=fusion) for e in entries]
        batch = collator_for(m.builder.pad_id, m.hparams.visual_dim, m.hparams.get("commonsense_dim"), fusion)(items)
        batch = {k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        return m.decode_batch(batch, **generation)

    # ---------------------------------------------------------- features
    def encode_video(self, path: str | Path, frames_fps: float | None = None) -> tuple[VideoFeatures, list[str]]:
        """Frames and transcript of one raw video through `videolang.extract`, plus notes on what was missing.

        `path`: a media file, or a frame folder read at `frames_fps`, else at the predictor's rate (the one it
        was built with, or the checkpoint's training extraction's: `videolang.predict.folders`)."""
        path = Path(path)
        if path.is_dir():
            fps = require_fps(path, check_fps(frames_fps) if frames_fps is not None else self.encoder.frame_fps)
            info = probe_frames(path, fps, self.encoder.frame_extensions)  # a broken folder: its reason, named
            key: tuple = (str(path.resolve()), fps, folder_stamp(info.frame_files))
        else:
            if not path.is_file():
                raise BadInputError("video file not found", path)
            stat = path.stat()
            key, fps, info = (str(path.resolve()), stat.st_size, stat.st_mtime_ns), None, None
        if key in self._encoded:  # asking again about the same video (several questions / queries): no re-extraction
            feats, notes = self._encoded[key]
            self.last_video = path
            return feats, list(notes)
        info = info or probe(str(path))
        self.encoder.load(self.device)  # the extractors on the model's device (stage.device=cpu on a GPU machine)
        with self.encoder.frame_rate(fps):
            result = self.encoder.try_encode(path)
        # a stream the file lacks ("no audio stream") explains a missing key as well as a failure does
        feats, notes = self.features_from_records(result.records, {**result.absent, **result.failures},
                                                  info.video_duration or info.duration, path)
        self._encoded = {key: (feats, list(notes))}  # the last video only: features of long videos add up
        self.last_video = path
        return feats, notes

    def features_from_records(self, records: dict[str, Any], failures: dict[str, str],
                              duration: float | None = None, path: str | Path = "video"
                              ) -> tuple[VideoFeatures, list[str]]:
        """The encoder's records of one video -> the model's `VideoFeatures`, plus notes on what was missing."""
        notes = []
        visual = records.get("visual")
        if visual is None or visual.array is None or len(visual.array) == 0:
            reason = failures.get("visual", "no frames decoded")
            raise BadInputError(f"cannot read frames: {reason}", path)
        speech: list[Segment] = []
        if self.module.net.use_speech:
            rec = records.get("speech")
            if rec is None:
                notes.append(f"no transcript ({failures.get('speech', 'speech not extracted')}): "
                             "predicting from the frames alone")
            else:
                speech = segments_from_transcript(rec.segments)
                if not speech:
                    notes.append(f"no speech in this video: {failures.get('speech') or 'empty transcript'}")
        commonsense = None
        cs = self.module.commonsense
        if cs.enabled:
            rec = records.get(cs.key)
            try:
                commonsense = RowStream.from_record(rec) if rec is not None else None
            except BadInputError as e:
                failures = {**failures, cs.key: e.problem}
            if commonsense is None:
                notes.append(f"no common-sense features ({failures.get(cs.key, 'not extracted')}): "
                             "every frame's common-sense row is masked")
                commonsense = RowStream.empty(int(self.module.hparams.commonsense_dim))
        ts = np.asarray(visual.timestamps, dtype=np.float64)
        duration = duration or (float(ts[-1]) + 1.0 if len(ts) else 0.0)
        if len(ts) > self.module.hparams.max_frames:
            notes.append(f"{len(ts)} frames > the model's {self.module.hparams.max_frames}: uniformly subsampled")
        return VideoFeatures(np.asarray(visual.array, dtype=np.float32), ts, speech, float(duration),
                             commonsense), notes

class ChapterPredictor(VideoPredictor):
    """Raw video in, chapters (or dense captions) out."""

    produces = "events"
    what = "chapters or dense captions"

    @torch.no_grad()
    def predict_features(self, feats: VideoFeatures, video: str = "video", **generation: Any) -> ChapterPrediction:
        feats = self.check_features(feats, video)
        duration = float(feats.duration or (feats.timestamps[-1] + 1.0))
        out = self.decode_entries([self.task.video_entry(video, duration)], feats, **generation)[0]
        return ChapterPrediction(video, duration, out["events"], out.get("dropped", {}))

    def predict_video(self, path: str | Path, frames_fps: float | None = None, **generation: Any
                      ) -> ChapterPrediction:
        """Chapters of a media file or a frame folder (read at `frames_fps`: see `encode_video`)."""
        feats, notes = self.encode_video(path, frames_fps)
        pred = self.predict_features(feats, str(path), **generation)
        pred.notes = notes + pred.notes
        if not pred.events:
            pred.notes.append("the model generated no well-formed event")
        return pred


def model_feature_keys(module: TaskModule) -> list[str]:
    """The feature keys the model reads: visual, speech unless ablated, the common-sense key when on."""
    keys = ["visual"] + (["speech"] if module.net.use_speech else [])
    return keys + ([module.commonsense.key] if module.commonsense.enabled else [])


def build_encoder(module: TaskModule, extractor_cfg: Any | None = None, frames_fps: float | None = None):
    """The `videolang.extract.Encoder` for the keys the model reads (visual, speech unless ablated, the
    common-sense key when the model reads it) plus every key those extractors `require` (transitively).

    Without `extractor_cfg`, each extractor is rebuilt from the description the training
    features' store recorded (class, options, frame sampling) and its fingerprint is checked
    against the recorded one; with it, the given config is used and a fingerprint mismatch is
    reported (features from another model would not match what the model learnt).
    Frame folders are read at `frames_fps`, else the config's `frames.fps`, else the recorded rate.
    """
    import hydra.utils
    from omegaconf import DictConfig, OmegaConf

    keys = model_feature_keys(module)
    required = set(keys) - {"speech"}   # without these the model cannot predict; speech may be missing
    info = module.feature_info or {}
    if extractor_cfg is not None:
        cfg = OmegaConf.to_container(extractor_cfg, resolve=True) if isinstance(extractor_cfg, DictConfig) \
            else dict(extractor_cfg)
        configured = {k: v for k, v in (cfg.get("extractors") or {}).items() if v}
        built = _build_closure(keys, lambda k: hydra.utils.instantiate(configured[k]) if k in configured else None,
                               lambda k, ext: getattr(ext, "requires", ()) or (), required, "the extractor config")
        encoder = Encoder(built, decode=cfg.get("decode"), audio=cfg.get("audio"),
                          frames=frame_settings(frames_fps, cfg.get("frames"), recorded_frames(info)))
        for key, fp in encoder.fingerprints.items():
            trained = (info.get(key) or {}).get("fingerprint")
            if trained and fp not in (trained, (info.get(key) or {}).get("equivalent_fingerprint")):
                log.warning("'%s' extractor differs from the one the model was trained on (%s vs %s)",
                            key, fp, trained)
        return encoder
    if not (info.get("visual") or {}).get("class"):
        imported = (info.get("visual") or {}).get("imported")
        if imported:  # stage=import_features without stage.equivalent_extractor
            raise ConfigError(f"the model was trained on imported features ({imported.get('format')} from "
                              f"{imported.get('path')}) and no extractor was declared to compute them from a raw "
                              "video: pass stage.extractor=config with an extractor config that does (e.g. "
                              "extractor=default for VidChapters' CLIP ViT-L/14), or re-import the features with "
                              "stage.equivalent_extractor=visual")
        raise ConfigError("the checkpoint does not record how its visual features were extracted: "
                          "pass an extractor config (e.g. extractor=tiny)")

    folders = getattr(module, "model_search", None) or getattr(module, "model_dir", None)  # paths.model_dir first
    source = getattr(module, "checkpoint_file", None) or "the checkpoint"

    def rebuild(key: str):
        desc = info.get(key) or {}
        if not desc.get("class"):
            return None
        # `model_dir:<rel>` and moved absolute model paths -> where they are now (a missing model is an error)
        config = resolve_tree(desc.get("config", {}), folders, what=f"the '{key}' extractor's model", source=source)
        return hydra.utils.instantiate({"_target_": desc["class"], **config})

    built = _build_closure(keys, rebuild, lambda k, ext: (info.get(k) or {}).get("requires") or (), required,
                           "the checkpoint")
    decode = next((dict(info[k]["input"]) for k in built
                   if (info[k].get("input") or {}).get("backend")), None)
    encoder = Encoder(built, decode=decode, frames=frame_settings(frames_fps, None, recorded_frames(info)))
    for key, fp in encoder.fingerprints.items():
        trained = info[key].get("fingerprint")
        if fp in (trained, info[key].get("equivalent_fingerprint")):  # the same, or declared at import
            continue
        if fingerprint_as_saved(encoder, key, info, getattr(module, "saved_model_dir", None)) == trained:
            # the same options; only the models' folder differs from training (moved, or another model_dir)
            log.info("'%s' extractor: its model was found under paths.model_dir=%s (moved since training)",
                     key, getattr(module, "model_dir", None))
            continue
        log.warning("rebuilt '%s' extractor has fingerprint %s, the training features %s", key, fp, trained)
    return encoder


def fingerprint_as_saved(encoder: Any, key: str, info: dict[str, Any], saved_model_dir: str | None) -> str:
    """The fingerprint the rebuilt extractor would have with the model paths it had when the checkpoint was
    written (and its requirements' recorded fingerprints): equal to the recorded one when only the models'
    location differs. A checkpoint whose record has no model-files digest is compared without one."""
    described = dict(encoder.fingerprint_config(encoder.extractors[key]))
    described["config"] = as_saved(described["config"], info[key].get("config", {}), saved_model_dir)
    if "model_files" not in info[key]:  # trained before fingerprints named the model's files (2026-12-07)
        described.pop("model_files", None)
    if "requires" in described:
        described["requires"] = {dep: (info.get(dep) or {}).get("fingerprint") for dep in described["requires"]}
    return fingerprint_of(described)


def _build_closure(keys: list[str], build, requires, required: set[str], where: str) -> dict[str, Any]:
    """Build `keys` and, transitively, the keys each built extractor requires (a requirement is required)."""
    built: dict[str, Any] = {}
    todo = list(keys)
    while todo:
        key = todo.pop(0)
        if key in built:
            continue
        ext = build(key)
        if ext is None:
            if key in required:
                raise ConfigError(f"the model needs the '{key}' features but {where} does not describe how to "
                                  "extract them: pass an extractor config that has it (stage.extractor=config)")
            log.warning("%s does not describe the '%s' extractor: predicting without it", where, key)
            continue
        built[key] = ext
        deps = [str(d) for d in requires(key, ext)]
        required.update(deps)
        todo += deps
    return built
