"""Dense-captioning evaluation speed: 2,000 videos, ~8 predicted and ~8 reference chapters each,
the full densevid_eval + SODA_c set, against the reference tools' structure measured in the same run.

    python benchmarks/bench_evaluate.py [--videos 2000] [--baseline-videos 100]

Ours: one PTB call and one METEOR process for the whole evaluation, every METEOR pair streamed,
vectorised IoU and SODA dynamic programme (`videolang.evaluate.evaluate_dense_captioning`).
Baseline: the reference tools' loops (tests/evaluate/reference_tools.py: VidChapters' eval_dvc
and SODA), i.e. pycocoevalcap's scorers called per video and per tIoU, its METEOR wrapper sending
one pair at a time, the recursive SODA programme. It runs on a subset and is extrapolated
linearly; to be generous to it, its text is tokenised once up front (the real tools start the
PTB tokenizer once per scorer and tIoU) and its METEOR process start is not counted.
On the subset both must give the same numbers; the script checks that too.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("add the onion garlic and pepper to pan with oil then stir fry for minutes until golden brown "
         "cut chicken into small pieces season salt sugar sauce mix well boil water pasta drain serve "
         "plate garnish fresh herbs bake oven preheat flour butter eggs whisk bowl pour batter cake "
         "intro introduction outro conclusion review unboxing setup install tutorial part step final "
         "thoughts overview features price camera battery screen design test results comparison tips "
         "tricks how make build paint wall wood glue sand drill screw measure mark clean finish coat "
         "game play level boss fight guide walkthrough map secret items weapons upgrade story ending "
         "song music lyrics chorus verse bridge guitar drums piano solo live performance interview "
         "question answer history background problem solution example demo code function data model "
         "training results summary goodbye welcome channel subscribe update news week today").split()


def synthetic_set(n_videos: int, seed: int = 0):
    """VidChapters-like chapters that tile each video, and predictions with jittered boundaries
    and titles that are copies, edits or new text."""
    rng = random.Random(seed)

    def title():
        return " ".join(rng.choices(WORDS, k=rng.randint(2, 8)))

    refs, preds = {}, {}
    for v in range(n_videos):
        duration = rng.uniform(300, 1800)
        n = rng.randint(6, 10)
        cuts = sorted(rng.uniform(0, duration) for _ in range(n - 1))
        bounds = [0.0, *cuts, duration]
        titles = [title() for _ in range(n)]
        vid = f"video{v:05d}"
        refs[vid] = {"duration": duration, "timestamps": [[bounds[i], bounds[i + 1]] for i in range(n)],
                     "sentences": titles}
        m = max(1, n + rng.randint(-2, 2))
        pcuts = sorted(min(duration, max(0.0, c + rng.gauss(0, 20))) for c in rng.sample(cuts, min(len(cuts), m - 1)))
        pbounds = [0.0, *pcuts, duration]
        events = []
        for i in range(len(pbounds) - 1):
            r = rng.random()
            if r < 0.4:
                text = titles[min(i, n - 1)]
            elif r < 0.7:
                words = titles[min(i, n - 1)].split()
                words[rng.randrange(len(words))] = rng.choice(WORDS)
                text = " ".join(words)
            else:
                text = title()
            events.append({"timestamp": [pbounds[i], pbounds[i + 1]], "sentence": text})
        preds[vid] = events
    return preds, refs


def ours(preds, refs):
    from videolang.evaluate import evaluate_dense_captioning

    start = time.perf_counter()
    metrics = evaluate_dense_captioning({"results": preds}, refs, soda=True)
    return time.perf_counter() - start, metrics


class PretokenizedPTB:
    """pycocoevalcap's tokenize() interface over texts tokenised once by our PTB call."""

    def __init__(self, tokens):
        self.tokens = tokens

    def tokenize(self, captions):
        return {k: [self.tokens[c["caption"]] for c in v] for k, v in captions.items()}


def baseline(preds, refs):
    from pycocoevalcap.meteor.meteor import Meteor as CocoMeteor

    from tests.evaluate.reference_tools import reference_eval_dvc, reference_soda_c, remove_nonascii
    from videolang.evaluate import ptb_tokenize
    from videolang.evaluate.densevid import random_caption

    texts = [remove_nonascii(s) for p in preds.values() for e in p for s in [e["sentence"]]]
    texts += [remove_nonascii(s) for r in refs.values() for s in r["sentences"]]
    texts += [random_caption(0, vid) for vid in refs]
    tokenizer = PretokenizedPTB(ptb_tokenize(texts))
    meteor = CocoMeteor()
    meteor.compute_score({0: ["warm up"]}, {0: ["warm up"]})  # the JVM start is not timed
    start = time.perf_counter()
    dvc = reference_eval_dvc(preds, refs, meteor, lambda vid: random_caption(0, vid), tokenizer=tokenizer)
    p, r, f = reference_soda_c(preds, refs, meteor, swap=False, tokenizer=tokenizer)
    elapsed = time.perf_counter() - start
    meteor.meteor_p.kill()
    return elapsed, {"meteor": dvc["METEOR"], "cider": dvc["CIDEr"], "bleu_4": dvc["Bleu_4"],
                     "recall@0.5": dvc["Recall@0.5"], "soda_c": f}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--baseline-videos", type=int, default=100)
    args = parser.parse_args()

    preds, refs = synthetic_set(args.videos)
    n_pred = sum(len(p) for p in preds.values()) / len(preds)
    n_ref = sum(len(r["sentences"]) for r in refs.values()) / len(refs)
    print(f"{args.videos} videos, {n_pred:.1f} predicted and {n_ref:.1f} reference chapters per video")

    seconds, metrics = ours(preds, refs)
    print(f"ours:     {seconds:7.1f} s for {args.videos} videos = {1000 * seconds / args.videos:6.1f} ms/video "
          f"(one METEOR start included)")
    print("          " + ", ".join(f"{k}={metrics[k]:.4f}" for k in ("soda_c", "cider", "meteor", "f1")))

    subset = list(refs)[:args.baseline_videos]
    sub_preds, sub_refs = {v: preds[v] for v in subset}, {v: refs[v] for v in subset}
    base_seconds, base_metrics = baseline(sub_preds, sub_refs)
    per_video = base_seconds / len(subset)
    print(f"baseline: {base_seconds:7.1f} s for {len(subset)} videos = {1000 * per_video:6.1f} ms/video "
          f"-> {per_video * args.videos:.0f} s extrapolated to {args.videos} videos (METEOR start not included)")

    _, sub_ours = ours(sub_preds, sub_refs)
    worst = max(abs(sub_ours[k] - v) for k, v in base_metrics.items())
    print(f"same numbers on the {len(subset)}-video subset: max |difference| = {worst:.2e} "
          f"({', '.join(base_metrics)})")
    ratio = per_video * args.videos / seconds
    print(f"ratio: {ratio:.1f}x faster than the per-video reference structure (target: under 60 s here: "
          f"{'met' if seconds < 60 else 'NOT met'})")
    if worst > 1e-9:
        raise SystemExit("the fast path and the reference structure disagree")


if __name__ == "__main__":
    main()
