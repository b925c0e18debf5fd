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
from collections.abc import Mapping, Sequence
from typing import Union

import numpy as np
import pandas as pd

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


RefFiles = Union[Mapping[str, Segments], Sequence[Mapping[str, Segments]]]


def reference_files(refs: RefFiles) -> list[Mapping[str, Segments]]:
    """One reference set or several (ActivityNet's val_1 + val_2) -> a list of reference sets."""
    return [refs] if isinstance(refs, Mapping) else list(refs)


def merged_references(refs: RefFiles) -> dict[str, Segments]:
    """Every video of every reference file, its segments of all files concatenated in file order
    (the pairs densevid_eval pools), with the first known duration."""
    files = reference_files(refs)
    if len(files) == 1:
        return dict(files[0])
    out: dict[str, Segments] = {}
    for vid in dict.fromkeys(v for f in files for v in f):
        entries = [f[vid] for f in files if vid in f]
        spans = np.concatenate([e.spans for e in entries]).reshape(-1, 2)
        duration = next((e.duration for e in entries if e.duration is not None), None)
        out[vid] = Segments(spans, [x for e in entries for x in e.sentences], duration)
    return out


def videos_to_score(preds: dict[str, Segments], refs: RefFiles, compat: bool
                    ) -> list[tuple[str, Segments, list[tuple[int, Segments]]]]:
    """(video, predictions, [(file index, references of that file)]) for every reference video the mode
    scores (see module doc); the videos are the union over the reference files, in order of appearance.
    Empty when no reference video has segments, or in compat when none has predictions."""
    files = reference_files(refs)
    out = []
    for vid in dict.fromkeys(v for f in files for v in f):
        entries = [(k, f[vid]) for k, f in enumerate(files) if vid in f and len(f[vid])]
        if not entries or (compat and vid not in preds):
            continue
        duration = next((r.duration for _, r in entries if r.duration is not None), None)
        pred = preds.get(vid, Segments.empty())
        out.append((vid, pred if compat else clip_to_duration(pred, duration), entries))
    return out


def soda_by_file(files: Sequence[int], p: np.ndarray, r: np.ndarray, f: np.ndarray) -> tuple[float, float, float]:
    """SODA_c of the set: per reference file the mean over its videos, then the mean over the files
    (VidChapters' / PDVC's `eval_soda`, which runs SODA on each reference file and averages)."""
    files = np.asarray(files)
    out = []
    for values in (p, r, f):
        out.append(float(np.mean([np.mean(values[files == k]) for k in dict.fromkeys(files.tolist())])))
    return out[0], out[1], out[2]


