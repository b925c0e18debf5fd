"""Chapter grounding: does the trained tiny Vid2Seq grounding head beat VidChapters' baselines?

The whole chain runs through the project's own stages (`python -m videolang.run ...`), like
benchmarks/bench_learning.py: make_sample (many small videos) -> make_zoo (tiny-clip, tiny-t5)
-> build_dataset (writes `tasks/grounding_<split>.jsonl`: one query per chapter, the query is
the chapter's title, the relevant window the chapter's span) -> extract (tiny-clip frames at
1 fps; the transcript is the generator's narration imported with the precomputed-ASR extractor)
-> train `experiment=sample_grounding` on the training split (bounded by `--minutes` of wall
time) -> its test-split predictions (`predictions_test.jsonl`, Moment-DETR JSON Lines).

Three rows on the held-out test split, all scored by `videolang.evaluate.evaluate_grounding`
against the same `grounding_test.jsonl` (R@1 at IoU 0.3 / 0.5 / 0.7, R@1 with the start within
3 s / 5 s, mAP over IoU 0.5:0.05:0.95; x100):
  1. random: uniformly random windows (`grounding_baselines.random_windows`, seeded; as many
     per query as the head returns, so mAP is not handicapped by the list length);
  2. zero-shot CLIP (VidChapters' `zs_vcgr.py`, `grounding_baselines.clip_zero_shot_window`):
     the query's CLIP text embedding against the per-second frame embeddings in the feature
     store's `visual` key, both from the same CLIP (the one the extract stage used) and both
     L2-normalised (CLIP's cosine); one window per query;
  3. ours: the tiny grounding head trained from scratch (query + transcript + frames in).
The goal (issue 10): the trained head beats both baselines on R@1@0.5 and on mAP. Exit code 1
when it does not; the numbers are printed either way. Also printed: whether the head's top-1
window depends on the query at all (a head that collapsed to one window per video scores R@1
like a positional prior; the goal line does not catch that, the warning does).

Setting, stated because it matters:
- Queries are chapter titles, and the generator's narration of a chapter talks about its
  topic, so the title's words are said in the transcript inside the chapter. The head reads
  that transcript with timestamps, which makes this task much easier than VidChapters'
  grounding on real YouTube chapters (where the title need not be spoken at all); read the
  head's numbers as "the head learned to use its inputs", not as a VidChapters result.
- The CLIP here is the zoo's tiny-clip: randomly initialised, never trained on image-text
  pairs. The zero-shot row therefore has the baseline's structure but not its knowledge; on
  this corpus it is expected near the random row. It is kept because it is the published
  baseline's procedure end to end (same extractor, same similarity rule).

    python benchmarks/bench_grounding.py                      # defaults: 140 videos, 50 epochs, <= 10 minutes
    python benchmarks/bench_grounding.py --videos 24 --epochs 2 --minutes 1   # a smoke run
Work files go to .cache/bench_grounding/ (reused by later runs when the options match; a finished
training run with the same options is reused too, with the wall time it took recorded).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import prepare_narrated_corpus, run_stage, time_limit, val_curve, work_overrides  # noqa: E402

METRICS = (("r1@0.3", "R1@0.3"), ("r1@0.5", "R1@0.5"), ("r1@0.7", "R1@0.7"), ("r1@3s", "R1@3s"),
           ("r1@5s", "R1@5s"), ("map", "mAP"))
OURS = "ours: tiny Vid2Seq grounding head"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=140)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--minutes", type=float, default=10.0, help="training wall-time limit (a safety net)")
    ap.add_argument("--epochs", type=int, default=50,
                    help="the schedule's length (cosine over all epochs); sized to end inside --minutes")
    ap.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench_grounding")
    ap.add_argument("--train-override", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra Hydra override for the train stage (repeatable); part of the reuse key")
    ap.add_argument("--train-dir", type=Path, default=None,
                    help="report on this finished stage=train run folder instead of training again")
    args = ap.parse_args()

    started = time.time()
    work = args.work / f"v{args.videos}-s{args.seed}"
    models, data, feats, logs = (work / n for n in ("models", "data", "features", "logs"))
    common = work_overrides(work, args.seed)
    print(f"== grounding benchmark: {args.videos} videos, {args.epochs} epochs / <= {args.minutes} min of "
          f"training, work dir {work}", flush=True)
    prepare_narrated_corpus(args.videos, work, common)

    seconds = int(args.minutes * 60)
    marker = work / f"train-e{args.epochs}-s{seconds}.json"  # a finished run with these options is reused
    done = json.loads(marker.read_text()) if marker.is_file() else None
    if done and done.get("overrides", []) != args.train_override:
        done = None
    if args.train_dir:
        train_dir, train_seconds = args.train_dir, None
    elif done and Path(done["dir"], "summary.json").is_file():
        train_dir, train_seconds = Path(done["dir"]), float(done["seconds"])
        print(f"  stage=train            reused {train_dir} ({train_seconds:.0f} s when it ran)")
    else:
        t = time.time()
        # experiment=sample_grounding's extractor default is `tiny` (Whisper speech): the store here holds
        # the precomputed transcript under the same `speech` key, which is what the data module reads.
        train_dir = run_stage(
            "stage=train", *common, "experiment=sample_grounding", f"trainer.max_epochs={args.epochs}",
            time_limit(seconds / 60), "trainer.check_val_every_n_epoch=2", "callbacks.epoch_checkpoint.save_top_k=1",
            *args.train_override, log_dir=logs)
        train_seconds = time.time() - t
        marker.write_text(json.dumps({"dir": str(train_dir), "seconds": train_seconds,
                                      "overrides": args.train_override}))
    summary = json.loads((train_dir / "summary.json").read_text())
    code = report(data / "built" / "sample" / "tasks", feats, models / "tiny-clip", train_dir, summary,
                  train_seconds, seconds, args.seed)
    print(f"total wall time of this run: {time.time() - started:.0f} s")
    return code


def clip_text_embeddings(clip_dir: Path, queries: list[str]) -> np.ndarray:
    """(n, D) projected text embeddings of the CLIP the extract stage used (transformers 4: a tensor;
    5: an output object whose pooler_output is the projection)."""
    import torch
    from transformers import AutoTokenizer, CLIPModel

    model = CLIPModel.from_pretrained(clip_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(clip_dir)
    out = []
    with torch.inference_mode():
        for lo in range(0, len(queries), 64):
            batch = tokenizer(queries[lo:lo + 64], padding=True, truncation=True, return_tensors="pt")
            emb = model.get_text_features(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            emb = emb if isinstance(emb, torch.Tensor) else emb.pooler_output
            out.append(emb.float().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def baseline_predictions(refs: list[dict], feats: Path, clip_dir: Path, seed: int, k: int) -> tuple[list, list]:
    """Moment-DETR rows for the random and the zero-shot CLIP baselines."""
    from videolang.backbone.sources import StoreFeatures
    from videolang.model.grounding_baselines import clip_zero_shot_window, random_windows

    rng = np.random.default_rng(seed)
    random_rows = [{"qid": r["qid"], "vid": r["vid"], "pred_relevant_windows": random_windows(float(r["duration"]), rng, k)}
                   for r in refs]
    text = _unit(clip_text_embeddings(clip_dir, [r["query"] for r in refs]))
    source = StoreFeatures(feats, speech_key=None)
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    clip_rows = []
    for r, t in zip(refs, text):
        if r["vid"] not in cache:
            f = source.get(r["vid"])
            cache[r["vid"]] = (_unit(np.asarray(f.frames, np.float64)), np.asarray(f.timestamps, np.float64))
        frames, times = cache[r["vid"]]
        clip_rows.append({"qid": r["qid"], "vid": r["vid"],
                          "pred_relevant_windows": clip_zero_shot_window(t, frames, times, float(r["duration"]))})
    return random_rows, clip_rows


def report(tasks: Path, feats: Path, clip_dir: Path, train_dir: Path, summary: dict, train_seconds: float | None,
           limit_seconds: int, seed: int) -> int:
    from videolang.core.io import read_jsonl
    from videolang.evaluate import evaluate_grounding

    refs_path = tasks / "grounding_test.jsonl"
    refs = read_jsonl(refs_path)
    preds_path = train_dir / "predictions_test.jsonl"
    ours = read_jsonl(preds_path) if preds_path.is_file() else []
    k = max((len(r["pred_relevant_windows"]) for r in ours), default=5)
    random_rows, clip_rows = baseline_predictions(refs, feats, clip_dir, seed, k)
    steps, epochs = summary.get("global_step"), summary.get("epochs")
    took = (f"train stage {train_seconds / 60:.1f} min (limit {limit_seconds / 60:g})" if train_seconds is not None
            else "train stage ? min (--train-dir)")
    runs = {
        f"random ({k} windows/query, seed {seed})": (random_rows, "none"),
        "zero-shot CLIP (tiny-clip, 1 window)": (clip_rows, "none"),
        OURS: (ours, f"{took}, {steps} steps / {epochs} ep"),
    }
    rows = {name: evaluate_grounding(preds, refs_path) for name, (preds, _) in runs.items()}

    answered = {r["qid"] for r in ours}
    print(f"\ntest split: {len(refs)} queries (chapter titles) over {len({r['vid'] for r in refs})} held-out videos; "
          f"the head answered {len(answered & {r['qid'] for r in refs})} of them (a missing one scores 0)")
    print(f"{'method':<38} " + " ".join(f"{label:>7}" for _, label in METRICS) + "  budget")
    for name, m in rows.items():
        print(f"{name:<38} " + " ".join(f"{100 * m[key]:7.2f}" for key, _ in METRICS) + f"  {runs[name][1]}")
    query_dependence(ours, refs)
    own = (summary.get("test") or {}).get("test/map")
    if own is not None:
        print(f"(the train stage's own test/map, computed by the module: {100 * own:.2f})")
    monitor = summary.get("monitor", "val/map")
    curve = val_curve(train_dir, monitor)
    print(f"{monitor} over training (epoch: value): " + ", ".join(f"{e}: {v:.3f}" for e, v in curve))

    head = rows[OURS]
    met = True
    for key, label in (("r1@0.5", "R@1@0.5"), ("map", "mAP")):
        for name, m in rows.items():
            if name == OURS:
                continue
            margin = 100 * (head[key] - m[key])
            met &= margin > 0
            print(f"  {label}: head - {name.split(' (')[0]}: {margin:+.2f} points")
    print(f"goal (head beats both baselines on R@1@0.5 and mAP): {'met' if met else 'NOT met'}")
    print(f"(metrics x100; R1@Ns: top-1 start within N s; mAP over IoU 0.5:0.05:0.95; the train stage's time "
          f"includes its start-up and the test decoding; run folder {train_dir})")
    return 0 if met else 1


def query_dependence(ours: list[dict], refs: list[dict]) -> None:
    """Does the head's top-1 window depend on the query? A head that collapsed to one window per video
    (or one position relative to the duration) scores R@1 as a positional prior would, not by grounding."""
    duration = {r["qid"]: float(r["duration"]) for r in refs}
    per_video: dict[str, set] = {}
    relative = set()
    for row in ours:
        if not row.get("pred_relevant_windows") or row["qid"] not in duration:
            continue
        s, e = row["pred_relevant_windows"][0][:2]
        per_video.setdefault(row["vid"], set()).add((round(s, 3), round(e, 3)))
        relative.add((round(s / duration[row["qid"]], 2), round(e / duration[row["qid"]], 2)))
    several = {v: w for v, w in per_video.items() if sum(r["vid"] == v for r in ours) > 1}
    distinct = sum(len(w) > 1 for w in several.values())
    print(f"query dependence of the head: {distinct} of {len(several)} videos with several test queries got "
          f"different top-1 windows for different queries; {len(relative)} distinct top-1 windows relative to "
          f"the duration over all queries")
    if several and distinct == 0:
        print("  WARNING: the head's top-1 window ignores the query (a positional prior); its R@1 rows measure "
              "that prior, not grounding")


if __name__ == "__main__":
    sys.exit(main())
