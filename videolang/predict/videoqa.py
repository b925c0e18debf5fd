"""Raw video + multiple-choice questions in, each answer's probability out (TVQA-style VideoQA).

    predictor = VideoQAPredictor.from_checkpoint("best.ckpt")
    result = predictor.predict_video("clip.mp4", "Which object can be seen?", ["a knife", "a bowl", "a pot"])
    result.questions[0]["probabilities"]      # one per answer, summing to 1; "pred" is the chosen index

Several questions about one video are answered in one batch from one encoding of the video
(`predict_video(path, [{"question": ..., "answers": [...], "ts": "10-25"}, ...])`), and the
encoding is cached, so asking again about the same file does not featurise it again. The
text the model reads is a `.srt` file when given (`subtitles=`), else the ASR transcript of
the video (the task's `text` option decides, as in training).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from videolang.backbone.sequences import Segment
from videolang.backbone.sources import VideoFeatures
from videolang.builder.srt import read_srt
from videolang.core.errors import BadInputError
from videolang.core.timefmt import format_timestamp
from videolang.predict.chapters import VideoPredictor
from videolang.predict.folders import video_name


@dataclass
class VideoQAPrediction:
    video: str
    duration: float
    questions: list[dict[str, Any]]   # {"qid", "question", "answers", "probabilities", "pred", "pred_answer", "ts"}
    notes: list[str] = field(default_factory=list)

    def prediction_rows(self, vid: str | None = None) -> list[dict[str, Any]]:
        """`{qid, vid, question, pred, pred_answer, probabilities}` rows: what `stage=evaluate task=videoqa` reads."""
        vid = vid or video_name(self.video)
        return [{"qid": q["qid"], "vid": vid, "question": q["question"], "pred": q["pred"],
                 "pred_answer": q["pred_answer"], "probabilities": [round(p, 6) for p in q["probabilities"]]}
                for q in self.questions]

    def lines(self) -> str:
        """Per question, every answer with its probability; `*` marks the chosen one."""
        out = []
        for q in self.questions:
            span = f"  [{format_timestamp(q['ts'][0])}-{format_timestamp(q['ts'][1])}]" if q.get("ts") else ""
            out.append(f"Q: {q['question']}{span}")
            for i, (answer, p) in enumerate(zip(q["answers"], q["probabilities"])):
                out.append(f"  {'*' if i == q['pred'] else ' '} {p:6.1%}  {answer}")
        return "\n".join(out)


def read_subtitle_file(path: str | Path) -> list[Segment]:
    """A .srt file -> its cues; a missing file, or a non-empty one without a single cue, is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError("subtitle file not found", path)
    cues = read_srt(path)
    if not cues and path.stat().st_size and path.read_bytes().strip():
        raise BadInputError("no subtitle cue could be read (expected SubRip: index, "
                            "`00:00:01,000 --> 00:00:02,500`, text)", path)
    return [Segment(float(c["start"]), float(c["end"]), str(c["text"])) for c in cues]


def normalise_questions(questions: Any, answers: Any = None) -> list[dict[str, Any]]:
    """`("q", ["a", "b"])`, `(["q1", "q2"], [["a", "b"], ["c", "d"]])` or `[{"question", "answers", "ts", "qid"}]`
    -> a list of question dicts."""
    if isinstance(questions, str):
        return [{"question": questions, "answers": answers}]
    if isinstance(questions, Mapping):
        return [dict(questions)]
    questions = list(questions or [])
    if questions and all(isinstance(q, Mapping) for q in questions):
        return [dict(q) for q in questions]
    if answers is None or len(list(answers)) != len(questions):
        raise BadInputError(f"{len(questions)} questions need as many answer lists, got {answers!r}")
    return [{"question": q, "answers": a} for q, a in zip(questions, answers)]


class VideoQAPredictor(VideoPredictor):
    produces = "answer"
    what = "answers to multiple-choice questions"

    @torch.no_grad()
    def predict_features(self, feats: VideoFeatures, questions: Any, answers: Any = None, video: str = "video",
                         subtitles: Sequence[Segment] | None = None) -> VideoQAPrediction:
        asked = normalise_questions(questions, answers)
        if not asked:
            raise BadInputError("no question given", video)
        feats = self.check_features(feats, video)
        duration = float(feats.duration or (feats.timestamps[-1] + 1.0))
        builder = self.module.builders[self.task.name]
        entries, seen = [], set()
        for n, q in enumerate(asked):
            qid = str(q.get("qid", n))
            if qid in seen:
                raise BadInputError(f"question id {qid!r} twice", video)
            seen.add(qid)
            q_answers = q.get("answers", q.get("a"))
            if isinstance(q_answers, str):
                raise BadInputError(f"answers of question {qid!r} must be a list, got the string {q_answers!r}", video)
            try:
                entries.append(self.task.question_entry(qid, q.get("question", q.get("q")), q_answers,
                                                        video_name(video), duration, q.get("ts"),
                                                        subtitles=subtitles, builder=builder))
            except BadInputError as e:
                raise BadInputError(e.problem, video) from None
        outputs = self.decode_entries(entries, feats)
        found = []
        for entry, o in zip(entries, outputs):
            found.append({"qid": entry.key, "question": entry.query, "answers": list(entry.answers),
                          "probabilities": o["probabilities"], "pred": o["prediction"],
                          "pred_answer": entry.answers[o["prediction"]],
                          "ts": list(self.task.context_span(entry, duration)) if entry.windows else None})
        return VideoQAPrediction(video, duration, found)

    def predict_video(self, path: str | Path, questions: Any, answers: Any = None,
                      subtitles: str | Path | None = None, frames_fps: float | None = None) -> VideoQAPrediction:
        """Answer one or several questions about a raw video (encoded once, and cached for the next call): a media
        file or a frame folder (read at `frames_fps`: see `encode_video`)."""
        cues = read_subtitle_file(subtitles) if subtitles is not None else None
        feats, notes = self.encode_video(path, frames_fps)
        pred = self.predict_features(feats, questions, answers, str(path), cues)
        pred.notes = notes + ([f"text: {len(cues)} subtitle cues from {subtitles}"] if cues is not None else [])
        return pred
