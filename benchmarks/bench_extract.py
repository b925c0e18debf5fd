"""End-to-end extraction with the tiny models on CPU: do decoding and model compute overlap?

    python benchmarks/bench_extract.py [--videos 12] [--seconds 30] [--workers 2] [--repeats 2]

Three timings on the same files (640x360 H.264 + AAC, made once with ffmpeg and cached in
$TMPDIR/videolang-bench), best of `--repeats`, models loaded beforehand:

- decode alone: the stage's DataLoader (`VideoStream`, `--workers` processes, one decoder
  thread each) drained with no model;
- model alone: the extractors fed pieces decoded in advance and held in memory, with the
  cores the stage leaves them (all but one per decoding worker);
- end to end: `trainer.predict` with the stage's `ExtractModule` and `StoreWriter` into a
  fresh store (what `stage=extract` runs, features written included).

Target: end to end <= 1.2x the slower of the other two. Speech is left out (Whisper-base is
not a tiny model; `bench_asr.py` measures it).

    python benchmarks/bench_extract.py --clip-l14 [--device cuda] [--frames 2048] [--batch 256]

measures instead the visual extractor's throughput (frames/s) with a randomly initialised
model of CLIP ViT-L/14's exact shape (224 px, patch 14, 24 layers, width 1024, 768-d
projection): the same `HFImageEncoder.embed` as extraction, bf16 autocast on GPU.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import lightning as L  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from benchmarks.common import BENCH  # noqa: E402
from videolang.core.quiet import PREDICT_WRITER_NOTES  # noqa: E402
from videolang.extract import Encoder, list_videos  # noqa: E402
from videolang.extract.audio_embed import ASTAudioEncoder, LogMelStats  # noqa: E402
from videolang.extract.parallel import ExtractModule, StoreWriter, VideoStream, _as_is  # noqa: E402
from videolang.extract.visual import HFImageEncoder  # noqa: E402
from videolang.store import FeatureStore  # noqa: E402


def make_videos(n: int, seconds: int) -> Path:
    folder = BENCH / f"extract_{n}x{seconds}s"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = folder / f"v{i:02d}.mp4"
        if not path.exists():
            tmp = folder / f".v{i:02d}.part.mp4"
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            f"testsrc2=size=640x360:rate=30,hue=h={37 * i}", "-f", "lavfi", "-i",
                            f"sine=frequency={300 + 50 * i}:sample_rate=44100", "-t", str(seconds), "-c:v", "libx264",
                            "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(tmp)], check=True)
            tmp.rename(path)
    return folder


def tiny_zoo() -> Path:
    from videolang.zoo import build_zoo

    root = BENCH / "zoo"
    build_zoo(root, only=["tiny-clip", "tiny-audio"])  # skips what is already there
    return root


def clip_l14_throughput(device: str, frames: int, batch: int) -> None:
    """Frames/s of `HFImageEncoder.embed` on a random model of CLIP ViT-L/14's shape."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    folder = BENCH / "clip-l14-random"
    if not (folder / "config.json").exists():
        config = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                                  patch_size=14, image_size=224, projection_dim=768)
        CLIPVisionModelWithProjection(config).half().save_pretrained(folder)
        CLIPImageProcessor(crop_size={"height": 224, "width": 224}).save_pretrained(folder)
    ext = HFImageEncoder(model=str(folder), model_class="transformers.CLIPVisionModelWithProjection",
                         output="image_embeds", batch_size=batch)
    ext.load(torch.device(device))
    ext.net.float()  # saved in half to keep the file small; the real checkpoint is float32
    pixels = torch.randint(0, 255, (batch, 224, 224, 3), dtype=torch.uint8)
    ext.embed(pixels[: min(batch, 8)])  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start, done = time.perf_counter(), 0
    while done < frames:
        out = ext.embed(pixels)
        done += len(out)
    seconds = time.perf_counter() - start
    name = torch.cuda.get_device_name() if device.startswith("cuda") else f"{os.cpu_count()} CPU cores"
    print(f"CLIP ViT-L/14-shaped visual extractor on {name}: {done / seconds:.1f} frames/s "
          f"(batch {batch}, {done} frames, output {out.shape[1]}-d; autocast {'bf16/fp16' if device != 'cpu' else 'off'})")


