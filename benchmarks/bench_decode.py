"""Frame decoding speed for 1 fps / 224 px sampling: our decoders against a straightforward decord baseline.

    python benchmarks/bench_decode.py [--videos 3] [--seconds 45] [--size 1280x720] [--repeats 2]

All in one process, on the same files (H.264 at 30 fps with x264's default 250-frame
GOP, made once with ffmpeg and cached in $TMPDIR/videolang-bench), interleaved, best
of `--repeats`:

- baseline: `decord.VideoReader(path).get_batch(indices)` at full resolution, then
  resize (shorter side 224) and centre crop with torch, as most extraction scripts do;
- ours/pyav: `videolang.media.decode.PyAVDecoder` (the default): sequential decoding
  with codec threads, non-reference frames far from a target not decoded, only the
  kept frames converted;
- ours/decord: `DecordDecoder`: scaling inside the decoder, sorted chunks of 64 frames;
- floor: PyAV decoding every frame with no conversion at all (what any exact sampler
  of long-GOP video must pay).

Both our decoders' frames are checked against each other (same times, near-identical
pixels) before any number is printed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from videolang.media.decode import FrameSampling, make_decoder  # noqa: E402
from videolang.media.probe import probe  # noqa: E402


def make_videos(n: int, seconds: int, size: str) -> list[Path]:
    folder = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "videolang-bench"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"decode_{size}_{seconds}s_{i}.mp4"
        if not path.exists():
            tmp = path.with_suffix(".part.mp4")
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            f"testsrc2=size={size}:rate=30,hue=h={37 * i}", "-t", str(seconds), "-c:v", "libx264",
                            "-preset", "veryfast", "-pix_fmt", "yuv420p", str(tmp)], check=True)
            tmp.rename(path)
        paths.append(path)
    return paths


def baseline(path: Path, size: int = 224) -> np.ndarray:
    import decord
    import torch
    import torch.nn.functional as F

    vr = decord.VideoReader(str(path), ctx=decord.cpu(0))
    times = vr.get_frame_timestamp(np.arange(len(vr)))[:, 0]
    indices = np.searchsorted(times, np.arange(0, times[-1] + 1e-6, 1.0) + 1e-6, side="right") - 1
    frames = torch.from_numpy(vr.get_batch(indices.tolist()).asnumpy()).permute(0, 3, 1, 2).float()
    h, w = frames.shape[-2:]
    scale = size / min(h, w)
    frames = F.interpolate(frames, size=(round(h * scale), round(w * scale)), mode="bilinear", antialias=True)
    top, left = (frames.shape[-2] - size) // 2, (frames.shape[-1] - size) // 2
    return frames[..., top:top + size, left:left + size].round().byte().permute(0, 2, 3, 1).numpy()


def ours(backend: str):
    decoder = make_decoder(backend, sampling=FrameSampling(fps=1.0, size=224), chunk_frames=64)

    def run(path: Path) -> np.ndarray:
        return np.concatenate([c.frames for c in decoder.frames(probe(path))])

    return run


def floor(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in c.decode(stream))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=45)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    paths = make_videos(args.videos, args.seconds, args.size)

    a, b = ours("decord")(paths[0]), ours("pyav")(paths[0])
    assert a.shape == b.shape == baseline(paths[0]).shape, (a.shape, b.shape)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 8, "decoders disagree"

    methods = {"baseline decord get_batch": baseline, "ours/pyav (default)": ours("pyav"),
               "ours/decord": ours("decord"), "floor: decode every frame": floor}
    best = {name: float("inf") for name in methods}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            start = time.perf_counter()
            for path in paths:
                fn(path)
            best[name] = min(best[name], time.perf_counter() - start)
    n = len(paths)
    print(f"{n} videos, {args.seconds} s each, {args.size} H.264 30 fps, GOP 250; 1 fps, 224 px; "
          f"{os.cpu_count()} CPU cores; best of {args.repeats}")
    for name, seconds in best.items():
        print(f"  {name:28s} {n / seconds:6.2f} videos/s  ({seconds:6.2f} s)")
    base = best["baseline decord get_batch"]
    for name in ("ours/pyav (default)", "ours/decord"):
        print(f"  {name}: {base / best[name]:.2f}x the baseline (target >= 1.5x), "
              f"{best['floor: decode every frame'] / best[name]:.2f}x the decode-every-frame floor")


if __name__ == "__main__":
    main()
