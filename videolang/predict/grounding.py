"""Raw video + text queries in, ranked time windows and clip saliency out (moment retrieval and highlight
detection), from a checkpoint of either grounding model (the seq2seq head or Moment-DETR).

    predictor = GroundingPredictor.from_checkpoint("best.ckpt")   # the model kind is read from the file
    predictor.encode_video("talk.mp4")                            # once per video (lighthouse's call order)
    result = predictor.predict(["where is the sauce made?", "Planting the beans"])
    result.queries[0]["windows"]    # [[start, end, score], ...] best first
    result.queries[0]["saliency"]   # [[second, score], ...]: one per clip the model read, or None

`predict_video(path, queries)` does both steps in one call. The video is encoded once (visual,
transcript, common-sense when the model reads it) through `videolang.extract`'s own path, then
every query is decoded against it in one batch. The whole video is searchable: frames are
uniformly subsampled to the model's frame budget (docs/model.md).

Saliency comes from the model's outputs: when the decoded output of a query carries `saliency`
(`[time, score]` per frame the model read: Moment-DETR's saliency head, or the seq2seq head trained with
`task.head.saliency=true`), it is returned here and written as `pred_saliency_scores`, one per
`clip_length` seconds (the task's `saliency_clip`); otherwise `saliency` is None.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from videolang.backbone.sources import VideoFeatures
from videolang.core.errors import BadInputError
from videolang.core.timefmt import format_timestamp
from videolang.predict.chapters import VideoPredictor
from videolang.predict.folders import video_name
from videolang.tasks.grounding import prediction_rows


@dataclass
class GroundingPrediction:
    video: str
    duration: float
    # {"qid", "query", "windows": [[s, e, score], ...] best first, "saliency": [[t, score], ...] or None, "dropped"}
    queries: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    clip_length: float = 1.0  # seconds per `pred_saliency_scores` entry (the grounding task's `saliency_clip`)

    def moment_detr_rows(self, vid: str | None = None) -> list[dict[str, Any]]:
        """Moment-DETR predictions (`qid, query, vid, pred_relevant_windows` and, when the model gives them,
        `pred_saliency_scores`), read by `stage=evaluate task=grounding`."""
        vid = vid or video_name(self.video)
        return prediction_rows([{"key": q["qid"], "query": q["query"], "video_id": vid, "duration": self.duration,
                                 "windows": q["windows"], "saliency": q.get("saliency")} for q in self.queries],
                               self.clip_length)

    @staticmethod
    def top_clips(query: dict[str, Any], k: int = 3) -> list[tuple[float, float]]:
        """The `k` clips with the highest saliency for one query: (second, score), best first."""
        return [(float(t), float(x)) for t, x in sorted(query.get("saliency") or [], key=lambda c: -c[1])[:k]]

    def lines(self, top: int = 5) -> str:
        """Per query its top windows as `M:SS-M:SS score` lines, then its most salient clips when it has them."""
        out = []
        for q in self.queries:
            out.append(f"{q['query']}")
            if not q["windows"]:
                out.append("  (no well-formed window)")
            for s, e, p in q["windows"][:top]:
                out.append(f"  {format_timestamp(s)}-{format_timestamp(e)} {p:.3f}")
            if q.get("saliency") is not None:
                clips = ", ".join(f"{format_timestamp(t)} ({x:.2f})" for t, x in self.top_clips(q))
                out.append(f"  most salient: {clips or '(no clip)'}")
        return "\n".join(out)


class GroundingPredictor(VideoPredictor):
    produces = "windows"
    what = "time windows for a text query"

    @torch.no_grad()
    def predict_features(self, feats: VideoFeatures, queries: list[str] | str, video: str = "video",
                         qids: list[Any] | None = None, **generation: Any) -> GroundingPrediction:
        queries = [queries] if isinstance(queries, str) else list(queries)
        if not queries:
            raise BadInputError("no query given", video)
        qids = list(qids) if qids is not None else list(range(len(queries)))
        if len(qids) != len(queries) or len(set(map(str, qids))) != len(qids):
            raise BadInputError(f"{len(qids)} qids for {len(queries)} queries, or a qid twice", video)
        for qid, query in zip(qids, queries):
            if not str(query).strip():
                raise BadInputError(f"empty query (qid {qid})", video)
        feats = self.check_features(feats, video)
        duration = float(feats.duration or (feats.timestamps[-1] + 1.0))
        builder = self.module.builders[self.task.name]
        entries = [self.task.query_entry(str(q_id), q, video_name(video), duration, builder)
                   for q_id, q in zip(qids, queries)]
        outputs = self.decode_entries(entries, feats, **generation)
        found = [{"qid": q_id, "query": str(q), "windows": o["windows"], "saliency": o.get("saliency"),
                  "dropped": o.get("dropped", {})} for q_id, q, o in zip(qids, queries, outputs)]
        return GroundingPrediction(video, duration, found, clip_length=float(getattr(self.task, "saliency_clip", 1.0)))

    def predict_video(self, path: str | Path, queries: list[str] | str, qids: list[Any] | None = None,
                      frames_fps: float | None = None, **generation: Any) -> GroundingPrediction:
        """Windows for `queries` on a media file or a frame folder (read at `frames_fps`: see `encode_video`)."""
        feats, notes = self.encode_video(path, frames_fps)
        pred = self.predict_features(feats, queries, str(path), qids, **generation)
        pred.notes = notes + pred.notes
        return pred

    def predict(self, queries: list[str] | str, video: str | Path | None = None, qids: list[Any] | None = None,
                frames_fps: float | None = None, **generation: Any) -> GroundingPrediction:
        """Windows (and saliency) for `queries` on the video of the last `encode_video(path)`, or on `video`
        (encoded now unless it is that one): encode once, then ask as often as needed."""
        path = video if video is not None else self.last_video
        if path is None:
            raise BadInputError("no video to search: call encode_video(path) first, or pass video=<file>")
        return self.predict_video(path, queries, qids, frames_fps, **generation)
