"""One evaluator per task, built from `conf/task/<task>.yaml` (`evaluator:`), and the plain-function API.

An evaluator reads the community file formats (or already-loaded objects),
counts every input problem, and scores the requested protocols: `corrected` (our
default) and `compat` (the reference tools' behaviour, argument swap included),
sharing one tokenisation and one METEOR process between them.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from videolang.core.errors import BadInputError, ConfigError
from videolang.evaluate.captions import caption_metrics, load_caption_predictions, load_caption_references
from videolang.evaluate.densevid import (DISTANCES, TIOUS, dense_captioning_metrics, merged_references,
                                         soda_by_file, texts_needed, videos_to_score)
from videolang.evaluate.grounding import (R1_DISTANCES, R1_TIOUS, count_grounding_inputs, derive_reference_saliency,
                                          grounding_metrics, load_grounding_predictions, load_grounding_references)
from videolang.evaluate.grounding import length_buckets as grounding_length_buckets
from videolang.evaluate.inputs import (InputReport, align_videos, check_durations, load_dense_predictions,
                                       load_dense_references, reference_sources, source_name,
                                       warn_if_nothing_predicted)
from videolang.evaluate.meteor import Meteor
from videolang.evaluate.query_sensitivity import query_sensitivity
from videolang.evaluate.saliency import valid_clip_length
from videolang.evaluate.soda import soda_c_scores
from videolang.evaluate.text import TextScorer
from videolang.evaluate.videoqa import load_qa_predictions, load_qa_references, videoqa_metrics

PROTOCOLS = ("corrected", "compat")


@dataclass
class EvaluationResult:
    """`metrics[protocol]` for each protocol run (the first is the primary one), per-item scores of the
    primary protocol, the input report, and the loaded inputs (for plots)."""

    task: str
    metrics: dict[str, dict[str, float]]
    per_item: pd.DataFrame
    report: InputReport
    predictions: Any = None
    references: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def primary(self) -> dict[str, float]:
        return next(iter(self.metrics.values()))


class Evaluator:
    task = "?"

    def __init__(self, protocols: Sequence[str] = PROTOCOLS):
        protocols = list(protocols)
        unknown = [p for p in protocols if p not in PROTOCOLS]
        if not protocols or unknown:
            raise ConfigError(f"evaluator protocols must be a non-empty list of {list(PROTOCOLS)}, got {protocols}")
        self.protocols = protocols

    def evaluate(self, predictions: Any, references: Any, meteor: Meteor | None = None) -> EvaluationResult:
        raise NotImplementedError


class DenseCaptioningEvaluator(Evaluator):
    """densevid_eval (BLEU, METEOR, ROUGE-L, CIDEr-D at tIoUs, P/R/F1, R@Ns / P@Ns) plus SODA_c."""

    task = "dense_captioning"

    def __init__(self, tious: Sequence[float] = TIOUS, distances: Sequence[float] = DISTANCES,
                 max_proposals: int = 1000, soda: bool = True, seed: int = 0,
                 protocols: Sequence[str] = PROTOCOLS, java: str = "java"):
        super().__init__(protocols)
        self.tious, self.distances = [float(t) for t in tious], [float(d) for d in distances]
        self.max_proposals, self.soda, self.seed, self.java = int(max_proposals), bool(soda), int(seed), java

    def load(self, predictions: Any, references: Any) -> tuple[dict, list[dict], InputReport]:
        """Predictions, the reference sets (one per reference file; `references` may be a list of files,
        as ActivityNet's val_1 + val_2) and the input report."""
        report = InputReport()
        files = [load_dense_references(source) for source in reference_sources(references)]
        preds = load_dense_predictions(predictions, report)
        for k, refs in enumerate(files):
            where = f" (reference file {k + 1})" if len(files) > 1 else ""
            for vid, r in refs.items():
                if not len(r):
                    report.add("reference_videos_without_segments_skipped", vid + where)
                if any(not s.strip() for s in r.sentences):
                    report.add("reference_segments_with_empty_sentence", vid + where)
        if len(files) > 1:
            report.add("reference_files", n=len(files))
        merged = merged_references(files)
        if not any(len(r) for r in merged.values()):
            names = [source_name(s, "references") for s in reference_sources(references)]
            raise BadInputError("no reference video has a segment: nothing to evaluate", ", ".join(names))
        align_videos(preds, list(merged), report)
        check_durations(preds, merged, report)
        matched = [v for v in preds if v in merged and len(merged[v])]
        usable = sum(len(preds[v]) if merged[v].duration is None else int((preds[v].spans[:, 0] <= merged[v].duration)
                                                                          .sum()) for v in matched)
        warn_if_nothing_predicted(report, source_name(predictions, "predictions"), len(preds), len(matched),
                                  "videos", usable)
        for vid, p in preds.items():
            if vid in merged and not len(p):
                report.add("videos_with_empty_prediction_list", vid)
            if vid in merged and len(p) > self.max_proposals:
                report.add(f"predicted_events_beyond_{self.max_proposals}_not_used_by_densevid",
                           vid, len(p) - self.max_proposals)
        return preds, files, report

    def evaluate(self, predictions: Any, references: Any, meteor: Meteor | None = None) -> EvaluationResult:
        preds, files, report = self.load(predictions, references)
        merged = merged_references(files)
        metrics, frames = {}, {}
        with TextScorer(meteor, java=self.java) as text:
            text.tokenize(texts_needed({v: p for v, p in preds.items() if v in merged}, merged, self.seed))
            for protocol in self.protocols:
                metrics[protocol], frames[protocol] = dense_captioning_metrics(
                    preds, files, text, compat=protocol == "compat", tious=self.tious, distances=self.distances,
                    max_proposals=self.max_proposals, soda=self.soda, seed=self.seed)
        return EvaluationResult(self.task, metrics, frames[self.protocols[0]], report, preds, merged,
                                extra={"reference_files": files} if len(files) > 1 else {})

    def soda_c(self, predictions: Any, references: Any, meteor: Meteor | None = None) -> dict[str, dict[str, float]]:
        """SODA_c alone, for each protocol (averaged over the reference files when there are several)."""
        preds, files, _ = self.load(predictions, references)
        merged = merged_references(files)
        out = {}
        with TextScorer(meteor, java=self.java) as text:
            text.tokenize(texts_needed({v: p for v, p in preds.items() if v in merged}, merged, self.seed))
            for protocol in self.protocols:
                items = [(k, p, r) for _, p, entries in videos_to_score(preds, files, protocol == "compat")
                         for k, r in entries]
                if not items:  # compat, no predicted reference video: nothing to average
                    out[protocol] = {"soda_c": None, "soda_c_precision": None, "soda_c_recall": None}
                    continue
                p, r, f = soda_c_scores([(p_, r_) for _, p_, r_ in items], text, protocol == "compat")
                sp, sr, sf = soda_by_file([k for k, _, _ in items], p, r, f)
                out[protocol] = {"soda_c": sf, "soda_c_precision": sp, "soda_c_recall": sr}
        return out


class ChapterGenerationEvaluator(DenseCaptioningEvaluator):
    """Chapter generation is scored exactly as dense captioning."""

    task = "chapter_generation"


class ChapterCaptioningEvaluator(Evaluator):
    """Chapter titles with ground-truth boundaries: the COCO caption protocol."""

    task = "chapter_captioning"

    def __init__(self, protocols: Sequence[str] = PROTOCOLS, java: str = "java"):
        super().__init__(protocols)
        self.java = java

    def evaluate(self, predictions: Any, references: Any, meteor: Meteor | None = None) -> EvaluationResult:
        report = InputReport()
        refs = load_caption_references(references)
        preds = load_caption_predictions(predictions, list(refs), report)
        dropped = report.counts["predictions_dropped_not_a_string"]
        warn_if_nothing_predicted(report, source_name(predictions, "predictions"),
                                  len(preds) + dropped + report.counts["predictions_for_unknown_items"],
                                  len(preds) + dropped, "items", len(preds))
        try:
            return self.evaluate_loaded(preds, refs, report, meteor)
        except BadInputError as e:  # a protocol that cannot use these references: name the file
            if e.path is None:
                raise BadInputError(e.problem, source_name(references, "references"), e.hint) from None
            raise

    def evaluate_loaded(self, preds: Mapping, refs: Mapping, report: InputReport,
                        meteor: Meteor | None = None) -> EvaluationResult:
        metrics, frames = {}, {}
        with TextScorer(meteor, java=self.java) as text:
            for protocol in self.protocols:
                metrics[protocol], frames[protocol] = caption_metrics(preds, refs, text, compat=protocol == "compat")
        return EvaluationResult(self.task, metrics, frames[self.protocols[0]], report, preds, refs)


class GroundingEvaluator(Evaluator):
    """Moment-DETR's R@1 (IoU and seconds), mAP at each IoU, mAP by window length; highlight detection (HIT@1 and
    mAP) when the references carry saliency scores, or when the predictions do and `derive_saliency` makes the
    reference scores from the windows; the query-sensitivity figures when a video has several queries."""

    task = "grounding"

    def __init__(self, r1_tious: Sequence[float] = R1_TIOUS, r1_distances: Sequence[float] = R1_DISTANCES,
                 protocols: Sequence[str] = PROTOCOLS,
                 length_buckets: Mapping[str, Sequence[float | None]] | None = None,
                 saliency_clip_length: float | None = None, derive_saliency: bool = True):
        super().__init__(protocols)
        self.r1_tious, self.r1_distances = [float(t) for t in r1_tious], [float(d) for d in r1_distances]
        self.saliency_clip_length = valid_clip_length(saliency_clip_length)
        if saliency_clip_length is not None and self.saliency_clip_length is None:
            raise ConfigError(f"task.evaluator.saliency_clip_length must be a positive number of seconds (or null), "
                              f"got {saliency_clip_length!r}")
        self.derive_saliency = bool(derive_saliency)
        try:
            self.buckets = grounding_length_buckets(length_buckets)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"task.evaluator.length_buckets must map names to [lo, hi] seconds "
                              f"(hi null for no bound), got {length_buckets}: {e}") from e

    def evaluate(self, predictions: Any, references: Any, meteor: Meteor | None = None) -> EvaluationResult:
        report = InputReport()
        refs = load_grounding_references(references, self.saliency_clip_length)
        if not any(len(r.windows) for r in refs.values()) and not any(r.saliency is not None for r in refs.values()):
            raise BadInputError("no query has a relevant window: nothing to evaluate",
                                source_name(references, "references"))
        preds = load_grounding_predictions(predictions, report)
        if self.derive_saliency:
            derive_reference_saliency(preds, refs, report, self.saliency_clip_length)
        count_grounding_inputs(preds, refs, report)
        warn_about_saliency(report, source_name(predictions, "predictions"))
        warn_if_nothing_predicted(report, source_name(predictions, "predictions"), len(preds),
                                  sum(q in refs for q in preds), "queries",
                                  sum(q in refs and len(p.windows) > 0 for q, p in preds.items()))
        metrics, frames = {}, {}
        for protocol in self.protocols:
            metrics[protocol], frames[protocol] = grounding_metrics(
                preds, refs, report, compat=protocol == "compat", r1_tious=self.r1_tious,
                r1_distances=self.r1_distances,
                buckets={k: (lo, None if hi == float("inf") else hi) for k, (lo, hi) in self.buckets.items()})
            qs, qs_frame = query_sensitivity(preds, refs, compat=protocol == "compat", r1_tious=self.r1_tious)
            metrics[protocol].update(qs)
            if len(qs_frame) and len(frames[protocol]):
                frames[protocol] = frames[protocol].merge(qs_frame, on="qid", how="left")
        return EvaluationResult(self.task, metrics, frames[self.protocols[0]], report, preds, refs)


