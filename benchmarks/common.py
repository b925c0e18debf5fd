"""What the benchmarks share; a benchmark imports this module, never another benchmark script.

- Running the project's own stages as a user would (`run_stage`: `python -m videolang.run ...`), the
  overrides that put every folder of a run under a benchmark's work folder, wall-time budgets.
- The corpora the learning benchmarks train on: small narrated sample videos with the generator's
  narration as the transcript (`prepare_narrated_corpus`), and the object-rich corpus with
  common-sense features from a proxy-task checkpoint (`prepare_commonsense_corpus`).
- The espeak-ng narration the speech benchmarks transcribe (`narration`, `recall`).
"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "videolang-bench"


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


def work_overrides(work: Path, seed: int) -> list[str]:
    """Every folder a benchmark's stages read or write, under its work folder, and the seed."""
    return [f"paths.sample_dir={work / 'sample'}", f"paths.model_dir={work / 'models'}",
            f"paths.data_dir={work / 'data'}", f"paths.feature_dir={work / 'features'}", f"seed={seed}"]


def time_limit(minutes: float) -> str:
    """A `trainer.max_time` override for a wall-time budget."""
    seconds = int(minutes * 60)
    return f"+trainer.max_time='00:{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'"


def val_curve(train_dir: Path, monitor: str) -> list[tuple[int, float]]:
    """(epoch, value) of the monitored validation metric from the CSV log."""
    rows = []
    for path in sorted(train_dir.glob("csv/version_*/metrics.csv")):
        with open(path) as f:
            for row in csv.DictReader(f):
                if row.get(monitor):
                    rows.append((int(row["epoch"]), float(row[monitor])))
    return rows


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


def extract_narrated(videos_dir: Path, asr: Path, work: Path, common: list[str]) -> None:
    """tiny-clip frames + the generator's narration (imported as the transcript) into the feature store."""
    run_stage("stage=extract", *common, f"videos={videos_dir}",
              f"extractor.extractors.visual.model={work / 'models'}/tiny-clip",
              "~extractor.extractors.audio", "~extractor.extractors.audio_mel",
              "extractor@extractor.extractors.speech=speech_precomputed",
              f"extractor.extractors.speech.source={asr}", log_dir=work / "logs")


def prepare_narrated_corpus(videos: int, work: Path, common: list[str], sample_overrides: tuple[str, ...] = ()) -> None:
    """The learning benchmarks' corpus: small narrated sample videos, the tiny zoo, a built dataset, and
    tiny-clip frames + the generator's narration as the transcript in the feature store (all reused when done).
    `sample_overrides`: extra `stage.*` options of make_sample (e.g. `stage.titles_spoken=false`)."""
    sample, logs = work / "sample", work / "logs"
    run_stage("stage=make_sample", *common, f"stage.num_videos={videos}", "stage.width=64",
              "stage.height=48", "stage.fps=10", "stage.min_duration=20", "stage.max_duration=60",
              "stage.with_awkward=false", *sample_overrides, log_dir=logs)
    run_stage("stage=make_zoo", *common, "stage.only=[tiny-clip,tiny-t5]", log_dir=logs)
    run_stage("stage=build_dataset", *common, "data=sample", "data.splits.fractions={val: 0.1, test: 0.15}",
              log_dir=logs)
    extract_narrated(sample / "videos", narration_transcripts(sample, work / "narration_asr.json"), work, common)


NO_AUDIO = ("~extractor.extractors.audio", "~extractor.extractors.audio_mel", "~extractor.extractors.speech")


