"""Moment-DETR's row of the grounding benchmark: train `model=moment_detr` on a benchmark's corpus, return its
held-out predictions.

A helper for `benchmarks/bench_grounding.py` (not a benchmark of its own): after `prepare_narrated_corpus`
has filled a work folder (sample videos, the tiny zoo, `built/sample/tasks/grounding_<split>.jsonl`, the
tiny-CLIP frames in the feature store), `train_moment_detr(work, seed)` runs

    python -m videolang.run stage=train experiment=sample_moment_detr <the work folder's paths> seed=<seed>

(the tiny Moment-DETR: the zoo's tiny CLIP text tower for the query tokens, the store's frames as 1 s clips,
the published recipe: AdamW lr 1e-4, weight decay 1e-4, batch 32, 200 epochs, validation every 5 epochs as
the reference evaluates, selection on val mAP) and returns `<run>/predictions_test.jsonl`, the test split
decoded with the best checkpoint (Moment-DETR JSONL with `pred_saliency_scores`), for
`videolang.evaluate.evaluate_grounding` against the same `grounding_test.jsonl` as the other rows.

    from benchmarks.grounding_moment_detr import train_moment_detr
    predictions = train_moment_detr(work, seed=7)                   # 3 seeds: call it with each
    predictions = train_moment_detr(work, seed=7, epochs=20, minutes=2, overrides=["model.optimizer.lr=1e-3"])

It reads no transcript, so it is the row whose score must come from the frames and the query alone (the
`--titles-not-spoken` variant's test). In `bench_grounding.py`'s own training loop the same run is one line of
`TRAINED`: `Trained("Moment-DETR (tiny)", ("experiment=sample_moment_detr",))` (its `train()` then sets
`trainer.max_epochs=--epochs` and validates every 2 epochs instead of this function's 200 and 5).
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import run_stage, time_limit, work_overrides  # noqa: E402

LABEL = "Moment-DETR (tiny, frames + query tokens)"


def train_moment_detr(work: Path, seed: int, epochs: int = 200, minutes: float = 10.0,
                      overrides: Sequence[str] = (), log_dir: Path | None = None) -> Path:
    """Train on `work`'s corpus (a `prepare_narrated_corpus` folder) and return the test predictions file.

    `minutes` bounds the training wall time (`trainer.max_time`, a safety net: the run then stops early and
    is still tested with its best checkpoint); `overrides` are extra Hydra overrides of the train stage.
    """
    work = Path(work)
    train_dir = run_stage("stage=train", *work_overrides(work, seed), "experiment=sample_moment_detr",
                          f"trainer.max_epochs={epochs}", time_limit(minutes), "trainer.check_val_every_n_epoch=5",
                          "callbacks.epoch_checkpoint.save_top_k=1", *overrides,
                          log_dir=Path(log_dir) if log_dir else work / "logs")
    predictions = train_dir / "predictions_test.jsonl"
    if not predictions.is_file():
        raise SystemExit(f"Moment-DETR training in {train_dir} wrote no test predictions (is there a test split "
                         f"in {work / 'data' / 'built' / 'sample' / 'tasks'}?)")
    return predictions