def warn_about_saliency(report: InputReport, name: str) -> None:
    """One warning naming the predictions file when some of its `pred_saliency_scores` could not be used as given."""
    prefix = "predicted_saliency_scores_dropped_"
    dropped = {k[len(prefix):]: n for k, n in report.counts.items() if k.startswith(prefix)}
    wrong = report.counts.get("predicted_saliency_scores_wrong_length", 0)
    parts = []
    if dropped:
        parts.append(f"{sum(dropped.values())} queries' pred_saliency_scores dropped ("
                     + ", ".join(f"{k}: {n}" for k, n in sorted(dropped.items()))
                     + "; they score 0 on the highlight metrics)")
    if wrong:
        parts.append(f"{wrong} queries' pred_saliency_scores have a length other than the video's clip count "
                     "(cut or zero-padded, as Moment-DETR's eval does)")
    if parts:
        report.warn(f"{name}: " + "; ".join(parts))


class VideoQAEvaluator(Evaluator):
    """Multiple-choice accuracy, overall and per category (there is no compat difference)."""

    task = "videoqa"

    def __init__(self, category: str | None = None, protocols: Sequence[str] = ("corrected",)):
        super().__init__(protocols)
        self.category = category

    def evaluate(self, predictions: Any, references: Any, meteor: Meteor | None = None) -> EvaluationResult:
        report = InputReport()
        refs = load_qa_references(references, self.category)
        preds = load_qa_predictions(predictions, report)
        metrics, frame = videoqa_metrics(preds, refs, report)
        known, dropped = set(refs["qid"]), report.counts["predictions_dropped_not_an_answer_index"]
        matched = sum(q in known for q in preds)
        warn_if_nothing_predicted(report, source_name(predictions, "predictions"), len(preds) + dropped,
                                  matched + dropped, "questions", matched)
        return EvaluationResult(self.task, {p: metrics for p in self.protocols}, frame, report, preds, refs)


