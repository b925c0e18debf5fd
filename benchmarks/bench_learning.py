"""Proof that the Vid2Seq head learns: a tiny model trained from scratch on CPU beats trivial baselines.

The whole chain runs through the project's own stages (`python -m videolang.run ...`):
make_sample (a larger corpus at small resolution) -> make_zoo (tiny-clip, tiny-t5 with a
tokenizer trained on this corpus) -> build_dataset -> extract (tiny-clip frames at 1 fps;
the transcript is the generator's narration imported with the precomputed-ASR extractor,
so the benchmark does not spend half an hour in Whisper on 2 cores) -> train (bounded
by `--minutes` of wall time) -> test-split predictions.

Printed: SODA_c, CIDEr and F1@0.5 on the held-out test split for the model and for
  (a) a uniform split into the training set's average number of chapters, every one
      titled with the most frequent training title, and
  (b) boundaries at visual scene changes titled with each segment's first transcript sentence,
the ratio model / (a) on SODA_c (must be >= 2) and the validation metric over training
(must rise). Exit code 1 when either check fails.

    python benchmarks/bench_learning.py                  # defaults: 160 videos, 100 epochs, <= 10 minutes
    python benchmarks/bench_learning.py --videos 80 --epochs 40 --minutes 4
Work files go to .cache/bench_learning/ (reused by later runs when the options match).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_stage(*overrides: str, log_dir: Path) -> Path:
    """One `python -m videolang.run` call; returns its output folder."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "videolang.run", *overrides, f"paths.log_dir={log_dir}"]
    started = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    folders = re.findall(r"\[videolang\] output folder: (.+)", proc.stderr)
    if proc.returncode not in (0, 3) or not folders:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"failed: {' '.join(overrides[:2])} (exit {proc.returncode})")
    print(f"  {overrides[0]:<22} {time.time() - started:7.1f} s", flush=True)
    return Path(folders[-1].strip())


def narration_transcripts(sample_dir: Path, out: Path) -> Path:
    """The generator's narration as VidChapters-style transcripts `{vid: {text, start, end}}`.

    Each chapter's narration is split into sentences, spread over its narration span in
    proportion to their length (what an ASR with sentence segmentation would give).
    """
    manifest = json.loads((sample_dir / "manifest.json").read_text())
    table = {}
    for video in manifest["videos"]:
        text, start, end = [], [], []
        for ch in video["chapters"]:
            sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", ch.get("narration") or "") if s.strip()]
            t0, t1 = float(ch["narration_start"]), float(ch["narration_end"])
            total = sum(len(s) for s in sentences) or 1
            t = t0
            for s in sentences:
                dt = (t1 - t0) * len(s) / total
                text.append(s)
                start.append(round(t, 3))
                end.append(round(t + dt, 3))
                t += dt
        table[video["id"]] = {"text": text, "start": start, "end": end, "language": "en"}
    out.write_text(json.dumps(table))
    return out


def prepare_narrated_corpus(videos: int, work: Path, common: list[str]) -> None:
    """The learning benchmarks' corpus: small narrated sample videos, the tiny zoo, a built dataset, and
    tiny-clip frames + the generator's narration as the transcript in the feature store (all reused when done)."""
    sample, models, logs = work / "sample", work / "models", work / "logs"
    run_stage("stage=make_sample", *common, f"stage.num_videos={videos}", "stage.width=64",
              "stage.height=48", "stage.fps=10", "stage.min_duration=20", "stage.max_duration=60",
              "stage.with_awkward=false", log_dir=logs)
    run_stage("stage=make_zoo", *common, "stage.only=[tiny-clip,tiny-t5]", log_dir=logs)
    run_stage("stage=build_dataset", *common, "data=sample", "data.splits.fractions={val: 0.1, test: 0.15}",
              log_dir=logs)
    asr = narration_transcripts(sample, work / "narration_asr.json")
    run_stage("stage=extract", *common, f"videos={sample}/videos",
              f"extractor.extractors.visual.model={models}/tiny-clip",
              "~extractor.extractors.audio", "~extractor.extractors.audio_mel",
              "extractor@extractor.extractors.speech=speech_precomputed",
              f"extractor.extractors.speech.source={asr}", log_dir=logs)


