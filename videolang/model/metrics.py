"""Validation / test scores for model selection, computed with `videolang.evaluate`.

The model never re-implements a metric: events are scored with the evaluate
stage's densevid_eval metrics and SODA_c (`evaluate_dense_captioning`), titles
with its COCO caption metrics (`evaluate_captions`). Logged names are the
evaluate names with `@` spelled `_` for loggers (`f1@0.5` -> `f1_0.5`).
"""
from __future__ import annotations

from typing import Any

# What is logged at validation (the full table goes to metrics_<split>.json at test time).
EVENT_KEYS = ("soda_c", "cider", "meteor", "f1", "f1@0.5", "precision", "recall", "bleu_4")
TITLE_KEYS = ("cider", "meteor", "bleu_4", "rouge_l")


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


def log_name(metric: str) -> str:
    return metric.replace("@", "_")


def score_predictions(mode: str, outputs: list[dict[str, Any]], compat: bool = False,
                      full: bool = False, meteor: Any = None) -> dict[str, float]:
    """Metrics of decoded items: events -> soda_c, cider, meteor, f1 ...; titles -> cider, meteor, ...

    `full` returns every metric the evaluator computes instead of the selection subset;
    `meteor` is a running `videolang.evaluate.Meteor` to reuse (one JVM for a whole training run).
    """
    from videolang.evaluate import evaluate_captions, evaluate_dense_captioning

    if mode == "events":
        metrics = evaluate_dense_captioning(dvc_predictions(outputs), dvc_references(outputs), compat=compat,
                                            meteor=meteor)
        keys = EVENT_KEYS
    else:
        preds, refs = caption_pairs(outputs)
        metrics = evaluate_captions(preds, refs, compat=compat, meteor=meteor)
        keys = TITLE_KEYS
    chosen = metrics if full else {k: metrics[k] for k in keys if k in metrics}
    return {log_name(k): float(v) for k, v in chosen.items() if isinstance(v, (int, float))}