# -- the plain-function API (what model selection calls) ------------------------------------
def _protocol(compat: bool) -> list[str]:
    return ["compat" if compat else "corrected"]


def evaluate_dense_captioning(predictions: Any, references: Any, *, tious: Sequence[float] = TIOUS,
                              distances: Sequence[float] = DISTANCES, compat: bool = False,
                              max_proposals: int = 1000, soda: bool = True, seed: int = 0,
                              meteor: Meteor | None = None) -> dict[str, float]:
    """densevid_eval + SODA_c metrics (fractions; CIDEr on its usual 0-10 scale). `references` may be a list
    of reference files (ActivityNet's val_1 + val_2), scored as densevid_eval scores several files."""
    return DenseCaptioningEvaluator(tious, distances, max_proposals, soda, seed, _protocol(compat)
                                    ).evaluate(predictions, references, meteor).primary


def soda_c(predictions: Any, references: Any, *, compat: bool = False,
           meteor: Meteor | None = None) -> dict[str, float]:
    """{"soda_c", "soda_c_precision", "soda_c_recall"} without the densevid metrics."""
    return DenseCaptioningEvaluator(protocols=_protocol(compat)).soda_c(predictions, references, meteor)[
        _protocol(compat)[0]]


def evaluate_captions(predictions: Mapping[Hashable, str], references: Mapping[Hashable, Any], *,
                      compat: bool = False, meteor: Meteor | None = None) -> dict[str, float]:
    """COCO caption metrics for {id: caption} against {id: [captions]} (a single string is one reference)."""
    refs = {k: [v] if isinstance(v, str) else list(v) for k, v in references.items()}
    report = InputReport()
    align_videos(dict(predictions), list(refs), report, unit="items")
    return ChapterCaptioningEvaluator(_protocol(compat)).evaluate_loaded(
        dict(predictions), refs, report, meteor).primary


def evaluate_grounding(predictions: Any, references: Any, *, compat: bool = False,
                       r1_tious: Sequence[float] = R1_TIOUS,
                       r1_distances: Sequence[float] = R1_DISTANCES) -> dict[str, float]:
    """R@1 at IoU and within seconds, mAP at each IoU in 0.5:0.05:0.95 and their mean `map`, the same by
    ground-truth window length (`...@short` / `@middle` / `@long`), and highlight metrics when the references
    carry saliency scores (see docs/evaluate.md for the names)."""
    return GroundingEvaluator(r1_tious, r1_distances, _protocol(compat)).evaluate(predictions, references).primary


def evaluate_videoqa(predictions: Any, references: Any, *, category: str | None = None) -> dict[str, float]:
    """Accuracy, and `accuracy/<category>` for each value of the category field."""
    return VideoQAEvaluator(category).evaluate(predictions, references).primary

