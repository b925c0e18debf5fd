"""The dense-captioning protocol of ActivityNet's densevid_eval, as VidChapters' `eval_dvc` runs it, plus SODA_c.

What is reproduced (in both modes; see docs/evaluate.md):
- tIoU with +1e-8 in the union; caption pairs use tIoU >= t, Recall / Precision use
  tIoU > t (strict); R@Ns / P@Ns use |start difference| < N (strict).
- Every prediction is paired with every reference it overlaps at >= t; a prediction
  with no such reference is paired with a random string of 10-20 lowercase letters.
- Text: non-ASCII characters become spaces, then PTB tokenisation.
- Caption metrics are computed per video (pycocoevalcap scorers over that video's
  pairs, so CIDEr-D's document frequencies come from the video's own pairs), averaged
  over videos, then over thresholds; a video with no prediction scores 0.
- Recall / Precision are per video, averaged; F1@t from the averages; the overall
  Recall / Precision / F1 are the means over thresholds. At most `max_proposals`
  (1000) predictions per video enter these; SODA_c sees all of them.
Where the modes differ:
- compat: reference videos missing from the predictions are skipped (as the tools do);
  SODA scores the reference sentence against the prediction (the argument swap);
  predicted times are used as given.
- corrected (default): missing videos count, with every score 0; SODA scores the
  prediction against the reference; predicted events starting past the duration are
  dropped and the rest clipped to [0, duration].
The random strings are drawn from a generator seeded with (seed, video), one per
video, shared by its unmatched predictions: a 10-20-letter random token matches
nothing, so the scores equal those of the tools' fresh string per pair, and the
run is repeatable.
"""
from __future__ import annotations

import random
import string
from collections.abc import Sequence

import numpy as np
import pandas as pd

from videolang.core.errors import BadInputError
from videolang.core.spans import tiou_matrix
from videolang.evaluate.inputs import Segments, clip_to_duration
from videolang.evaluate.meteor import Pair
from videolang.evaluate.ptb import remove_nonascii
from videolang.evaluate.soda import DENSEVID_EPS, finish_soda, plan_soda
from videolang.evaluate.text import CAPTION_METRICS, TextScorer

TIOUS = (0.3, 0.5, 0.7, 0.9)
DISTANCES = (1, 3, 5, 10, 30, 60)


def key(t: float) -> str:
    return f"{t:g}"


def random_caption(seed: int, video_id: str) -> str:
    rng = random.Random(f"{seed}:{video_id}")
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(10, 20)))


def texts_needed(preds: dict[str, Segments], refs: dict[str, Segments], seed: int) -> list[str]:
    """Every text the protocol will tokenise (so one PTB call serves both modes)."""
    out = [remove_nonascii(s) for segs in (*preds.values(), *refs.values()) for s in segs.sentences]
    return out + [random_caption(seed, vid) for vid in refs]


def _hits(matrix: np.ndarray, n_pred: int, n_ref: int) -> tuple[float, float]:
    """(precision, recall) of one video from a boolean (pred, ref) hit matrix."""
    if not n_pred:
        return 0.0, 0.0
    return float(matrix.any(axis=1).sum()) / max(n_pred, 1), float(matrix.any(axis=0).sum()) / n_ref


def videos_to_score(preds: dict[str, Segments], refs: dict[str, Segments], compat: bool
                    ) -> list[tuple[str, Segments, Segments]]:
    """(video, predictions, references) for every reference video the mode scores (see module doc)."""
    out = []
    for vid, ref in refs.items():
        if not len(ref) or (compat and vid not in preds):
            continue
        pred = preds.get(vid, Segments.empty())
        out.append((vid, pred if compat else clip_to_duration(pred, ref.duration), ref))
    if not out:
        raise BadInputError("no reference video with segments has predictions: nothing to evaluate")
    return out


