"""VideoQA (TVQA-style multiple choice): a question, its candidate answers and the video in, one answer out.

- **Input**: the question's tokens (cut to `max_question_tokens`), then the text of the
  context as `<s><e> sentence` pieces on the context's own clock, then `</s>`, through the T5
  encoder; the context's frames (and the common-sense stream when the model reads it)
  through the visual encoder. The context (`context`) is the question's `ts` span (TVQA's
  localised setting; the whole clip when a question has none) or always the whole clip.
  The text (`text`) is the dataset's subtitles (`subtitles.parquet`, from .srt files),
  the ASR transcript of the feature store, `auto` (subtitles when the video has them,
  else ASR) or `none` (the question alone).
- **Scoring**: each candidate answer is teacher-forced through the decoder once, with the
  encoder run once per question; its score is the length-normalised log-likelihood (mean
  token log-probability, `length_normalise`) or the summed one. The answer is the argmax;
  the reported probabilities are the softmax of the scores over the candidates.
- **Training**: cross-entropy over the candidates' scores (the candidates compete, as in
  TVQA's 5-way softmax) plus `lm_weight` x the label-smoothed token loss of the correct
  answer (it keeps the decoder a language model of answers, which the scores rely on).
- **Evaluation**: `videolang.evaluate`'s VideoQA accuracy, overall and per category
  (`category`, else TVQA's `show_name`); **predictions**: JSON Lines
  `{qid, vid, question, pred, pred_answer, probabilities}`, read by `stage=evaluate task=videoqa`.

A question without `answer_idx` (TVQA's test-public) is counted (`questions_without_answer`) and kept
for the test split, where it is predicted and written to the leaderboard's submission file
(`write_submission`: `{qid: answer_idx}`) but not scored; the train and val splits skip it (the data module
records it as a failure: nothing to learn or select on).

Bad inputs of `tasks/videoqa_<split>.jsonl` (a long run goes on): a duplicate qid is an
error naming the file and the qid; a question with fewer than two answers, an
`answer_idx` out of range, or a `ts` span that
starts at or after the video's end is skipped and recorded as a failure naming the file
and the qid; a span past the end is clipped (`ts_clipped`); a malformed span means the
whole clip (`ts_unreadable`). A malformed `subtitles.parquet` is an error naming it.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from videolang.backbone.losses import IGNORE, label_smoothed_ce
from videolang.backbone.sequences import Segment, SequenceBuilder
from videolang.builder.questions import parse_ts
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.io import atomic_write_json, atomic_write_jsonl, read_jsonl
from videolang.evaluate import VideoQAEvaluator
from videolang.tasks.base import DataReport, Entry, Seq2SeqTask, finite_number, frame_item, output_base

log = logging.getLogger(__name__)

CONTEXTS = ("ts", "clip")
TEXTS = ("auto", "subtitles", "asr", "none")
SUBTITLES_TABLE = "subtitles.parquet"


def parse_span(ts: Any) -> tuple[float, float] | None:
    """`"76.01-84.2"` (TVQA) or `[76.01, 84.2]` (the builder's task rows) -> (start, end); None when
    absent, unreadable or empty (the builder's own `parse_ts`, plus end > start)."""
    if isinstance(ts, (list, tuple)):
        ts = "-".join(str(x) for x in ts) if len(ts) == 2 else None
    span = parse_ts(ts) if ts is not None else None
    return (span[0], span[1]) if span and span[1] > span[0] else None


def read_subtitles(path: Path) -> dict[str, list[Segment]]:
    """`subtitles.parquet` (video_id, start, end, text per cue) -> {video id: cues in time order}."""
    import pandas as pd

    try:
        frame = pd.read_parquet(path, columns=["video_id", "start", "end", "text"])
    except Exception as e:  # noqa: BLE001 - pyarrow raises several kinds for a damaged or foreign file
        raise BadInputError(f"cannot read the subtitles table: {str(e).splitlines()[0]}", path) from None
    out: dict[str, list[Segment]] = {}
    for vid, start, end, text in frame.itertuples(index=False):
        if str(text).strip():
            out.setdefault(str(vid), []).append(Segment(float(start), float(max(end, start)), str(text).strip()))
    for cues in out.values():
        cues.sort(key=lambda s: (s.start, s.end))
    return out


def candidate_scores(logits: torch.Tensor, candidates: torch.Tensor, mask: torch.Tensor,
                     normalise: bool = True) -> torch.Tensor:
    """(B*A, L, V) decoder logits of (B, A, L) candidate ids (IGNORE-padded) -> (B, A) scores.

    The score is the candidate's summed token log-probability, divided by its length with
    `normalise`; padded candidates (`mask` 0) get -inf.
    """
    b, a, length = candidates.shape
    labels = candidates.reshape(b * a, length)
    valid = labels != IGNORE
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    total = (logp * valid).sum(-1)
    if normalise:
        total = total / valid.sum(-1).clamp(min=1)
    return total.view(b, a).masked_fill(mask == 0, float("-inf"))


class VideoQATask(Seq2SeqTask):
    """One of several candidate answers, chosen by the decoder's likelihood of each."""

    name = "videoqa"
    produces = "answer"
    file_pattern = "videoqa_{split}.jsonl"
    use_time_tokens = True
    needs_text_encoder = True
    malformed_key = None
    log_keys = ("accuracy",)

    def __init__(self, name: str | None = None, max_input_tokens: int | None = None,
                 max_output_tokens: int | None = None, max_question_tokens: int = 64, max_answer_tokens: int = 32,
                 context: str = "ts", text: str = "auto", length_normalise: bool = True, lm_weight: float = 1.0):
        super().__init__(name, max_input_tokens, max_output_tokens)
        if context not in CONTEXTS:
            raise ConfigError(f"videoqa context must be one of {CONTEXTS}, got {context!r}")
        if text not in TEXTS:
            raise ConfigError(f"videoqa text must be one of {TEXTS}, got {text!r}")
        if int(max_question_tokens) < 1 or int(max_answer_tokens) < 2:
            raise ConfigError("videoqa needs max_question_tokens >= 1 and max_answer_tokens >= 2")
        if float(lm_weight) < 0:
            raise ConfigError(f"videoqa lm_weight must be >= 0, got {lm_weight}")
        self.max_question_tokens, self.max_answer_tokens = int(max_question_tokens), int(max_answer_tokens)
        self.context, self.text = str(context), str(text)
        self.length_normalise, self.lm_weight = bool(length_normalise), float(lm_weight)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "max_question_tokens": self.max_question_tokens,
                "max_answer_tokens": self.max_answer_tokens, "context": self.context, "text": self.text,
                "length_normalise": self.length_normalise, "lm_weight": self.lm_weight}

    def make_builder(self, tokenizer: Any, num_time_tokens: int, max_input_tokens: int,
                     max_output_tokens: int) -> SequenceBuilder:
        return SequenceBuilder(tokenizer, num_time_tokens, self.max_input_tokens or max_input_tokens,
                               self.max_answer_tokens, use_time_tokens=self.use_time_tokens)

    # ------------------------------------------------------------------- data
    def read_file(self, path: Path) -> dict[str, Any]:
        """The questions, plus the dataset's subtitles (`<dataset>/subtitles.parquet`) when it has them."""
        path = Path(path)
        table = path.parent.parent / SUBTITLES_TABLE
        subtitles = read_subtitles(table) if self.text in ("auto", "subtitles") and table.is_file() else {}
        return {"rows": read_jsonl(path), "subtitles": subtitles}

    def read_entries(self, data: Any, where: str, builder: SequenceBuilder, report: DataReport) -> list[Entry]:
        rows, subtitles = (data.get("rows"), data.get("subtitles") or {}) if isinstance(data, dict) else (data, {})
        if not isinstance(rows, list):
            raise BadInputError("expected JSON Lines rows {qid, vid, question, answers, answer_idx, ts}", where)
        entries, seen, missing_text = [], set(), set()
        for n, row in enumerate(rows, start=1):
            if not isinstance(row, dict) or "qid" not in row or "vid" not in row:
                raise BadInputError(f"row {n}: expected {{qid, vid, question, answers, answer_idx, ts}}", where)
            qid, vid = str(row["qid"]), str(row["vid"])
            if qid in seen:
                raise BadInputError(f"duplicate qid {qid!r} (row {n})", where)
            seen.add(qid)
            raw_duration = row.get("duration")
            duration = 0.0 if raw_duration is None else finite_number(raw_duration)
            if duration is None or duration < 0:
                report.fail(f"{where}/{qid}", f"bad duration {raw_duration!r} (a finite number of seconds, or none)")
                continue
            try:
                entry = self.question_entry(qid, row.get("question"), row.get("answers"), vid,
                                            duration, row.get("ts"),
                                            row.get("answer_idx"), row.get("category") or row.get("show_name"),
                                            subtitles.get(vid), builder, report)
            except BadInputError as e:
                report.fail(f"{where}/{qid}", e.problem)
                continue
            if entry.answer_idx is None:  # TVQA's test-public: predicted for the leaderboard, never learned from
                report.count("questions_without_answer")
            if self.text == "subtitles" and vid not in subtitles:
                missing_text.add(vid)
            entries.append(entry)
        if missing_text:
            report.count("videos_without_subtitles", len(missing_text))
        return entries

    def question_entry(self, qid: str, question: Any, answers: Any, video_id: str, duration: float = 0.0,
                       ts: Any = None, answer_idx: Any = None, category: Any = None,
                       subtitles: Sequence[Segment] | None = None, builder: SequenceBuilder | None = None,
                       report: DataReport | None = None) -> Entry:
        """One question as an entry (training rows and predict alike); a bad one raises BadInputError."""
        question = str(question or "").strip()
        if not question:
            raise BadInputError(f"empty question (qid {qid!r})")
        if not isinstance(answers, (list, tuple)) or len(answers) < 2:
            raise BadInputError(f"fewer than two answers (qid {qid!r}: {answers!r})")
        answers = tuple(str(a).strip() for a in answers)
        if not all(answers):
            raise BadInputError(f"an empty answer (qid {qid!r})")
        if answer_idx is not None:
            if isinstance(answer_idx, bool) or not str(answer_idx).lstrip("-").isdigit():
                raise BadInputError(f"answer_idx {answer_idx!r} is not an integer (qid {qid!r})")
            answer_idx = int(answer_idx)
            if not 0 <= answer_idx < len(answers):
                raise BadInputError(f"answer_idx {answer_idx} out of range 0..{len(answers) - 1} (qid {qid!r})")
        span = parse_span(ts)
        if ts is not None and span is None and report is not None:
            report.count("ts_unreadable")
        if span is not None and duration > 0:
            if span[0] >= duration:
                raise BadInputError(f"ts {ts!r} starts at or after the end of the video ({duration:g} s) "
                                    f"(qid {qid!r})")
            if span[1] > duration:
                span = (span[0], float(duration))
                if report is not None:
                    report.count("ts_clipped")
        ids = builder.text_ids(question)[:self.max_question_tokens] if builder is not None else []
        return Entry(str(qid), str(video_id), float(duration), query=question, query_ids=tuple(ids),
                     windows=(span,) if span else (), answers=answers, answer_idx=answer_idx,
                     category=str(category) if category is not None else "",
                     subtitles=tuple(subtitles) if subtitles is not None else None)

    def has_reference(self, entry: Entry) -> bool:
        return entry.answer_idx is not None

    def context_span(self, entry: Entry, duration: float) -> tuple[float, float]:
        """The seconds the model sees: the `ts` span (clipped to the video) or the whole clip."""
        if self.context == "ts" and entry.windows:
            s, e = entry.windows[0]
            if s < duration:
                return float(s), float(min(e, duration))
        return 0.0, float(duration)

    def context_text(self, entry: Entry, feats) -> list[Segment]:
        if self.text == "none":
            return []
        if self.text in ("auto", "subtitles") and entry.subtitles is not None:
            return list(entry.subtitles)
        return list(feats.speech) if self.text in ("auto", "asr") else []

    def answer_ids(self, answer: str, builder: SequenceBuilder) -> list[int]:
        return builder.text_ids(answer)[: self.max_answer_tokens - 1] + [builder.eos_id]

    def build_item(self, entry: Entry, feats, builder: SequenceBuilder, max_frames: int, use_speech: bool = True,
                   commonsense: str | None = None) -> dict[str, Any]:
        ts = np.asarray(feats.timestamps, dtype=np.float64)
        duration = float(entry.duration or feats.duration or (ts[-1] + 1.0 if len(ts) else 1.0))
        s, e = self.context_span(entry, duration)
        rows = np.flatnonzero((ts >= s) & (ts < e))
        if len(rows) == 0 and len(ts):  # a span shorter than the frame spacing: its nearest frame
            rows = np.array([int(np.argmin(np.abs(ts - (s + e) / 2)))])
        question = list(entry.query_ids) or builder.text_ids(entry.query)[:self.max_question_tokens]
        text = [t for t in self.context_text(entry, feats) if t.end > s and t.start < e]
        if use_speech and text:
            input_ids = question + builder.transcript_ids(text, max(e - s, 1e-3), s,
                                                          max_tokens=builder.max_input_tokens - len(question))
        else:
            input_ids = question + [builder.eos_id]
        candidates = [self.answer_ids(a, builder) for a in entry.answers]
        target = entry.answer_idx if entry.answer_idx is not None else 0
        return frame_item(entry, feats, rows, max_frames, input_ids, candidates[target], self.name, commonsense,
                          offset=s, span=(s, e), references=entry.answer_idx, query=entry.query,
                          answers=list(entry.answers), category=entry.category, candidates=candidates,
                          answer_idx=-1 if entry.answer_idx is None else entry.answer_idx)

    # ---------------------------------------------------------- loss / infer
    def scores(self, net: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, A) candidate scores and the (B*A, L, V) decoder logits they came from."""
        if "candidates" not in batch:
            raise ValueError("a videoqa batch needs 'candidates' (the collator pads the items' answers)")
        logits = net.score_candidates(batch, batch["candidates"])
        return candidate_scores(logits, batch["candidates"], batch["candidate_mask"], self.length_normalise), logits

    def loss(self, net: Any, batch: dict[str, Any], smoothing: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scores, logits = self.scores(net, batch)
        target = batch["answer_idx"]
        choice = F.cross_entropy(scores, target)
        if not self.lm_weight:
            return choice, {"choice_loss": choice}
        b, a, length = batch["candidates"].shape
        rows = torch.arange(b, device=target.device) * a + target
        answer_lm = label_smoothed_ce(logits[rows], batch["candidates"].reshape(b * a, length)[rows], smoothing)
        return choice + self.lm_weight * answer_lm, {"choice_loss": choice, "answer_lm_loss": answer_lm}

    @torch.no_grad()
    def infer(self, net: Any, batch: dict[str, Any], meta: Sequence[dict[str, Any]], builder: SequenceBuilder,
              generation: dict[str, Any]) -> list[dict]:
        scores, _ = self.scores(net, batch)
        probs = torch.softmax(scores, dim=-1)
        out = []
        for r, m in enumerate(meta):
            n = len(m.get("answers") or [])
            item = output_base(m)
            item.update(question=m.get("query", ""), answers=list(m.get("answers") or []),
                        category=m.get("category") or "", scores=[float(x) for x in scores[r, :n].tolist()],
                        probabilities=[float(x) for x in probs[r, :n].tolist()],
                        prediction=int(torch.argmax(scores[r, :n]).item()))
            out.append(item)
        return out

    # ---------------------------------------------------------------- scoring
    @staticmethod
    def prediction_rows(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"qid": o["key"], "vid": o["video_id"], "question": o.get("question", ""), "pred": o["prediction"],
                 "pred_answer": o["answers"][o["prediction"]] if o.get("answers") else None,
                 "probabilities": [round(p, 6) for p in o["probabilities"]]} for o in outputs]

    def score(self, outputs: list[dict[str, Any]], compat: bool = False, full: bool = False,
              meteor: Any = None) -> dict[str, float]:
        known = [o for o in outputs if isinstance(o.get("references"), int) and o["references"] >= 0]
        if not known:
            return {}
        with_category = any(o.get("category") for o in known)
        refs = [{"qid": o["key"], "answer_idx": o["references"], **({"category": o.get("category") or ""}
                                                                     if with_category else {})} for o in known]
        preds = {o["key"]: o["prediction"] for o in known}
        metrics = VideoQAEvaluator("category" if with_category else None).evaluate(preds, refs).primary
        return self.selected(metrics, full)

    def selected(self, metrics: dict[str, Any], full: bool) -> dict[str, float]:
        """Accuracy and the per-category accuracies (their names depend on the data) at every validation."""
        return {k: float(v) for k, v in metrics.items()
                if isinstance(v, (int, float)) and (full or k == "accuracy" or k.startswith("accuracy/"))}

    def write_predictions(self, outputs: list[dict[str, Any]], stem: Path) -> Path:
        return atomic_write_jsonl(Path(f"{stem}.jsonl"), self.prediction_rows(outputs))

    def write_submission(self, outputs: list[dict[str, Any]], stem: Path) -> Path:
        """TVQA's leaderboard file: `{qid: answer_idx}` (jayleicn/TVQA test.py's `qid2preds_<mode>.json`), in
        question order; qids are JSON object keys, so strings."""
        def position(o: dict[str, Any]) -> tuple[float, str]:
            return (int(o["key"]) if str(o["key"]).isdigit() else float("inf"), str(o["key"]))

        order = sorted(outputs, key=position)
        return atomic_write_json(Path(f"{stem}.json"), {str(o["key"]): int(o["prediction"]) for o in order})