def val_curve(train_dir: Path, monitor: str) -> list[tuple[int, float]]:
    """(epoch, value) of the monitored validation metric from the CSV log."""
    rows = []
    for path in sorted(train_dir.glob("csv/version_*/metrics.csv")):
        with open(path) as f:
            for row in csv.DictReader(f):
                if row.get(monitor):
                    rows.append((int(row["epoch"]), float(row[monitor])))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=160)
    ap.add_argument("--minutes", type=float, default=10.0, help="training wall-time limit (a safety net)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench_learning")
    ap.add_argument("--epochs", type=int, default=100,
                    help="the schedule's length (cosine over all epochs); sized to end well inside --minutes")
    ap.add_argument("--train-dir", type=Path, default=None,
                    help="report on this finished stage=train run folder instead of training again")
    args = ap.parse_args()

    work = args.work / f"v{args.videos}-s{args.seed}"
    sample, models, data, feats, logs = (work / n for n in ("sample", "models", "data", "features", "logs"))
    common = [f"paths.sample_dir={sample}", f"paths.model_dir={models}", f"paths.data_dir={data}",
              f"paths.feature_dir={feats}", f"seed={args.seed}"]
    print(f"== learning benchmark: {args.videos} videos, {args.minutes} min of training, work dir {work}")
    prepare_narrated_corpus(args.videos, work, common)

    seconds = int(args.minutes * 60)
    train_dir = args.train_dir or run_stage(
        "stage=train", *common, "experiment=sample_demo", f"trainer.max_epochs={args.epochs}",
        f"+trainer.max_time='00:{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'", "trainer.check_val_every_n_epoch=5",
        "stage.datamodule.limit_videos={val: 16}", "stage.datamodule.batch_size=4", "callbacks.epoch_checkpoint.save_top_k=1",
        log_dir=logs)
    summary = json.loads((train_dir / "summary.json").read_text())
    return report(data / "built" / "sample" / "tasks", feats, train_dir, summary)


def report(tasks: Path, feats: Path, train_dir: Path, summary: dict) -> int:
    from videolang.core.io import read_json
    from videolang.datamodule.sources import StoreFeatures
    from videolang.evaluate import Meteor, evaluate_dense_captioning
    from videolang.model.baselines import scene_change_baseline, training_statistics, uniform_baseline

    train, test = read_json(tasks / "dense_captioning_train.json"), read_json(tasks / "dense_captioning_test.json")
    model_preds = read_json(train_dir / "predictions_test.json")
    test = {v: a for v, a in test.items() if v in model_preds}
    durations = {v: float(a["duration"]) for v, a in test.items()}
    n_chapters, top_title = training_statistics(train)
    source = StoreFeatures(feats)
    runs = {
        "vid2seq (tiny, from scratch)": model_preds,
        f"(a) uniform x{n_chapters}, '{top_title}'": uniform_baseline(durations, n_chapters, top_title),
        "(b) scene changes + 1st sentence": scene_change_baseline({v: source.get(v) for v in test}, durations,
                                                                  top_title),
    }
    rows = {}
    with Meteor() as meteor:
        for name, preds in runs.items():
            m = evaluate_dense_captioning(preds, test, meteor=meteor)
            rows[name] = (m["soda_c"], m["cider"], m["f1@0.5"])
    print(f"\ntest split: {len(test)} videos (held out), trained {summary.get('epochs')} epochs / "
          f"{summary.get('global_step')} steps")
    print(f"{'method':<44} {'SODA_c':>8} {'CIDEr':>8} {'F1@0.5':>8}")
    for name, (soda, cider, f1) in rows.items():
        print(f"{name:<44} {100 * soda:8.2f} {100 * cider:8.2f} {100 * f1:8.2f}")
    model, uniform = rows["vid2seq (tiny, from scratch)"], next(v for k, v in rows.items() if k.startswith("(a)"))
    ratio = model[0] / uniform[0] if uniform[0] > 0 else float("inf")
    monitor = summary.get("monitor", "val/cider")
    curve = val_curve(train_dir, monitor)
    print(f"\nSODA_c ratio model / (a): {ratio:.2f}x (needs >= 2)")
    print(f"{monitor} over training (epoch: value): " + ", ".join(f"{e}: {v:.3f}" for e, v in curve))
    rises = len(curve) >= 2 and max(v for _, v in curve[1:]) > curve[0][1]
    print(f"validation metric rises: {rises}")
    repetition_table(tasks, feats, train_dir, summary, test)
    print(f"(metrics x100; CIDEr is CIDEr-D x100 as published; run folder {train_dir})")
    return 0 if ratio >= 2 and rises else 1


