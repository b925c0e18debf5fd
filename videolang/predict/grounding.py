"""Raw video + text queries in, ranked time windows out (chapter grounding / moment retrieval).

    predictor = GroundingPredictor.from_checkpoint("best.ckpt")
    result = predictor.predict_video("talk.mp4", ["where is the sauce made?", "Planting the beans"])
    result.queries[0]["windows"]   # [[start, end, score], ...] best first

The video is encoded once (visual, transcript, common-sense when the model reads it)
through `videolang.extract`'s own path, then every query is decoded against it in one
batch. The whole video is searchable: frames are uniformly subsampled to the model's
frame budget and windows are time tokens over the whole duration (docs/model.md).
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


@dataclass
class GroundingPrediction:
    video: str
    duration: float
    queries: list[dict[str, Any]]            # {"qid", "query", "windows": [[s, e, score], ...], "dropped"}
    notes: list[str] = field(default_factory=list)

    def moment_detr_rows(self, vid: str | None = None) -> list[dict[str, Any]]:
        """Moment-DETR predictions (`qid, query, vid, pred_relevant_windows`), read by `stage=evaluate task=grounding`."""
        vid = vid or Path(self.video).stem
        return [{"qid": q["qid"], "query": q["query"], "vid": vid,
                 "pred_relevant_windows": [[round(s, 3), round(e, 3), round(p, 6)] for s, e, p in q["windows"]]}
                for q in self.queries]

    def lines(self, top: int = 5) -> str:
        """Per query its top windows as `M:SS-M:SS score` lines."""
        out = []
        for q in self.queries:
            out.append(f"{q['query']}")
            if not q["windows"]:
                out.append("  (no well-formed window)")
            for s, e, p in q["windows"][:top]:
                out.append(f"  {format_timestamp(s)}-{format_timestamp(e)} {p:.3f}")
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
        entries = [self.task.query_entry(str(q_id), q, Path(video).stem, duration, builder)
                   for q_id, q in zip(qids, queries)]
        outputs = self.decode_entries(entries, feats, **generation)
        found = [{"qid": q_id, "query": str(q), "windows": o["windows"], "dropped": o.get("dropped", {})}
                 for q_id, q, o in zip(qids, queries, outputs)]
        return GroundingPrediction(video, duration, found)

    def predict_video(self, path: str | Path, queries: list[str] | str, qids: list[Any] | None = None,
                      **generation: Any) -> GroundingPrediction:
        feats, notes = self.encode_video(path)
        pred = self.predict_features(feats, queries, str(path), qids, **generation)
        pred.notes = notes + pred.notes
        return pred
