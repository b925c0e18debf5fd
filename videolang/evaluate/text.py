"""One evaluation's text scoring: a METEOR process, PTB tokens and the n-gram / LCS caches.

`TextScorer.score_groups` is pycocoevalcap's four scorers applied to many
independent groups of (hypothesis, references) items at once: densevid_eval
scores every (video, tIoU) group separately, the COCO protocol scores one group.
All METEOR statistics of all groups go through the Java process in one stream.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

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

    def prefetch(self, pairs: Sequence[Pair]) -> None:
        """Stream METEOR statistics for pairs needed later, so the Java process works in one go."""
        self.meteor.stats(pairs)

    def score_groups(self, groups: Sequence[Sequence[Pair]], per_item: bool = False
                     ) -> tuple[list[dict[str, float]], list[dict[str, np.ndarray]] | None]:
        """Each group scored as pycocoevalcap scores one `compute_score` call (an empty group scores 0).

        Returns one {metric: corpus value} per group and, with `per_item`, the per-item scores too."""
        meteor = self.meteor.corpus_scores(groups)
        segment = None
        if per_item:
            flat = [p for g in groups for p in g]
            segment = iter(self.meteor.segment_scores(flat))
        rows, items = [], ([] if per_item else None)
        for group, met in zip(groups, meteor):
            if not group:
                rows.append(dict.fromkeys(CAPTION_METRICS, 0.0))
                if per_item:
                    items.append({m: np.zeros(0) for m in CAPTION_METRICS})
                continue
            hyps = [h for h, _ in group]
            refs = [r for _, r in group]
            b, b_items = bleu(hyps, refs, self.ngrams, per_item=per_item)
            r, r_items = rouge_l(hyps, refs, self.lcs)
            c, c_items = cider_d(hyps, refs, self.ngrams)
            rows.append({"bleu_1": b[0], "bleu_2": b[1], "bleu_3": b[2], "bleu_4": b[3],
                         "meteor": met, "rouge_l": r, "cider": c})
            if per_item:
                items.append({**{f"bleu_{k + 1}": np.array(b_items[k]) for k in range(4)},
                              "meteor": np.array([next(segment) for _ in group]),
                              "rouge_l": r_items, "cider": c_items})
        return rows, items

    def close(self) -> None:
        if self._owns_meteor:
            self.meteor.close()

    def __enter__(self) -> "TextScorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