def _spin(n: int = 20_000_000) -> int:
    x = 0
    for i in range(n):
        x += i
    return x


def effective_cores() -> float:
    """How many cores two busy processes really get right now (2.0 on an idle 2-core machine):
    overlap can only show where this is well above 1."""
    import multiprocessing as mp

    start = time.perf_counter()
    _spin()
    one = time.perf_counter() - start
    start = time.perf_counter()
    procs = [mp.get_context("fork").Process(target=_spin) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return 2 * one / (time.perf_counter() - start)


def best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--clip-l14", action="store_true", help="measure CLIP ViT-L/14-shaped throughput instead")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frames", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    if args.clip_l14:
        return clip_l14_throughput(args.device, args.frames, args.batch)
    items = list_videos(make_videos(args.videos, args.seconds))
    zoo = tiny_zoo()
    # The cores are split as the stage splits them: `workers` decoding processes (one decoder thread
    # each) and the rest for the models, so each half is timed alone with the resources it has in the pipeline.
    encoder = Encoder({"visual": HFImageEncoder(model=str(zoo / "tiny-clip")),
                       "audio": ASTAudioEncoder(model=str(zoo / "tiny-audio")), "audio_mel": LogMelStats()},
                      decode={"backend": "pyav", "threads": 1}).load("cpu")
    torch.set_num_threads(max(1, (os.cpu_count() or 1) - args.workers))

    def loader() -> DataLoader:
        return DataLoader(VideoStream(encoder, items), batch_size=None, num_workers=args.workers, collate_fn=_as_is,
                          prefetch_factor=4 if args.workers else None)

    def decode_alone() -> None:
        for _ in loader():
            pass

    pieces = list(loader())

    def model_alone() -> None:
        assembler = encoder.assembler()
        done = [r for r in map(assembler.consume, pieces) if r is not None]
        assert len(done) == len(items) and not any(r.failures for r in done)

    def end_to_end() -> None:
        root = Path(tempfile.mkdtemp(prefix="store-", dir=BENCH))
        try:
            module = ExtractModule(encoder, FeatureStore(root, encoder.fingerprints), items, num_workers=args.workers)
            trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False,
                                callbacks=[StoreWriter("bench", progress=False)])
            with warnings.catch_warnings():
                for message in PREDICT_WRITER_NOTES:
                    warnings.filterwarnings("ignore", message=message)
                trainer.predict(module, return_predictions=False)
            assert len(FeatureStore(root).video_ids("visual")) == len(items)
        finally:
            shutil.rmtree(root)

    results = {"decode alone": [], "model alone": [], "end to end": []}
    for _ in range(args.repeats):  # interleaved, so a busy moment hits all three alike
        for name, fn in (("decode alone", decode_alone), ("model alone", model_alone), ("end to end", end_to_end)):
            results[name].append(best_of(1, fn))
    best = {k: min(v) for k, v in results.items()}
    cores = effective_cores()
    print(f"{len(items)} videos x {args.seconds} s (640x360, 30 fps, AAC), tiny CLIP + tiny AST + log-mel on CPU, "
          f"{args.workers} decode workers, {os.cpu_count()} CPU cores ({cores:.2f} effective for two busy "
          f"processes right now); best of {args.repeats}")
    for name, seconds in best.items():
        print(f"  {name:13s} {seconds:6.2f} s  ({len(items) / seconds:5.2f} videos/s)")
    slower = max(best["decode alone"], best["model alone"])
    print(f"  end to end / slower of the two = {best['end to end'] / slower:.2f} (target <= 1.2); "
          f"sum of the two would be {(best['decode alone'] + best['model alone']) / slower:.2f}")


if __name__ == "__main__":
    main()