def dense_captioning_metrics(preds: dict[str, Segments], refs: RefFiles, text: TextScorer, *,
                             compat: bool = False, tious: Sequence[float] = TIOUS,
                             distances: Sequence[float] = DISTANCES, max_proposals: int = 1000,
                             soda: bool = True, seed: int = 0) -> tuple[dict[str, float], pd.DataFrame]:
    """Metrics of the whole set and one row of scores per reference video. `refs` is one reference set or
    a list of them (densevid_eval's several ground-truth files): caption pairs pool the references of all
    files, precision and recall take each video's best file (each separately), SODA_c is averaged over files."""
    videos = videos_to_score(preds, refs, compat)
    if not videos:  # compat with no predicted reference video: the tools average over nothing (null here)
        return _null_metrics(tious, distances, soda), _per_video_frame([], tious)
    pooled = {vid: _pool(entries) for vid, _, entries in videos}
    text.tokenize(texts_needed({v: p for v, p, _ in videos}, pooled, seed))
    rows, groups, soda_videos, soda_owner = [], [], [], []
    for vid, pred, entries in videos:
        for k, ref_k in entries:
            soda_videos.append((pred, ref_k))
            soda_owner.append((len(rows), k))
        ref = pooled[vid]
        dvc = pred.take(np.arange(min(len(pred), max_proposals)))
        iou = tiou_matrix(dvc.spans, ref.spans, eps=DENSEVID_EPS)
        p_tok = [text.tok(remove_nonascii(s)) for s in dvc.sentences]
        r_tok = [text.tok(remove_nonascii(s)) for s in ref.sentences]
        garbage = [text.tok(random_caption(seed, vid))]
        row = {"video_id": vid, "status": "scored" if vid in preds else "no_predictions",
               "n_predictions": len(pred), "n_references": len(ref)}
        if len(entries) > 1:
            row["n_reference_files"] = len(entries)
        bounds = np.cumsum([0] + [len(r) for _, r in entries])  # each file's columns of `iou`
        for t in tious:
            group: list[Pair] = []
            for i in range(len(dvc)):
                js = np.flatnonzero(iou[i] >= t)
                group += [(p_tok[i], [r_tok[j]]) for j in js] if len(js) else [(p_tok[i], garbage)]
            groups.append(group)
            row[f"precision@{key(t)}"], row[f"recall@{key(t)}"] = _best_hits(iou > t, bounds, len(dvc))
        start_gap = np.abs(dvc.spans[:, 0:1] - ref.spans[None, :, 0])
        for d in distances:
            row[f"precision@{key(d)}s"], row[f"recall@{key(d)}s"] = _best_hits(start_gap < d, bounds, len(dvc))
        rows.append(row)

    plan = plan_soda(soda_videos, text, compat) if soda else None
    scored, _, soda_meteor = text.score_groups(groups, segments=plan.pairs if plan else ())
    for k, row in enumerate(rows):
        for j, t in enumerate(tious):
            for m in CAPTION_METRICS:
                row[f"{m}@{key(t)}"] = scored[k * len(tious) + j][m]
    soda_set = None
    if plan is not None:
        p, r, f = finish_soda(plan, soda_meteor)
        owners = np.array([o for o, _ in soda_owner])
        for k, row in enumerate(rows):
            mine = owners == k
            row.update(soda_c=float(np.mean(f[mine])), soda_c_precision=float(np.mean(p[mine])),
                       soda_c_recall=float(np.mean(r[mine])))
        soda_set = soda_by_file([k for _, k in soda_owner], p, r, f)
    return _summarise(rows, tious, distances, soda_set), _per_video_frame(rows, tious)


def _pool(entries: list[tuple[int, Segments]]) -> Segments:
    """One video's references of all files, concatenated in file order."""
    if len(entries) == 1:
        return entries[0][1]
    return Segments(np.concatenate([r.spans for _, r in entries]), [x for _, r in entries for x in r.sentences],
                    entries[0][1].duration)


def _best_hits(matrix: np.ndarray, bounds: np.ndarray, n_pred: int) -> tuple[float, float]:
    """(precision, recall) of one video, each the best over its reference files (columns bounds[k]:bounds[k+1])."""
    best_p, best_r = 0.0, 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        p, r = _hits(matrix[:, lo:hi], n_pred, int(hi - lo))
        best_p, best_r = max(best_p, p), max(best_r, r)
    return best_p, best_r


def _summarise(rows: list[dict], tious, distances, soda: tuple[float, float, float] | None) -> dict[str, float]:
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
    if soda is not None:
        out["soda_c"], out["soda_c_precision"], out["soda_c_recall"] = soda[2], soda[0], soda[1]
    out["videos_evaluated"] = float(len(rows))
    return out


def _null_metrics(tious, distances, soda: bool) -> dict[str, float | None]:
    """Every metric null and `videos_evaluated` 0: nothing to average (compat skips unpredicted videos)."""
    out: dict[str, float | None] = {}
    for m in CAPTION_METRICS:
        out[m] = None
        out.update({f"{m}@{key(t)}": None for t in tious})
    for suffix in [key(t) for t in tious] + [f"{key(d)}s" for d in distances]:
        out.update({f"{n}@{suffix}": None for n in ("precision", "recall", "f1")})
    out.update(precision=None, recall=None, f1=None)
    if soda:
        out.update(soda_c=None, soda_c_precision=None, soda_c_recall=None)
    out["videos_evaluated"] = 0.0
    return out


def _per_video_frame(rows: list[dict], tious) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=["video_id", "status", "n_predictions", "n_references", *CAPTION_METRICS,
                                     "precision", "recall", "soda_c"])
    df = pd.DataFrame(rows)
    for m in (*CAPTION_METRICS, "precision", "recall"):
        df[m] = df[[f"{m}@{key(t)}" for t in tious]].mean(axis=1)
    first = ["video_id", "status", "n_predictions", "n_references", *CAPTION_METRICS, "precision", "recall"]
    first += [c for c in ("soda_c", "soda_c_precision", "soda_c_recall") if c in df]
    return df[first + [c for c in df.columns if c not in first]]
