"""What `stage=predict` does for each kind of head, chosen by the task config (`task.predict`).

A runner takes the composed config, the raw video and the checkpoint, predicts, writes its
files into `stage.out_dir`, prints a human summary and returns the stage summary. Adding a
task's predict is one runner class plus a `predict:` block in its task config.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.frame_names import FPS_OPTION, check_fps
from videolang.core.io import atomic_write_json, atomic_write_jsonl, read_json
from videolang.core.timefmt import format_timestamp
from videolang.predict.chapters import ChapterPredictor
from videolang.predict.folders import video_name
from videolang.predict.formats import write_chapter_files
from videolang.predict.grounding import GroundingPredictor
from videolang.predict.videoqa import VideoQAPredictor
from videolang.tasks.videoqa import parse_span

log = logging.getLogger(__name__)


def model_dir_of(cfg: DictConfig) -> str | None:
    """`paths.model_dir`: where the models a checkpoint names relative to it are (docs/model.md)."""
    value = OmegaConf.select(cfg, "paths.model_dir", default=None)
    return None if value is None else str(value)


def frames_fps_of(cfg: DictConfig) -> float | None:
    """`frames_fps` (default `extractor.frames.fps`): the rate of a frame folder given as the video, or None
    (then the rate the checkpoint's training extraction recorded: `videolang.predict.folders`)."""
    return check_fps(OmegaConf.select(cfg, FPS_OPTION, default=None))


def generation_overrides(cfg: DictConfig) -> dict[str, Any]:
    opts = cfg.stage
    generation = OmegaConf.to_container(opts.generation, resolve=True) if opts.get("generation") else {}
    return {k: v for k, v in generation.items() if v is not None}


def reference_chapters(source: str | Path, video: Path) -> list[dict[str, Any]] | None:
    """True chapters of `video` from a sample manifest.json or a DVC task file, when it lists the video."""
    data = read_json(source)
    vid = video_name(video)
    if isinstance(data, dict) and isinstance(data.get("videos"), (dict, list)):  # sample corpus manifest
        videos = data["videos"]
        entry = videos.get(vid) if isinstance(videos, dict) else next(
            (v for v in videos if v.get("id") == vid or v.get("video_id") == vid), None)
        if entry and entry.get("chapters"):
            return [{"start": c["start"], "end": c["end"], "title": c["title"]} for c in entry["chapters"]]
    if isinstance(data, dict) and isinstance(data.get(vid), dict) and "timestamps" in data[vid]:
        return [{"start": s, "end": e, "title": t} for (s, e), t in zip(data[vid]["timestamps"], data[vid]["sentences"])]
    return None


def side_by_side(predicted: list[dict], reference: list[dict] | None) -> str:
    rows = ["predicted chapters" + (" | true chapters" if reference is not None else "")]
    n = max(len(predicted), len(reference or []))
    for i in range(n):
        p = predicted[i] if i < len(predicted) else None
        left = f"{format_timestamp(p['start'])} {p['title']}" if p else ""
        if reference is None:
            rows.append(f"  {left}")
        else:
            r = reference[i] if i < len(reference) else None
            right = f"{format_timestamp(r['start'])} {r['title']}" if r else ""
            rows.append(f"  {left:<40} | {right}")
    return "\n".join(rows)


class ChapterRun:
    """Chapters for the video: JSON, YouTube lines, WebVTT; printed next to the true ones when given."""

    def __call__(self, cfg: DictConfig, video: Path, ckpt: Path, extractor_cfg: Any) -> dict[str, Any]:
        opts = cfg.stage
        predictor = ChapterPredictor.from_checkpoint(ckpt, extractor_cfg=extractor_cfg, device=str(opts.device),
                                                        model_dir=model_dir_of(cfg), frames_fps=frames_fps_of(cfg))
        prediction = predictor.predict_video(video, **generation_overrides(cfg))
        files = write_chapter_files(prediction, opts.out_dir, video_name(video))
        for note in prediction.notes:
            log.info("predict: %s", note)
        reference = reference_chapters(opts.references, video) if opts.get("references") else None
        print(side_by_side(prediction.chapters, reference), file=sys.stdout)
        return {"duration": prediction.duration, "chapters": prediction.chapters,
                "dropped_events": dict(prediction.dropped), "notes": prediction.notes, "files": files,
                **({"reference": reference} if reference is not None else {})}


class GroundingRun:
    """Ranked windows for each `query`: printed as `M:SS-M:SS score` lines (and the most salient clips when the
    model scores clips), written as Moment-DETR JSONL (`pred_saliency_scores` too, when present)."""

    def __init__(self, top: int = 5):
        self.top = int(top)

    def __call__(self, cfg: DictConfig, video: Path, ckpt: Path, extractor_cfg: Any) -> dict[str, Any]:
        query = cfg.get("query")
        if query is None or (isinstance(query, (list, ListConfig)) and not len(query)):
            raise ConfigError("task=grounding needs query=\"...\" (or 'query=[\"first\", \"second\"]')")
        queries = [str(q) for q in query] if isinstance(query, (list, ListConfig)) else [str(query)]
        for k, q in enumerate(queries):  # before seconds of model loading
            if not q.strip() or q == "None":
                raise ConfigError(f"query: query {k + 1} of {len(queries)} is empty")
        opts = cfg.stage
        predictor = GroundingPredictor.from_checkpoint(ckpt, extractor_cfg=extractor_cfg, device=str(opts.device),
                                                          model_dir=model_dir_of(cfg), frames_fps=frames_fps_of(cfg))
        prediction = predictor.predict_video(video, queries, **generation_overrides(cfg))
        for note in prediction.notes:
            log.info("predict: %s", note)
        out_dir = Path(opts.out_dir)
        rows = prediction.moment_detr_rows()
        files = {"moment_detr": str(atomic_write_jsonl(out_dir / f"{video_name(video)}.grounding.jsonl", rows)),
                 "json": str(atomic_write_json(out_dir / f"{video_name(video)}.grounding.json",
                                               {"video": str(video), "duration": prediction.duration,
                                                "queries": prediction.queries, "clip_length": prediction.clip_length,
                                                "notes": prediction.notes}))}
        print(prediction.lines(self.top), file=sys.stdout)
        return {"duration": prediction.duration, "queries": prediction.queries, "notes": prediction.notes,
                "files": files}


def check_questions(asked: list[dict[str, Any]], ts: str | None) -> None:
    """The command line's question / answers / ts values: a bad one is a usage error naming the key."""
    for k, q in enumerate(asked):
        which = f"question {k + 1} of {len(asked)}" if len(asked) > 1 else "the question"
        if not str(q["question"]).strip() or q["question"] == "None":
            raise ConfigError(f"question: {which} is empty")
        answers = q["answers"]
        if not isinstance(answers, list) or len(answers) < 2:
            raise ConfigError(f"answers: {which} has fewer than two answers ({answers!r}); "
                              "give at least two: 'answers=[\"a\", \"b\"]'")
        if any(a is None or not str(a).strip() for a in answers):
            raise ConfigError(f"answers: {which} has an empty answer ({answers!r})")
        seen: set[str] = set()
        for a in answers:  # two equal candidates split one probability between them: no answer can win
            if str(a).strip() in seen:
                raise ConfigError(f"answers: {which} lists the answer {str(a).strip()!r} twice ({answers!r}); "
                                  "give each candidate once")
            seen.add(str(a).strip())
    if ts is not None and parse_span(ts) is None:
        raise ConfigError(f"ts={ts!r} is not a part of the video: expected ts=<start>-<end> in seconds, "
                          "0 <= start < end (e.g. ts=10-25)")


class VideoQARun:
    """Each answer of `question` with its probability, the chosen one marked; JSON and evaluate-ready JSONL."""

    def __call__(self, cfg: DictConfig, video: Path, ckpt: Path, extractor_cfg: Any) -> dict[str, Any]:
        question, answers = cfg.get("question"), cfg.get("answers")
        if question is None or answers is None:
            raise ConfigError("task=videoqa needs question=\"...\" and 'answers=[\"first\", \"second\", ...]' "
                              "(several questions: 'question=[\"q1\", \"q2\"]' 'answers=[[...], [...]]')")
        question = OmegaConf.to_container(question) if isinstance(question, ListConfig) else str(question)
        answers = OmegaConf.to_container(answers) if isinstance(answers, ListConfig) else answers
        if not isinstance(answers, list):
            what = f"the string {answers!r}" if isinstance(answers, str) else repr(answers)
            raise ConfigError(f"answers must be a list ('answers=[\"a\", \"b\"]'), got {what}")
        if isinstance(question, list):
            asked = [{"question": str(q), "answers": a} for q, a in zip(question, answers)] \
                if len(question) == len(answers) and all(isinstance(a, list) for a in answers) else None
            if asked is None:
                raise ConfigError(f"{len(question)} questions need as many answer lists ('answers=[[...], [...]]')")
        else:
            asked = [{"question": question, "answers": [str(a) for a in answers]}]
        ts = None if cfg.get("ts") is None else str(cfg.ts)
        check_questions(asked, ts)  # before seconds of model loading
        if ts is not None:
            for q in asked:
                q["ts"] = ts
        subtitles = cfg.get("subtitles")
        if subtitles and not Path(str(subtitles)).is_file():
            raise BadInputError("subtitle file not found" if not Path(str(subtitles)).exists()
                                else "subtitle file is not a file", str(subtitles))
        opts = cfg.stage
        predictor = VideoQAPredictor.from_checkpoint(ckpt, extractor_cfg=extractor_cfg, device=str(opts.device),
                                                        model_dir=model_dir_of(cfg), frames_fps=frames_fps_of(cfg))
        if ts is not None:  # the part asked about must be inside the video: a setting to fix, not the file
            feats, _ = predictor.encode_video(video)  # cached: predict_video does not encode it again
            duration = float(feats.duration or (feats.timestamps[-1] + 1.0))
            start = float(ts.split("-", 1)[0])
            if start >= duration:
                raise ConfigError(f"ts={ts} starts at or after the end of the video ({duration:g} s): {video}")
        prediction = predictor.predict_video(video, asked, subtitles=str(subtitles) if subtitles else None)
        for note in prediction.notes:
            log.info("predict: %s", note)
        out_dir = Path(opts.out_dir)
        files = {"predictions": str(atomic_write_jsonl(out_dir / f"{video_name(video)}.videoqa.jsonl",
                                                       prediction.prediction_rows())),
                 "json": str(atomic_write_json(out_dir / f"{video_name(video)}.videoqa.json",
                                               {"video": str(video), "duration": prediction.duration,
                                                "questions": prediction.questions, "notes": prediction.notes}))}
        print(prediction.lines(), file=sys.stdout)
        return {"duration": prediction.duration, "questions": prediction.questions, "notes": prediction.notes,
                "files": files}