def prepare_commonsense_corpus(videos: int, proxy_epochs: int, work: Path, common: list[str]) -> tuple[dict, float]:
    """The object-rich corpus with tiny-clip frames, ground-truth regions and common-sense features from a
    proxy-task checkpoint trained on its training split (every step reused when already done).
    Returns the proxy run's summary and its training seconds (bench_commonsense, bench_videoqa)."""
    sample, logs = work / "sample", work / "logs"
    run_stage("stage=make_sample", *common, f"stage.num_videos={videos}", "stage.width=128", "stage.height=96",
              "stage.fps=5", "stage.min_duration=20", "stage.max_duration=60", "stage.with_awkward=false",
              log_dir=logs)
    run_stage("stage=make_zoo", *common, "stage.only=[tiny-clip,tiny-t5,tiny-backbone]", log_dir=logs)
    run_stage("stage=build_dataset", *common, "data=sample", "data.splits.fractions={val: 0.1, test: 0.2}",
              log_dir=logs)
    run_stage("stage=extract", *common, "extractor=tiny_regions", f"videos={sample}/videos", *NO_AUDIO, log_dir=logs)
    t = time.time()
    marker = work / f"proxy-e{proxy_epochs}.json"  # a finished proxy run with these options is reused
    done = json.loads(marker.read_text()) if marker.is_file() else None
    if done and Path(done["dir"], "summary.json").is_file():
        proxy_dir, proxy_seconds = Path(done["dir"]), float(done["seconds"])
        print(f"  proxy task: reusing {proxy_dir}")
    else:
        proxy_dir = run_stage("stage=train", *common, "experiment=sample_commonsense",
                              f"trainer.max_epochs={proxy_epochs}", "trainer.check_val_every_n_epoch=2",
                              "callbacks.epoch_checkpoint.save_top_k=1", log_dir=logs)
        proxy_seconds = time.time() - t
        marker.write_text(json.dumps({"dir": str(proxy_dir), "seconds": proxy_seconds}))
    proxy = json.loads((proxy_dir / "summary.json").read_text())
    ckpt = proxy["best_checkpoint"] or proxy["last_checkpoint"]
    run_stage("stage=extract", *common, "extractor=tiny_commonsense", f"videos={sample}/videos",
              f"extractor.extractors.commonsense.checkpoint={ckpt}", *NO_AUDIO, log_dir=logs)
    return proxy, proxy_seconds


# what the narration says, in turn
SENTENCES = [
    "Welcome back to the workshop.", "Today we are restoring an old kitchen table.",
    "First we remove the legs and sand the top.", "Use a coarse grit paper to take off the old varnish.",
    "Then switch to a finer grit for a smooth finish.", "Wipe away the dust with a damp cloth.",
    "Now we mix the wood filler and press it into the cracks.", "Let it dry for about an hour.",
    "Next we apply the first coat of oil.", "Work along the grain with long even strokes.",
    "The colour of the wood comes back right away.", "We attach the legs again with new screws.",
    "Finally we polish the surface with soft wax.", "Thanks for watching, and see you next time.",
]


def _speak(text: str) -> np.ndarray:
    wav = BENCH / "sentence.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), text], check=True)
    with wave.open(str(wav)) as w:
        rate, data = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), np.int16)
    return (np.interp(np.arange(0, len(data), rate / 16000), np.arange(len(data)), data) / 32768.0).astype(np.float32)


def narration(minutes: float) -> tuple[np.ndarray, list[str]]:
    """`minutes` of 16 kHz narration with random pauses, and the sentences said (cached)."""
    path = BENCH / f"narration_{minutes:g}min.npz"
    if not path.exists():
        BENCH.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        spoken = {text: _speak(text) for text in SENTENCES}
        pieces, n, total = [], 0, 0
        while total < minutes * 60 * 16000:
            pieces += [spoken[SENTENCES[n % len(SENTENCES)]], np.zeros(int(rng.uniform(0.5, 3.0) * 16000), np.float32)]
            total += len(pieces[-2]) + len(pieces[-1])
            n += 1
        np.savez(path, audio=np.concatenate(pieces), sentences=n)
    data = np.load(path)
    return data["audio"], [SENTENCES[i % len(SENTENCES)] for i in range(int(data["sentences"]))]


def recall(said: list[str], heard: str) -> float:
    words = lambda s: re.findall(r"[a-z]+", s.lower())  # noqa: E731
    want, got = words(" ".join(said)), set(words(heard))
    return sum(w in got for w in want) / max(1, len(want))
