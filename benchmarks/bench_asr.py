"""ASR speed on the real Whisper-base (CTranslate2, CPU int8): real-time factor, batched VAD pipeline vs sequential.

    python benchmarks/bench_asr.py [--minutes 3] [--batch-size 8] [--repeats 1]
    python benchmarks/bench_asr.py --device cuda --compute-type float16 --batch-size 16   # on a GPU

The audio is espeak-ng narration (sentences separated by 0.5-3 s pauses, like a
talking-head video with gaps), made once and cached in $TMPDIR/videolang-bench.
Both pipelines run in this process on the same array with the same options (beam 5,
word timestamps, language detection):

- batched: `faster_whisper.BatchedInferencePipeline.transcribe` (VAD-cut chunks,
  decoded in batches): what `FasterWhisperASR` runs by default;
- sequential: `WhisperModel.transcribe`, faster-whisper's plain 30-second-window loop.

It prints the real-time factor (processing seconds / audio seconds; lower is faster)
and the fraction of the narrated words each pipeline recovered, as a sanity check.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import BENCH, narration, recall  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compute-type", default="int8")
    args = parser.parse_args()
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from videolang.zoo import assemble_whisper_base

    model_dir = assemble_whisper_base(BENCH / "zoo")
    audio, said = narration(args.minutes)
    seconds = len(audio) / 16000
    model = WhisperModel(str(model_dir), device=args.device, compute_type=args.compute_type,
                         cpu_threads=os.cpu_count() or 1)
    batched = BatchedInferencePipeline(model)

    def run_batched() -> str:
        segments, _ = batched.transcribe(audio, batch_size=args.batch_size, word_timestamps=True, beam_size=5)
        return " ".join(s.text for s in segments)

    def run_sequential() -> str:
        segments, _ = model.transcribe(audio, word_timestamps=True, beam_size=5)
        return " ".join(s.text for s in segments)

    best = {"batched (VAD, batches)": float("inf"), "sequential transcribe": float("inf")}
    heard = {}
    for _ in range(args.repeats):
        for name, fn in (("batched (VAD, batches)", run_batched), ("sequential transcribe", run_sequential)):
            start = time.perf_counter()
            heard[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    where = "a GPU" if args.device == "cuda" else f"{os.cpu_count()} CPU cores"
    print(f"Whisper-base CTranslate2 {args.compute_type} on {where}; {seconds:.0f} s of narration with pauses; "
          f"beam 5, word timestamps; best of {args.repeats}")
    for name, t in best.items():
        print(f"  {name:24s} {t:6.1f} s  RTF {t / seconds:.3f} ({seconds / t:5.1f}x real time)  "
              f"words recovered {recall(said, heard[name]):.0%}")
    print(f"  batched / sequential speed: {best['sequential transcribe'] / best['batched (VAD, batches)']:.2f}x")


if __name__ == "__main__":
    main()
