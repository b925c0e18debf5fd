"""Does data loading starve the model? Step time with the real data module vs pre-built batches.

The real path: `Vid2SeqDataModule` over task files and a feature store on disk (np.load of
(T, 768) float16 frames, the transcript JSON, tokenisation, uniform frame subsampling,
collate/padding) feeding training steps. The baseline: the same model and the same batches,
built beforehand and held in memory. Printed: ms per step for both and their ratio
(1.00 = loading is fully hidden; the acceptance bar is <= 1.10 with workers).

The store holds realistic sizes (VidChapters-like): 2-20 minute videos at 1 fps, 768-d
CLIP-sized frames, a Whisper-style transcript of ~1 sentence / 4 s, 1000-token inputs.

    python benchmarks/bench_dataloader.py [--videos 208] [--steps 24] [--workers 0 2]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_store(root: Path, num_videos: int, dim: int = 768, seed: int = 0) -> None:
    import numpy as np

    from videolang.core.io import atomic_write_json
    from videolang.store import FeatureRecord, FeatureStore

    rng = np.random.default_rng(seed)
    words = "the a we now cut mix add pour heat slowly then carefully into bowl pan water sauce".split()
    store, anns = FeatureStore(root / "features"), {}
    for v in range(num_videos):
        vid = f"vid{v:05d}"
        duration = float(rng.integers(120, 1200))
        ts = np.arange(0, duration, 1.0)
        store.write(vid, FeatureRecord("visual", rng.normal(size=(len(ts), dim)).astype(np.float16), ts, 1.0,
                                       "bench", "fpv"))
        starts = np.sort(rng.uniform(0, duration - 4, size=int(duration // 4)))
        text = [" ".join(rng.choice(words, size=int(rng.integers(6, 16)))) for _ in starts]
        segs = {"text": text, "start": starts.tolist(), "end": (starts + 3.5).tolist(), "words": [],
                "language": "en"}
        store.write(vid, FeatureRecord("speech", None, starts, None, "bench", "fps", segments=segs))
        n = int(rng.integers(3, 10))
        edges = np.sort(rng.uniform(0, duration, size=n - 1)).tolist()
        bounds = [0.0, *edges, duration]
        anns[vid] = {"duration": duration, "timestamps": [[a, b] for a, b in zip(bounds[:-1], bounds[1:])],
                     "sentences": [" ".join(rng.choice(words, size=4)) for _ in range(n)]}
    for split in ("train", "val"):
        atomic_write_json(root / "built" / "bench" / "tasks" / f"dense_captioning_{split}.json", anns)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=208)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the model (workers are processes)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from videolang.datamodule import Vid2SeqDataModule
    from videolang.backbone.losses import label_smoothed_ce
    from videolang.model.module import Vid2SeqModule
    from videolang.zoo import build_zoo

    torch.manual_seed(0)
    models = ROOT / ".cache" / "bench_models"
    tiny_t5 = dict(build_zoo(models, only=["tiny-t5"]))["tiny-t5"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_store(root, args.videos)
        module = Vid2SeqModule(backbone=str(tiny_t5), visual_dim=768, visual_layers=2, visual_heads=4,
                               max_input_tokens=1000, max_output_tokens=256)
        opt = torch.optim.Adam(module.parameters(), lr=1e-4)

        def step(batch) -> None:
            loss = label_smoothed_ce(module.net(batch), batch["labels"])
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        def make_dm(workers: int) -> Vid2SeqDataModule:
            dm = Vid2SeqDataModule(root / "built" / "bench", root / "features", tokenizer=str(tiny_t5),
                                   batch_size=args.batch_size, num_workers=workers, max_input_tokens=1000,
                                   max_output_tokens=256)
            dm.setup("fit")
            return dm

        # The baseline: identical batches, built before the clock starts.
        # Batch 0 warms up; batches 1..steps are timed in both runs (the same batches, same order).
        batches = [b for _, b in zip(range(args.steps + 1), make_dm(0).train_dataloader())]
        if len(batches) < args.steps + 1:
            print(f"note: only {len(batches)} batches in an epoch of {args.videos} videos")
        warm, prebuilt = batches[0], batches[1:]
        step(warm)
        t0 = time.perf_counter()
        for b in prebuilt:
            step(b)
        mem = (time.perf_counter() - t0) / len(prebuilt)
        print(f"model: tiny-t5 + 2-layer visual encoder; batch {args.batch_size}, up to 100 frames x 768, "
              f"1000 input tokens; {len(prebuilt)} steps")
        print(f"{'loader':<32} {'ms/step':>9} {'ratio':>7}")
        print(f"{'pre-built in-memory batches':<32} {1000 * mem:9.1f} {1.0:7.2f}")
        t0 = time.perf_counter()
        loaded = sum(1 for _, _b in zip(range(len(prebuilt)), make_dm(0).train_dataloader()))
        load = (time.perf_counter() - t0) / loaded
        print(f"{'loading alone, 0 workers (no model)':<32} {1000 * load:9.1f} {load / mem:7.2f}")
        for workers in args.workers:
            loader = make_dm(workers).train_dataloader()
            it = iter(loader)
            step(next(it))  # worker start-up is not per-step cost
            t0 = time.perf_counter()
            n = 0
            for _, b in zip(range(len(prebuilt)), it):
                step(b)
                n += 1
            real = (time.perf_counter() - t0) / max(1, n)
            ratio = real / mem
            print(f"{f'Vid2SeqDataModule, {workers} workers':<32} {1000 * real:9.1f} {ratio:7.2f}")
            del it, loader
    print("ratio = step time with the data module / step time with pre-built batches (1.00: loading hidden);\n"
          "'loading alone' is the data module's own time per batch, as a fraction of a training step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
