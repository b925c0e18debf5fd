"""Grounding (moment retrieval): a text query and the whole video in, `<start><end>` windows out.

- **Input**: the query's tokens (cut to `max_query_tokens`; queries that were cut are counted
  and one warning per split says how many), then, with `use_speech`, the video's transcript
  as `<s><e> sentence` pieces in the remaining text budget (the events task's truncation
  policy), then `</s>`. The T5 encoder reads it (the model needs `use_speech=true`); the
  frames (and the common-sense stream, through the model's `model.commonsense` switch) are
  the whole video's, uniformly subsampled to `max_frames`.
- **Target**: `<start bin><end bin></s>` on the whole video's time-token grid. A query with
  several relevant windows trains on its first one (file order); the evaluator sees all.
- **Decoding**: beam search (`num_beams`, default 10) returning `num_windows` (default 5)
  sequences with their scores. With `constrained` (default) the first token is a time bin
  below the last, the second a bin after the first, then `</s>`. Each sequence's first two
  time tokens give [start, end] (end <= start dropped), identical windows are kept once,
  and the score is `exp(sequence log-prob / length)` (transformers' beam score with
  `length_penalty=1`: the geometric-mean token probability, in (0, 1]); windows are ranked
  by it.
- **Saliency** (`saliency: true`): the backbone gets a per-frame query saliency head
  (`videolang.backbone.saliency`, QD-DETR's form) trained beside the window tokens with
  QD-DETR's saliency losses (`saliency_weight` x (margin + rank-contrastive + negative-pair)),
  frames inside the query's relevant windows as positives; the negative pairs are the frames of
  each item against another video's query of the batch. Outputs then carry one score per frame
  the model saw, written as `pred_saliency_scores` (one per `saliency_clip` seconds, each clip
  taking the score of the frame that covers its centre) for the evaluator's highlight metrics.
- **Scoring**: `videolang.evaluate.evaluate_grounding` (R@1 at IoU 0.3/0.5/0.7, R@1 within
  1/3/5/10 s, mAP@0.5, mAP@0.75, mAP); **predictions**: Moment-DETR JSON Lines
  `{qid, query, vid, pred_relevant_windows: [[start, end, score], ...]}`.

Bad inputs of `tasks/grounding_<split>.jsonl`: a duplicate qid is an error naming the file
and the qid; an empty query is skipped and counted (`empty_query_skipped`); a window past
the video's end is clipped to it (`windows_clipped`), a window starting at or after the end
is dropped (`windows_past_end_dropped`) and a query left without a window is skipped
(`no_window_skipped`).
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videolang.backbone.losses import label_smoothed_ce
from videolang.backbone.saliency import margin_loss, negative_pair_loss, negative_partners, rank_contrastive_loss
from videolang.backbone.sequences import SequenceBuilder
from videolang.backbone.visual import uniform_indices
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.io import atomic_write_jsonl, read_jsonl
from videolang.evaluate import evaluate_grounding
from videolang.evaluate.saliency import clip_count
from videolang.tasks.base import DataReport, Entry, Seq2SeqTask, frame_item, output_base

log = logging.getLogger(__name__)


class GroundingTask(Seq2SeqTask):
    """Ranked `[start, end, score]` windows for a query over the whole video."""

    name = "grounding"
    produces = "windows"
    file_pattern = "grounding_{split}.jsonl"
    use_time_tokens = True
    needs_text_encoder = True
    malformed_key = "malformed_windows"
    log_keys = ("r1@0.3", "r1@0.5", "r1@0.7", "r1@1s", "r1@3s", "r1@5s", "r1@10s", "map@0.5", "map@0.75", "map")

    def __init__(self, name: str | None = None, max_input_tokens: int | None = None,
                 max_output_tokens: int | None = None, max_query_tokens: int = 64, use_speech: bool = True,
                 num_beams: int = 10, num_windows: int = 5, constrained: bool = True, saliency: bool = False,
                 saliency_weight: float = 1.0, saliency_margin: float = 0.2, saliency_clip: float = 1.0,
                 window_ranking: str = "auto"):
        super().__init__(name, max_input_tokens, max_output_tokens)
        if window_ranking not in ("auto", "beam", "saliency"):
            raise ConfigError(f"grounding window_ranking must be auto, beam or saliency, got {window_ranking!r}")
        if window_ranking == "saliency" and not saliency:
            raise ConfigError("grounding window_ranking=saliency needs the saliency head (saliency: true)")
        self.window_ranking = "saliency" if window_ranking == "auto" and saliency else \
            ("beam" if window_ranking == "auto" else window_ranking)
        self.saliency, self.saliency_weight = bool(saliency), float(saliency_weight)
        self.saliency_margin, self.saliency_clip = float(saliency_margin), float(saliency_clip)
        if self.saliency_clip <= 0 or self.saliency_weight < 0:
            raise ConfigError(f"grounding saliency_clip must be > 0 and saliency_weight >= 0, got "
                              f"{saliency_clip} and {saliency_weight}")
        self.max_query_tokens, self.use_speech = int(max_query_tokens), bool(use_speech)
        self.num_beams, self.num_windows, self.constrained = int(num_beams), int(num_windows), bool(constrained)
        if self.max_query_tokens < 1:
            raise ConfigError(f"grounding max_query_tokens must be >= 1, got {max_query_tokens}")
        if self.num_windows < 1 or self.num_beams < max(2, self.num_windows):
            raise ConfigError(f"grounding needs num_beams >= max(2, num_windows) (sequence scores come from "
                              f"beam search), got num_beams={num_beams}, num_windows={num_windows}")

    def options(self) -> dict[str, Any]:
        return {**super().options(), "max_query_tokens": self.max_query_tokens, "use_speech": self.use_speech,
                "num_beams": self.num_beams, "num_windows": self.num_windows, "constrained": self.constrained,
                "saliency": self.saliency, "saliency_weight": self.saliency_weight,
                "saliency_margin": self.saliency_margin, "saliency_clip": self.saliency_clip,
                "window_ranking": self.window_ranking}

    @property
    def needs_saliency_head(self) -> bool:  # type: ignore[override]
        return self.saliency

    def make_builder(self, tokenizer: Any, num_time_tokens: int, max_input_tokens: int,
                     max_output_tokens: int) -> SequenceBuilder:
        if not num_time_tokens:
            raise ConfigError("grounding predicts time tokens: model.num_time_tokens must be > 0")
        return SequenceBuilder(tokenizer, num_time_tokens, self.max_input_tokens or max_input_tokens,
                               max(3, self.max_output_tokens or 3), use_time_tokens=True)

    # ------------------------------------------------------------------- data
    def read_file(self, path: Path) -> list[dict]:
        return read_jsonl(path)

    def read_entries(self, data: Any, where: str, builder: SequenceBuilder, report: DataReport) -> list[Entry]:
        if not isinstance(data, list):
            raise BadInputError("expected JSON Lines rows {qid, query, vid, duration, relevant_windows}", where)
        budget = min(self.max_query_tokens, builder.max_input_tokens - 1)
        entries, seen, cut = [], set(), 0
        for n, row in enumerate(data, start=1):
            if not isinstance(row, dict) or "qid" not in row or "vid" not in row:
                raise BadInputError(f"row {n}: expected {{qid, query, vid, duration, relevant_windows}}", where)
            qid = str(row["qid"])
            if qid in seen:
                raise BadInputError(f"duplicate qid {qid!r} (row {n})", where)
            seen.add(qid)
            vid, query = str(row["vid"]), str(row.get("query") or "").strip()
            try:
                duration = float(row["duration"])
                raw = [(float(w[0]), float(w[1])) for w in row.get("relevant_windows") or []]
            except (KeyError, TypeError, ValueError, IndexError, OverflowError) as e:
                report.fail(f"{where}/{qid}", f"bad duration or relevant_windows: {e}")
                continue
            if not (duration > 0 and math.isfinite(duration)):
                report.fail(f"{where}/{qid}", f"bad duration {row.get('duration')!r}")
                continue
            if not query:
                report.count("empty_query_skipped")
                continue
            windows = []
            for s, e in raw:
                if not (math.isfinite(s) and math.isfinite(e)) or e <= s or s >= duration:
                    report.count("windows_past_end_dropped" if s >= duration else "bad_windows_dropped")
                    continue
                if e > duration or s < 0:
                    report.count("windows_clipped")
                windows.append((max(0.0, s), min(e, duration)))
            if not windows:
                report.count("no_window_skipped")
                continue
            ids = builder.text_ids(query)
            if len(ids) > budget:
                cut += 1
                ids = ids[:budget]
            entries.append(Entry(qid, vid, duration, query=query, query_ids=tuple(ids), windows=tuple(windows)))
        if cut:
            report.count("queries_truncated", cut)
            log.warning("%s: %d queries longer than %d tokens were truncated", where, cut, budget)
        return entries

    def query_entry(self, qid: str, query: str, video_id: str, duration: float, builder: SequenceBuilder) -> Entry:
        """The entry of one query at prediction time (no references); the query is cut like in training."""
        query = str(query).strip()
        if not query:
            raise BadInputError(f"empty query (qid {qid!r})")
        ids = builder.text_ids(query)
        budget = min(self.max_query_tokens, builder.max_input_tokens - 1)
        if len(ids) > budget:
            log.warning("query %r: %d tokens, truncated to %d", qid, len(ids), budget)
        return Entry(str(qid), str(video_id), float(duration), query=query, query_ids=tuple(ids[:budget]))

    def input_ids(self, entry: Entry, feats, builder: SequenceBuilder, use_speech: bool) -> list[int]:
        query = list(entry.query_ids)
        if not (use_speech and self.use_speech and feats.speech):
            return query + [builder.eos_id]
        return query + builder.transcript_ids(feats.speech, entry.duration,
                                              max_tokens=builder.max_input_tokens - len(query))

    def build_item(self, entry: Entry, feats, builder: SequenceBuilder, max_frames: int, use_speech: bool = True,
                   commonsense: str | None = None) -> dict[str, Any]:
        labels = [builder.eos_id]
        if entry.windows:
            s, e = entry.windows[0]
            labels = builder.time_pair(s, e, entry.duration) + labels
        rows = uniform_indices(len(feats.frames), max_frames)
        times = np.asarray(feats.timestamps, dtype=np.float64)[rows]
        # the frames' times: where any model's per-frame saliency lies (the seq2seq head's, Moment-DETR's)
        extra: dict[str, Any] = {"frame_times": [round(float(t), 3) for t in times]}
        if self.saliency:
            extra.update({"query_length": len(entry.query_ids), "frame_targets": frames_inside(times, entry.windows)})
        return frame_item(entry, feats, rows, max_frames,
                          self.input_ids(entry, feats, builder, use_speech), labels, self.name, commonsense,
                          references=[(float(s), float(e)) for s, e in entry.windows], query=entry.query, **extra)

    # ----------------------------------------------------------- loss / infer
    def loss(self, net: Any, batch: dict[str, Any], smoothing: float) -> tuple[Any, dict[str, Any]]:
        if not self.saliency:
            return super().loss(net, batch, smoothing)
        hidden, mask = net.encode_batch(batch)
        tokens = label_smoothed_ce(net.decode_logits(hidden, mask, batch["labels"]), batch["labels"], smoothing)
        partners = negative_partners([str(v) for v in batch["meta"]["video_id"]])
        scores, negative = net.frame_saliency(hidden, batch, partners)
        targets, frame_mask = batch["frame_targets"].to(scores.device), batch["frame_mask"].to(scores.device)
        paired = [r for r, p in enumerate(partners) if p is not None]
        neg_mask = frame_mask[paired]
        terms = {"saliency_margin": margin_loss(scores, targets, frame_mask, self.saliency_margin),
                 "saliency_rank": rank_contrastive_loss(scores[paired], targets[paired], frame_mask[paired],
                                                        negative, neg_mask) if paired
                 else rank_contrastive_loss(scores, targets, frame_mask),
                 "saliency_negative_pair": negative_pair_loss(negative, neg_mask)}
        saliency = sum(terms.values())
        return tokens + self.saliency_weight * saliency, {"token_loss": tokens.detach(),
                                                          **{k: v.detach() for k, v in terms.items()}}

    def infer(self, net: Any, batch: dict[str, Any], meta: Sequence[dict[str, Any]], builder: SequenceBuilder,
              generation: dict[str, Any]) -> list[dict]:
        outputs = super().infer(net, batch, meta, builder, generation)
        if self.saliency and getattr(net, "saliency", None) is not None:
            hidden, _ = net.encode_batch(batch)
            scores, _ = net.frame_saliency(hidden, batch)
            for r, (out, m) in enumerate(zip(outputs, meta)):
                times = list(m.get("frame_times") or [])
                out["saliency"] = [[t, float(x)] for t, x in zip(times, scores[r, :len(times)].tolist())]
                if self.window_ranking == "saliency":
                    out["windows"] = rank_by_saliency(out["windows"], out["saliency"])
        return outputs

    # --------------------------------------------------------------- decoding
    def generation_kwargs(self, base: dict[str, Any], builder: SequenceBuilder) -> dict[str, Any]:
        out = {**base, "num_beams": self.num_beams, "num_return_sequences": self.num_windows,
               "output_scores": True, "return_dict_in_generate": True, "length_penalty": 1.0,
               "max_new_tokens": 3, "early_stopping": True}
        if self.constrained:
            out["prefix_allowed_tokens_fn"] = _window_constraint(builder)
        return out

    def decode(self, generated: Any, meta: Sequence[dict[str, Any]], builder: SequenceBuilder) -> list[dict]:
        sequences = generated.sequences.tolist()
        scores = getattr(generated, "sequences_scores", None)
        scores = [0.0] * len(sequences) if scores is None else scores.float().tolist()
        k = len(sequences) // max(1, len(meta))
        out = []
        for r, m in enumerate(meta):
            item = output_base(m)
            item["query"] = m.get("query", "")
            windows, seen, dropped = [], set(), Counter()
            for seq, score in zip(sequences[r * k:(r + 1) * k], scores[r * k:(r + 1) * k]):
                bins = [p for p in builder.pieces(seq) if isinstance(p, int)][:2]
                if len(bins) < 2:
                    dropped["no_window"] += 1
                    continue
                if bins[1] <= bins[0]:
                    dropped["end_not_after_start"] += 1
                    continue
                if tuple(bins) in seen:
                    dropped["duplicate_window"] += 1
                    continue
                seen.add(tuple(bins))
                d = float(m["duration"])
                windows.append([builder.codec.to_time(bins[0], d), builder.codec.to_time(bins[1], d),
                                float(math.exp(score))])
            item["windows"] = sorted(windows, key=lambda w: -w[2])
            item["dropped"] = dict(dropped)
            out.append(item)
        return out

    # ---------------------------------------------------------------- scoring
    def prediction_rows(self, outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return prediction_rows(outputs, self.saliency_clip)

    @staticmethod
    def reference_rows(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"qid": o["key"], "query": o.get("query", ""), "vid": o["video_id"], "duration": o["duration"],
                 "relevant_windows": [[s, e] for s, e in o["references"]]} for o in outputs]

    def score(self, outputs: list[dict[str, Any]], compat: bool = False, full: bool = False,
              meteor: Any = None) -> dict[str, float]:
        refs = [r for r in self.reference_rows(outputs) if r["relevant_windows"]]
        if not refs:
            return {}
        return self.selected(evaluate_grounding(self.prediction_rows(outputs), refs, compat=compat), full)

    def write_predictions(self, outputs: list[dict[str, Any]], stem: Path) -> Path:
        return atomic_write_jsonl(Path(f"{stem}.jsonl"), self.prediction_rows(outputs))


def prediction_rows(outputs: list[dict[str, Any]], saliency_clip: float = 1.0) -> list[dict[str, Any]]:
    """Moment-DETR JSONL rows of decoded outputs; an output that carries `saliency` (per-frame `[time, score]`:
    the seq2seq head's saliency head, Moment-DETR's) adds `pred_saliency_scores`, one per `saliency_clip`
    seconds (`clip_scores`), and that `clip_length`."""
    rows = []
    for o in outputs:
        row = {"qid": o["key"], "query": o.get("query", ""), "vid": o["video_id"],
               "pred_relevant_windows": [[round(s, 3), round(e, 3), round(p, 6)] for s, e, p in o["windows"]]}
        if o.get("saliency"):
            row["pred_saliency_scores"] = clip_scores(o["saliency"], float(o["duration"]), saliency_clip)
            row["clip_length"] = saliency_clip
        rows.append(row)
    return rows


def rank_by_saliency(windows: list[list[float]], saliency: Sequence[Sequence[float]]) -> list[list[float]]:
    """The beam's windows re-scored by how much more salient their frames are than the rest of the video:
    score = sigmoid(mean saliency inside - mean saliency outside), best first.

    The decoder proposes plausible windows (boundaries on the time-token grid); the saliency head, trained
    to separate a query's frames from the others, is the better judge of which one the query means
    (docs/model.md, "Grounding", measured). A window holding every frame, or none, scores sigmoid(0)."""
    if not windows or not saliency:
        return windows
    times = np.asarray([t for t, _ in saliency], dtype=np.float64)
    values = np.asarray([v for _, v in saliency], dtype=np.float64)
    out = []
    for s, e, _ in windows:
        inside = (times >= s) & (times < e)
        contrast = values[inside].mean() - values[~inside].mean() if inside.any() and (~inside).any() else 0.0
        out.append([s, e, float(0.5 * (1.0 + math.tanh(contrast / 2.0)))])  # sigmoid, no overflow
    return sorted(out, key=lambda w: -w[2])


def frames_inside(times: np.ndarray, windows: Sequence[tuple[float, float]]) -> list[float]:
    """1.0 for each frame time inside one of the windows (start <= t < end), else 0.0."""
    return [float(any(s <= t < e for s, e in windows)) for t in np.asarray(times, dtype=np.float64)]


def clip_scores(saliency: Sequence[Sequence[float]], duration: float, clip: float) -> list[float]:
    """Per-frame `[time, score]` -> one score per `clip` seconds of the video (Moment-DETR's
    `pred_saliency_scores`, as many as Moment-DETR counts clips: a partial last clip has none): each clip
    takes the score of the frame whose span holds its centre (the last frame at or before it; a frame
    lasts until the next one)."""
    times = np.asarray([t for t, _ in saliency], dtype=np.float64)
    values = [round(float(v), 4) for _, v in saliency]
    count = max(1, clip_count(duration, clip))
    centres = (np.arange(count) + 0.5) * clip
    at = np.clip(np.searchsorted(times, centres, side="right") - 1, 0, len(values) - 1)
    return [values[int(i)] for i in at]


def _window_constraint(builder: SequenceBuilder):
    """`prefix_allowed_tokens_fn` for `<start><end></s>`: start < last bin, end > start, then `</s>`."""
    time_ids = builder.time_ids
    eos = [builder.eos_id]
    bin_of = builder.bin_of_id

    def allowed(batch_id: int, prefix: Any) -> list[int]:
        n = len(prefix) - 1  # the decoder start token comes first
        if n == 0:
            return time_ids[:-1]
        if n == 1:
            start = bin_of.get(int(prefix[-1]))
            return time_ids[start + 1:] if start is not None else time_ids
        return eos

    return allowed
