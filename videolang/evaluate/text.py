"""One evaluation's text scoring: a METEOR process, PTB tokens and the n-gram / LCS caches.

`TextScorer.score_groups` is pycocoevalcap's four scorers applied to many
independent groups of (hypothesis, references) items at once: densevid_eval
scores every (video, tIoU) group separately, the COCO protocol scores one group.
All METEOR requests of all groups go through the Java process in one stream,
while Python computes the other three metrics.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from videolang.evaluate.caption_metrics import NgramCache, bleu, cider_d, rouge_l
from videolang.evaluate.meteor import Meteor, Pair
from videolang.evaluate.ptb import ptb_tokenize

CAPTION_METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")


class TextScorer:
    """Owns (or borrows) a `Meteor` process; `close()` stops it only if it was started here."""

    def __init__(self, meteor: Meteor | None = None, java: str = "java"):
        self._owns_meteor = meteor is None
        self.meteor = Meteor(java=java) if meteor is None else meteor  # the JVM loads while we tokenise
        self.java = java
        self.tokens: dict[str, str] = {}
        self.ngrams = NgramCache()
        self.lcs: dict = {}

    def tokenize(self, texts: Iterable[str]) -> None:
        """PTB-tokenise every text not seen yet, in one tokenizer call; read them back with `tok`."""
        new = [t for t in dict.fromkeys(texts) if t not in self.tokens]
        if new:
            self.tokens.update(ptb_tokenize(new, java=self.java))

    def tok(self, text: str) -> str:
        return self.tokens[text]

    def score_groups(self, groups: Sequence[Sequence[Pair]], per_item: bool = False,
                     segments: Sequence[Pair] = ()) -> tuple[list[dict[str, float]], list[dict] | None, list[float]]:
        """Each group scored as pycocoevalcap scores one `compute_score` call (an empty group scores 0).

        Returns one {metric: value} per group, with `per_item` also the per-item scores of each group,
        and the METEOR score of each of `segments` (extra pairs scored on their own, e.g. SODA's).
        The Java process works through all METEOR requests in one stream on a thread of its own
        while BLEU, ROUGE-L and CIDEr-D are computed here."""
        flat = [p for g in groups for p in g]

        def java() -> tuple[list[float], list[float]]:
            self.meteor.stats(flat + list(segments))
            corpus = self.meteor.corpus_scores(groups)
            return corpus, self.meteor.segment_scores((flat if per_item else []) + list(segments))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="meteor") as pool:
            future = pool.submit(java)
            rows, items = [], ([] if per_item else None)
            for group in groups:
                rows.append(self._python_metrics(group, items))
            meteor, seg = future.result()
        for row, value in zip(rows, meteor):
            row["meteor"] = value
        if per_item:
            at = 0
            for group, item in zip(groups, items):
                item["meteor"] = np.array(seg[at:at + len(group)])
                at += len(group)
            seg = seg[at:]
        return rows, items, seg

    def _python_metrics(self, group: Sequence[Pair], items: list | None) -> dict[str, float]:
        if not group:
            if items is not None:
                items.append({m: np.zeros(0) for m in CAPTION_METRICS})
            return dict.fromkeys(CAPTION_METRICS, 0.0)
        hyps = [h for h, _ in group]
        refs = [r for _, r in group]
        b, b_items = bleu(hyps, refs, self.ngrams, per_item=items is not None)
        r, r_items = rouge_l(hyps, refs, self.lcs)
        c, c_items = cider_d(hyps, refs, self.ngrams)
        if items is not None:
            items.append({**{f"bleu_{k + 1}": np.array(b_items[k]) for k in range(4)},
                          "rouge_l": r_items, "cider": c_items})
        return {"bleu_1": b[0], "bleu_2": b[1], "bleu_3": b[2], "bleu_4": b[3], "meteor": 0.0,
                "rouge_l": r, "cider": c}

    def close(self) -> None:
        if self._owns_meteor:
            self.meteor.close()

    def __enter__(self) -> "TextScorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
