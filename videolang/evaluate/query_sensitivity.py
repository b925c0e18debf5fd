"""Does a grounding model read the query? Two figures over the videos that have several queries.

A model that learned only where moments usually lie (a positional prior) returns the same window
whatever the query, and still scores R@1 like one that reads it. Over the videos with at least two
distinct queries (query text, case and surrounding spaces ignored; a query without text counts as
distinct), per protocol:

- `qs_top1_changed`: the share of those videos whose top-1 window (the protocol's: best-scored in
  corrected, first in compat; compared to the millisecond) is not the same for all their queries.
  Queries without a predicted window are left out; a video left with fewer than two predicted
  queries counts as unchanged (it showed no dependence).
- `qs_shuffled_r1@<t>`: R@1 at IoU t when each query's prediction is scored against the reference
  windows of another query of the same video (a deterministic derangement: the next query of the
  video in reference-file order, the last one taking the first's), next to `qs_r1@<t>`, the true R@1
  on the same queries. A model that ignores the query scores the same on both (the rotation permutes
  the references of a video among its queries); one that reads it scores far lower shuffled.
- Videos with a single query (or a single distinct query text) are left out of all of these, so
  `qs_r1@<t>` can differ from the overall `r1@<t>`; `qs_videos_evaluated` and `qs_queries_evaluated`
  count what is in. Queries without a predicted window score 0, as in R@1. Nothing is reported when no
  video has two distinct queries.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from videolang.evaluate.grounding import R1_TIOUS, Query, key, protocol_gt, score_query


def _text(ref: Query) -> str:
    return " ".join(ref.query.split()).lower() or f"\0{ref.qid}"


def query_groups(refs: dict[str, Query], compat: bool = False) -> dict[str, list[tuple[str, np.ndarray]]]:
    """{vid: [(qid, reference windows under the protocol), ...]} for the videos with >= 2 distinct queries,
    queries in reference order (those left without a window by the protocol are not queries here)."""
    by_video: dict[str, list[tuple[str, str, np.ndarray]]] = {}
    for qid, ref in refs.items():
        gt = protocol_gt(ref, compat)
        if len(gt):
            by_video.setdefault(ref.vid, []).append((qid, _text(ref), gt))
    return {vid: [(q, gt) for q, _, gt in queries] for vid, queries in by_video.items()
            if len({text for _, text, _ in queries}) >= 2}


def query_sensitivity(preds: dict[str, Query], refs: dict[str, Query], *, compat: bool = False,
                      r1_tious: Sequence[float] = R1_TIOUS) -> tuple[dict[str, float], pd.DataFrame]:
    """The `qs_*` metrics and per-query rows (qid, partner qid, shuffled R@1); ({}, empty) when no video has
    two distinct queries."""
    groups = query_groups(refs, compat)
    if not groups:
        return {}, pd.DataFrame()
    rows, changed = [], 0
    for vid, queries in groups.items():
        tops = set()
        for i, (qid, gt) in enumerate(queries):
            partner, partner_gt = queries[(i + 1) % len(queries)]
            pred = preds.get(qid)
            true = score_query(pred, gt, compat, r1_tious, (), ())
            shuffled = score_query(pred, partner_gt, compat, r1_tious, (), ())
            if pred is not None and len(pred.windows):
                tops.add((round(true["top1_start"], 3), round(true["top1_end"], 3)))
            row = {"qid": qid, "qs_partner": partner}
            row.update({f"qs_r1@{key(t)}": true[f"r1@{key(t)}"] for t in r1_tious})
            row.update({f"qs_shuffled_r1@{key(t)}": shuffled[f"r1@{key(t)}"] for t in r1_tious})
            rows.append(row)
        changed += len(tops) >= 2
    frame = pd.DataFrame(rows)
    out = {"qs_top1_changed": changed / len(groups)}
    for t in r1_tious:
        out[f"qs_r1@{key(t)}"] = float(frame[f"qs_r1@{key(t)}"].mean())
        out[f"qs_shuffled_r1@{key(t)}"] = float(frame[f"qs_shuffled_r1@{key(t)}"].mean())
    out["qs_videos_evaluated"] = float(len(groups))
    out["qs_queries_evaluated"] = float(len(frame))
    return out, frame.drop(columns=[f"qs_r1@{key(t)}" for t in r1_tious])
