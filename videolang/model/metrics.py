"""Validation / test scores for model selection, computed with `videolang.evaluate`.

The model never re-implements a metric: events are scored with the evaluate
stage's dense-captioning metrics and SODA_c, titles with its caption metrics.
"""
from __future__ import annotations

from typing import Any


def dvc_predictions(outputs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Decoded items -> ActivityNet-style results `{video_id: [{"timestamp": [s, e], "sentence": t}]}`."""
    return {o["video_id"]: [{"timestamp": [float(s), float(e)], "sentence": t} for s, e, t in o["events"]]
            for o in outputs}


def dvc_references(outputs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The references carried by decoded items, in the DVC task-file layout."""
    return {o["video_id"]: {"duration": o["duration"], "timestamps": [[s, e] for s, e, _ in o["references"]],
                            "sentences": [t for _, _, t in o["references"]]} for o in outputs}


def caption_pairs(outputs: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Decoded title items -> ({key: predicted title}, {key: [reference title]})."""
    preds, refs = {}, {}
    for o in outputs:
        k = int(o["key"].rsplit("#", 1)[1])
        preds[o["key"]] = o["title"]
        refs[o["key"]] = [o["references"][k][2]]
    return preds, refs


def score_predictions(mode: str, outputs: list[dict[str, Any]], compat_swap_soda: bool = False) -> dict[str, float]:
    """Metrics for decoded items: events -> soda_c, cider, meteor, f1_05 ...; titles -> cider, meteor ..."""
    from videolang import evaluate

    if not hasattr(evaluate, "model_selection_scores"):  # TEMPORARY until the evaluate API lands
        return _interim_scores(mode, outputs)
    if mode == "events":
        return evaluate.model_selection_scores(dvc_predictions(outputs), dvc_references(outputs),
                                               compat_swap_soda=compat_swap_soda)
    preds, refs = caption_pairs(outputs)
    return evaluate.caption_selection_scores(preds, refs)


def _interim_scores(mode: str, outputs: list[dict[str, Any]]) -> dict[str, float]:
    import numpy as np

    from videolang.core.spans import tiou_matrix

    if mode != "events":
        preds, refs = caption_pairs(outputs)
        return {"title_exact": float(np.mean([preds[k].lower() == refs[k][0].lower() for k in preds]))}
    f1s = []
    for o in outputs:
        p = np.array([[s, e] for s, e, _ in o["events"]]).reshape(-1, 2)
        r = np.array([[s, e] for s, e, _ in o["references"]]).reshape(-1, 2)
        m = tiou_matrix(p, r) > 0.5
        prec = m.any(1).mean() if len(p) else 0.0
        rec = m.any(0).mean() if len(r) else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return {"f1_05": float(np.mean(f1s))}