def repetition_table(tasks: Path, feats: Path, train_dir: Path, summary: dict, test: dict) -> None:
    """Decode the test split with each repetition control; repeated titles per video and SODA_c."""
    import torch

    from videolang.datamodule import Vid2SeqDataModule
    from videolang.evaluate import Meteor, evaluate_dense_captioning
    from videolang.tasks.events import dvc_predictions
    from videolang.model.module import Vid2SeqModule
    from videolang.model.parsing import repeated_title_rate

    torch.set_num_threads(1)
    ckpt = summary.get("best_checkpoint") or summary.get("last_checkpoint")
    module = Vid2SeqModule.from_checkpoint(ckpt)
    dm = Vid2SeqDataModule(tasks.parent, feats, tokenizer=module.tokenizer, splits={"test": "test"},
                           max_input_tokens=module.hparams.max_input_tokens,
                           max_output_tokens=module.hparams.max_output_tokens, max_frames=module.hparams.max_frames,
                           batch_size=8)
    dm.setup("test")
    batches = list(dm.test_dataloader())
    repeated_refs = [v for v, a in test.items() if _shares_a_word(a["sentences"])]
    variants = {
        "beam 4, no control": ({}, False),
        "beam 4, no_repeat_ngram_size=3": ({"no_repeat_ngram_size": 3}, False),
        "beam 4, repetition_penalty=1.3": ({"repetition_penalty": 1.3}, False),
        "beam 4, title dedup (default)": ({}, True),
    }
    print(f"\nrepetition control on the test split ({len(repeated_refs)} of {len(test)} videos have true "
          f"chapter titles sharing a word):")
    print(f"{'decoding':<36} {'SODA_c':>8} {'repeated titles':>16} {'on word-sharing videos':>24}")
    with Meteor() as meteor:
        for name, (generation, dedup) in variants.items():
            module.hparams.dedup_titles = dedup
            outputs = [o for b in batches for o in module.decode_batch(b, **generation)]
            preds = dvc_predictions(outputs)
            soda = evaluate_dense_captioning(preds, test, meteor=meteor)["soda_c"]
            rate = sum(repeated_title_rate([e["sentence"] for e in p]) for p in preds.values()) / max(1, len(preds))
            shared = [repeated_title_rate([e["sentence"] for e in preds[v]]) for v in repeated_refs if v in preds]
            print(f"{name:<36} {100 * soda:8.2f} {100 * rate:15.1f}% "
                  f"{100 * (sum(shared) / len(shared) if shared else 0):23.1f}%")


def _shares_a_word(titles: list[str]) -> bool:
    words = [set(t.lower().split()) - {"the", "a", "an", "of", "and", "to", "in"} for t in titles]
    return any(words[i] & words[j] for i in range(len(words)) for j in range(i + 1, len(words)))


if __name__ == "__main__":
    sys.exit(main())
