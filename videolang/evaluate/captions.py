"""The COCO caption protocol (chapter titles with ground-truth boundaries): BLEU, METEOR, ROUGE-L, CIDEr-D.

As pycocoevalcap's COCOEvalCap: PTB tokenisation (no ASCII folding), corpus BLEU
and METEOR over all items, mean ROUGE-L and CIDEr-D (document frequencies over all
references of the evaluated set). VidChapters' chapter-title evaluation passes the
predictions as the references and the ground truth as the hypotheses for all four
scorers; `compat=True` reproduces that swap (it needs one reference per item). The
corrected default scores a missing prediction as an empty caption; compat skips it.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import pandas as pd

from videolang.core.errors import BadInputError
from videolang.evaluate.inputs import InputReport, read_source, refuse_duplicate_ids, unwrap_results
from videolang.evaluate.text import CAPTION_METRICS, TextScorer


def caption_metrics(predictions: Mapping[Hashable, str], references: Mapping[Hashable, Sequence[str]],
                    text: TextScorer, *, compat: bool = False) -> tuple[dict[str, float], pd.DataFrame]:
    """Metrics over all items and one row per item."""
    ids = [i for i in references if i in predictions or not compat]
    if not ids:  # compat skips unpredicted items: with none predicted there is nothing to average (null)
        frame = pd.DataFrame(columns=["id", "status", "prediction", "references", *CAPTION_METRICS])
        return {**{m: None for m in CAPTION_METRICS}, "items_evaluated": 0.0}, frame
    if compat and any(len(references[i]) != 1 for i in ids):
        raise BadInputError("compat mode (VidChapters' argument swap) needs exactly one reference per item")
    hyps = {i: predictions.get(i, "") for i in ids}
    text.tokenize([*hyps.values(), *(r for i in ids for r in references[i])])
    if compat:
        group = [(text.tok(references[i][0]), [text.tok(hyps[i])]) for i in ids]
    else:
        group = [(text.tok(hyps[i]), [text.tok(r) for r in references[i]]) for i in ids]
    (metrics,), (items,), _ = text.score_groups([group], per_item=True)
    frame = pd.DataFrame({"id": [str(i) for i in ids],
                          "status": ["scored" if i in predictions else "no_prediction" for i in ids],
                          "prediction": [hyps[i] for i in ids],
                          "references": [" ||| ".join(references[i]) for i in ids],
                          **{m: items[m] for m in CAPTION_METRICS}})
    return {**{m: float(v) for m, v in metrics.items()}, "items_evaluated": float(len(ids))}, frame


# -- files ----------------------------------------------------------------------------------
def load_caption_references(source: Any) -> dict[str, list[str]]:
    """Our chapter-captioning task file `{"<video>#<i>": {"sentence", "segment", ...}}`, the dense layout
    `{video: {timestamps, sentences}}` (items `video#i`), or a flat `{id: caption}` / `{id: [captions]}`."""
    data, name = read_source(source, "references")
    if not isinstance(data, Mapping) or not data:
        raise BadInputError("references must be a non-empty JSON object", name)
    refuse_duplicate_ids(data, name, "item or video")
    refs: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and isinstance(value.get("sentences"), list):
            for i, s in enumerate(value["sentences"]):
                refs[f"{key}#{i}"] = [_caption(s, f"{key}#{i}", name)]
        elif isinstance(value, Mapping):
            refs[key] = [_caption(value.get("sentence"), key, name)]
        elif isinstance(value, list) and value:
            refs[key] = [_caption(s, key, name) for s in value]
        else:
            refs[key] = [_caption(value, key, name)]
    return refs


def load_caption_predictions(source: Any, ref_ids: Sequence[str], report: InputReport) -> dict[str, str]:
    """`{id: caption}`; per video `{video: [caption per reference segment]}` or ActivityNet-style
    `{"results": {video: [{"sentence": ...}]}}`, matched to the reference segments by position."""
    data, name = read_source(source, "predictions")
    data = unwrap_results(data)
    if isinstance(data, list) and not data:  # `[]` or a .jsonl file without rows: no predictions at all
        data = {}
    if not isinstance(data, Mapping):
        raise BadInputError("predictions must be a JSON object {id: caption} or {video: [captions]}", name)
    refuse_duplicate_ids(data, name, "item or video")
    known = set(ref_ids)
    preds: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, list):
            for i, v in enumerate(value):
                item = f"{key}#{i}"
                caption = v.get("sentence", v.get("title")) if isinstance(v, Mapping) else v
                if not isinstance(caption, str):
                    report.add("predictions_dropped_not_a_string", f"{item}: {str(v)[:60]}")
                elif item not in known:
                    report.add("predictions_for_unknown_items", item)
                else:
                    preds[item] = caption
        elif isinstance(value, str):
            if key in known:
                preds[key] = value
            else:
                report.add("predictions_for_unknown_items", key)
        else:
            report.add("predictions_dropped_not_a_string", f"{key}: {str(value)[:60]}")
    for item in ref_ids:
        if item not in preds:
            report.add("items_without_predictions", item)
        elif not preds[item].strip():
            report.add("predictions_with_empty_caption", item)
    return preds


def _caption(value: Any, item: str, name: str) -> str:
    if not isinstance(value, str):
        raise BadInputError(f"item {item!r}: reference caption is not a string: {value!r}", name)
    return value