def dense_captioning_metrics(preds: dict[str, Segments], refs: dict[str, Segments], text: TextScorer, *,
                             compat: bool = False, tious: Sequence[float] = TIOUS,
                             distances: Sequence[float] = DISTANCES, max_proposals: int = 1000,
                             soda: bool = True, seed: int = 0) -> tuple[dict[str, float], pd.DataFrame]:
    """Metrics of the whole set and one row of scores per reference video."""
    videos = videos_to_score(preds, refs, compat)
    text.tokenize(texts_needed({v: p for v, p, _ in videos}, {v: r for v, _, r in videos}, seed))
    rows, groups, soda_videos = [], [], []
    for vid, pred, ref in videos:
        soda_videos.append((pred, ref))
        dvc = pred.take(np.arange(min(len(pred), max_proposals)))
        iou = tiou_matrix(dvc.spans, ref.spans, eps=DENSEVID_EPS)
        p_tok = [text.tok(remove_nonascii(s)) for s in dvc.sentences]
        r_tok = [text.tok(remove_nonascii(s)) for s in ref.sentences]
        garbage = [text.tok(random_caption(seed, vid))]
        row = {"video_id": vid, "status": "scored" if vid in preds else "no_predictions",
               "n_predictions": len(pred), "n_references": len(ref)}
        for t in tious:
            group: list[Pair] = []
            for i in range(len(dvc)):
                js = np.flatnonzero(iou[i] >= t)
                group += [(p_tok[i], [r_tok[j]]) for j in js] if len(js) else [(p_tok[i], garbage)]
            groups.append(group)
            row[f"precision@{key(t)}"], row[f"recall@{key(t)}"] = _hits(iou > t, len(dvc), len(ref))
        start_gap = np.abs(dvc.spans[:, 0:1] - ref.spans[None, :, 0])
        for d in distances:
            row[f"precision@{key(d)}s"], row[f"recall@{key(d)}s"] = _hits(start_gap < d, len(dvc), len(ref))
        rows.append(row)

    plan = plan_soda(soda_videos, text, compat) if soda else None
    scored, _, soda_meteor = text.score_groups(groups, segments=plan.pairs if plan else ())
    for k, row in enumerate(rows):
        for j, t in enumerate(tious):
            for m in CAPTION_METRICS:
                row[f"{m}@{key(t)}"] = scored[k * len(tious) + j][m]
    if plan is not None:
        p, r, f = finish_soda(plan, soda_meteor)
        for row, pv, rv, fv in zip(rows, p, r, f):
            row.update(soda_c=float(fv), soda_c_precision=float(pv), soda_c_recall=float(rv))
    return _summarise(rows, tious, distances, soda), _per_video_frame(rows, tious)


def _summarise(rows: list[dict], tious, distances, soda: bool) -> dict[str, float]:
    """Average over videos, then over thresholds, in the reference tools' order of operations."""
    out: dict[str, float] = {}
    for m in CAPTION_METRICS:
        per_t = [float(np.mean([r[f"{m}@{key(t)}"] for r in rows])) for t in tious]
        out[m] = float(np.array(per_t).mean())
        out.update({f"{m}@{key(t)}": v for t, v in zip(tious, per_t)})
    f1s = []
    for suffix in [key(t) for t in tious] + [f"{key(d)}s" for d in distances]:
        p = sum(r[f"precision@{suffix}"] for r in rows) / len(rows)
        r_ = sum(r[f"recall@{suffix}"] for r in rows) / len(rows)
        f1 = 2 * r_ * p / (r_ + p) if r_ + p else 0.0
        out[f"precision@{suffix}"], out[f"recall@{suffix}"], out[f"f1@{suffix}"] = p, r_, f1
        f1s.append(f1)
    for name in ("precision", "recall"):
        out[name] = float(np.array([out[f"{name}@{key(t)}"] for t in tious]).mean())
    out["f1"] = float(np.array(f1s[:len(tious)]).mean())
    if soda:
        for name in ("soda_c", "soda_c_precision", "soda_c_recall"):
            out[name] = float(np.mean([r[name] for r in rows]))
    out["videos_evaluated"] = float(len(rows))
    return out


def _per_video_frame(rows: list[dict], tious) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for m in (*CAPTION_METRICS, "precision", "recall"):
        df[m] = df[[f"{m}@{key(t)}" for t in tious]].mean(axis=1)
    first = ["video_id", "status", "n_predictions", "n_references", *CAPTION_METRICS, "precision", "recall"]
    first += [c for c in ("soda_c", "soda_c_precision", "soda_c_recall") if c in df]
    return df[first + [c for c in df.columns if c not in first]]
