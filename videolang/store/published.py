"""Features and transcripts in the layouts other projects publish: read for the store, written back out.

| format | layout | rows | defaults |
|---|---|---|---|
| `vidchapters_npy` | a folder of `<vid>.mp4.npy` (or `<vid>.npy`), (T, D) | one per second | fps 1 |
| `vidchapters_pth` | one `.pth` dict `{vid: tensor (T, D)}` (YouCook2 / ViTT), `weights_only=True` | one per second | fps 1 |
| `moment_detr_npz` | a folder of `<vid>.npz` holding `features` (T, D) | one per clip | clip 2 s |
| `video_features` | `<stem>_<feature>.npy` (+ `<stem>_timestamps_ms.npy`, `<stem>_fps.npy`) | as its timestamps | - |
| `npy` | a folder of `<vid>.npy` | at the stated fps | fps must be given |
| `vidchapters_asr` | `{vid: {"text", "start", "end"}}` JSON or pickle, or a folder of `<vid>.pkl` / `.json` | sentences | - |

Row t of an array lies at `t / fps` seconds (`t * clip_length` for clips), unless the source has
timestamps (video_features). `read_published` yields one `Imported` per video lazily (a folder is never
read whole); a video whose file cannot be used is an `Imported` with its `problem`, so the caller counts
it and goes on. `write_published` writes the store's records back in these layouts.
"""
from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videolang.core.checkpoints import needs_code
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.ids import filename_to_id, id_to_filename
from videolang.core.io import atomic_path, atomic_save_npy, atomic_write_bytes, atomic_write_json, ensure_dir
from videolang.core.plain_pickle import read_json_or_pickle
from videolang.store.record import FeatureRecord

# format -> (rows per second, seconds per clip): the published defaults
DEFAULTS: dict[str, dict[str, float | None]] = {
    "vidchapters_npy": {"fps": 1.0, "clip_length": None},
    "vidchapters_pth": {"fps": 1.0, "clip_length": None},
    "moment_detr_npz": {"fps": None, "clip_length": 2.0},
    "video_features": {"fps": None, "clip_length": None},
    "npy": {"fps": None, "clip_length": None},
    "vidchapters_asr": {"fps": None, "clip_length": None},
}
ARRAY_FORMATS = tuple(f for f in DEFAULTS if f != "vidchapters_asr")
VIDEO_FEATURES_META = ("fps", "timestamps_ms")


@dataclass
class Imported:
    """One video of a published source: its array (or transcript) and where it came from, or its problem."""

    video_id: str
    source: str
    array: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    fps: float | None = None
    segments: dict[str, Any] | None = None
    problem: str | None = None


def row_rate(fmt: str, fps: float | None, clip_length: float | None) -> float | None:
    """Rows per second: `fps`, or 1 / `clip_length`; the format's published default when neither is given."""
    if fmt not in DEFAULTS:
        raise ConfigError(f"format={fmt!r}: known formats are {', '.join(DEFAULTS)}")
    if fps is None and clip_length is None:
        fps, clip_length = DEFAULTS[fmt]["fps"], DEFAULTS[fmt]["clip_length"]
    for name, value in (("fps", fps), ("clip_length", clip_length)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or value <= 0):
            raise ConfigError(f"stage.{name}={value!r}: must be a number of seconds > 0")
    if fps is not None and clip_length is not None and abs(float(fps) * float(clip_length) - 1) > 1e-9:
        raise ConfigError(f"stage.fps={fps} and stage.clip_length={clip_length} disagree (fps = 1 / clip_length)")
    return float(fps) if fps is not None else (1.0 / float(clip_length) if clip_length is not None else None)


def checked_array(value: Any, what: str) -> tuple[np.ndarray | None, str | None]:
    """(array, None) for a usable (T, D) array of finite numbers, else (None, why not)."""
    array = np.asarray(value)
    if array.dtype.kind != "f":
        return None, f"{what} has dtype {array.dtype}, expected floating-point features (float16 / float32)"
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        return None, f"{what} has shape {tuple(array.shape)}, expected (T, D) with T, D > 0"
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        return None, f"{what} holds NaN or infinite values ({bad} of {len(array)} rows)"
    return array, None


def _npy(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def _load(video_id: str, path: Path, loader, fps: float | None, what: str = "features") -> Imported:
    try:
        value = loader(path)
    except (OSError, ValueError, KeyError, EOFError, BadInputError) as e:
        return Imported(video_id, str(path), problem=f"cannot read {what}: {getattr(e, 'problem', e)}")
    array, problem = checked_array(value, what)
    if problem:
        return Imported(video_id, str(path), problem=problem)
    return Imported(video_id, str(path), array, np.arange(len(array)) / fps, fps)


def _files(folder: Path, suffix: str) -> list[Path]:
    if not folder.is_dir():
        raise BadInputError(f"expected a folder of *{suffix} files", folder)
    return sorted(p for p in folder.iterdir() if p.name.endswith(suffix) and not p.name.startswith("."))


def _stem_id(name: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if name.endswith(suffix):
            return filename_to_id(name[: -len(suffix)])
    return filename_to_id(name)


def read_published(fmt: str, path: str | Path, fps: float | None = None, npz_key: str = "features",
                   feature: str | None = None) -> Iterator[Imported]:
    """Every video of `path` in layout `fmt` (see the module table); `fps` from `row_rate`."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{fmt} source not found", path)
    if fmt == "vidchapters_asr":
        yield from _asr(path)
    elif fmt == "vidchapters_pth":
        yield from _pth(path, fps)
    elif fmt == "video_features":
        yield from _video_features(path, fps, feature)
    elif fmt in ("vidchapters_npy", "npy", "moment_detr_npz"):
        if fps is None:
            raise ConfigError(f"format={fmt}: state the features' rate (stage.fps=<rows per second> or "
                              "stage.clip_length=<seconds per row>)")
        if fmt == "moment_detr_npz":
            def loader(p: Path) -> np.ndarray:
                with np.load(p, allow_pickle=False) as z:
                    if npz_key not in z.files:
                        raise KeyError(f"no '{npz_key}' array in it (it has {', '.join(z.files) or 'none'})")
                    return z[npz_key]
            suffixes = (".npz",)
        else:
            loader, suffixes = _npy, (".mp4.npy", ".npy") if fmt == "vidchapters_npy" else (".npy",)
        files = [path] if path.is_file() else _files(path, suffixes[-1])
        seen: dict[str, Path] = {}
        for f in files:  # VidChapters' loader reads <vid>.mp4.npy first, then <vid>.npy
            vid = _stem_id(f.name, suffixes)
            if vid not in seen or f.name.endswith(suffixes[0]):
                seen[vid] = f
        for vid, f in seen.items():
            yield _load(vid, f, loader, fps)
    else:
        raise ConfigError(f"format={fmt!r}: known formats are {', '.join(DEFAULTS)}")


def _pth(path: Path, fps: float | None) -> Iterator[Imported]:
    import torch

    if not path.is_file():
        raise BadInputError("expected one .pth file {video_id: tensor (T, D)}", path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - an unsafe or damaged file is the user's input problem
        named = needs_code(e)
        why = f"it needs code to unpickle ({named}): only tensors and plain containers are read" if named else \
            f"torch.load with weights_only=True cannot read it ({type(e).__name__}; truncated or not a .pth?)"
        raise BadInputError(why, path) from None
    if not isinstance(data, dict):
        raise BadInputError(f"expected a dict {{video_id: tensor (T, D)}}, got a {type(data).__name__}", path)
    for vid, value in data.items():
        if isinstance(value, torch.Tensor):
            value = value.float().numpy() if value.dtype == torch.bfloat16 else value.numpy()
        array, problem = checked_array(value, f"features of {vid!r}")
        yield Imported(str(vid), str(path), problem=problem) if problem else \
            Imported(str(vid), str(path), array, np.arange(len(array)) / fps, fps)


_MS = "timestamps_ms"


def _video_features(folder: Path, fps: float | None, feature: str | None) -> Iterator[Imported]:
    """v-iashin/video_features `--on_extraction save_numpy` output: `<stem>_<feature>.npy` beside
    `<stem>_fps.npy` and `<stem>_timestamps_ms.npy` (`make_path`: the video's stem, `_`, the output key)."""
    files = _files(folder, ".npy")
    names = {f.name for f in files}
    if feature is None:  # the one output key that is neither fps nor timestamps_ms, beside a timestamps file
        stems = [f.name[: -len(f"_{_MS}.npy")] for f in files if f.name.endswith(f"_{_MS}.npy")]
        keys = {f.name[len(s) + 1:-4] for s in stems for f in files if f.name.startswith(s + "_")} \
            - set(VIDEO_FEATURES_META)
        if len(keys) != 1:
            raise ConfigError(f"format=video_features: cannot tell the feature key in {folder} (found "
                              f"{sorted(keys) or 'no <stem>_timestamps_ms.npy files'}): set stage.feature=<key>, "
                              "e.g. clip, rgb, vggish")
        feature = keys.pop()
    suffix = f"_{feature}.npy"
    for f in files:
        if not f.name.endswith(suffix):
            continue
        stem = f.name[: -len(suffix)]
        vid = filename_to_id(stem)
        item = _load(vid, f, _npy, fps or 1.0)
        if item.problem:
            yield item
            continue
        if f"{stem}_{_MS}.npy" in names:
            rate = folder / f"{stem}_fps.npy"
            try:
                ms = np.asarray(_npy(folder / f"{stem}_{_MS}.npy"), dtype=np.float64).reshape(-1)
                given = float(_npy(rate)) if rate.name in names else None
            except (OSError, ValueError, TypeError) as e:
                yield Imported(vid, str(f), problem=f"cannot read {stem}_{_MS}.npy / {rate.name}: {e}")
                continue
            if len(ms) != len(item.array) or not np.isfinite(ms).all():
                yield Imported(vid, str(f), problem=f"{stem}_{_MS}.npy has {len(ms)} timestamps for "
                                                   f"{len(item.array)} rows (or non-finite ones)")
                continue
            item.timestamps, item.fps = ms / 1000.0, fps or given
        elif fps is None:
            yield Imported(vid, str(f), problem=f"no {stem}_{_MS}.npy beside it: state stage.fps")
            continue
        yield item


def _asr_entry(vid: str, entry: Any, source: str) -> Imported:
    """VidChapters' ASR entry `{"text": [...], "start": [...], "end": [...]}` (empty texts dropped, as their
    merge script does) as a transcript."""
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), list) for k in ("text", "start", "end")):
        return Imported(vid, source, problem="expected {text: [...], start: [...], end: [...]} lists")
    text, start, end = entry["text"], entry["start"], entry["end"]
    if not len(text) == len(start) == len(end):
        return Imported(vid, source, problem=f"text / start / end have {len(text)} / {len(start)} / {len(end)} "
                                              "entries")
    rows = []
    for t, s, e in zip(text, start, end):
        if not isinstance(t, str):
            return Imported(vid, source, problem=f"a sentence is not text: {t!r}")
        try:
            s, e = float(s), float(e)
        except (TypeError, ValueError):
            return Imported(vid, source, problem=f"a sentence time is not a number: {s!r} / {e!r}")
        if not (math.isfinite(s) and math.isfinite(e)):
            return Imported(vid, source, problem="a sentence time is NaN or infinite")
        if t.strip():
            rows.append((s, e, t))
    segments = {"text": [t for _, _, t in rows], "start": [s for s, _, _ in rows], "end": [e for _, e, _ in rows],
                "words": [[] for _ in rows], "language": entry.get("language")}
    return Imported(vid, source, timestamps=np.asarray(segments["start"], dtype=np.float64), segments=segments)


def _asr(path: Path) -> Iterator[Imported]:
    if path.is_dir():  # one file per video: <vid>.pkl (VidChapters' subtitles folder) or <vid>.json
        for f in _files(path, ""):
            if f.suffix not in (".pkl", ".json"):
                continue
            try:
                entry = read_json_or_pickle(f, "ASR file")
            except BadInputError as e:
                yield Imported(filename_to_id(f.stem), str(f), problem=e.problem)
                continue
            yield _asr_entry(filename_to_id(f.stem), entry, str(f))
        return
    data = read_json_or_pickle(path, "ASR file")
    if not isinstance(data, dict):
        raise BadInputError(f"expected {{video_id: {{text, start, end}}}}, got a {type(data).__name__}", path)
    for vid, entry in data.items():
        yield _asr_entry(str(vid), entry, str(path))


# ------------------------------------------------------------------------------------------ writing
def write_published(fmt: str, out: str | Path, videos: Iterable[tuple[str, FeatureRecord]], feature: str = "clip",
                    npz_key: str = "features") -> dict[str, Any]:
    """(video id, record) per video -> `out` in layout `fmt`, every file written atomically.

    Arrays keep their dtype (VidChapters' are float16). `vidchapters_pth` gathers every video into the one
    file `out` (a `torch.save` dict of tensors, which `torch.load(weights_only=True)` reads) and
    `vidchapters_asr` every transcript into the JSON file `out`; the others write one file per video into
    the folder `out`, named by `id_to_filename`. Returns {"files", "videos"}.
    """
    out = Path(out)
    if fmt not in DEFAULTS:
        raise ConfigError(f"format={fmt!r}: known formats are {', '.join(DEFAULTS)}")
    if fmt == "vidchapters_asr":
        transcripts = {vid: {k: list(rec.segments.get(k) or []) for k in ("text", "start", "end")}
                       for vid, rec in videos if rec.segments is not None}
        atomic_write_json(out, transcripts, indent=None)
        return {"files": 1, "videos": len(transcripts)}
    if fmt == "vidchapters_pth":
        import torch

        gathered = {vid: torch.from_numpy(np.ascontiguousarray(rec.array)) for vid, rec in videos}
        ensure_dir(out.parent)
        buffer = io.BytesIO()
        torch.save(gathered, buffer)
        atomic_write_bytes(out, buffer.getvalue())
        return {"files": 1, "videos": len(gathered)}
    ensure_dir(out)
    files = count = 0
    for vid, rec in videos:
        stem, array = id_to_filename(vid), rec.array
        if fmt == "vidchapters_npy":
            atomic_save_npy(out / f"{stem}.mp4.npy", array)
        elif fmt == "npy":
            atomic_save_npy(out / f"{stem}.npy", array)
        elif fmt == "moment_detr_npz":
            with atomic_path(out / f"{stem}.npz", suffix=".tmp.npz") as tmp:
                np.savez(tmp, **{npz_key: array})
        else:  # video_features: the features, their times (ms) and the rate, as its save_numpy writes them
            atomic_save_npy(out / f"{stem}_{feature}.npy", array)
            atomic_save_npy(out / f"{stem}_{_MS}.npy", np.asarray(rec.timestamps, dtype=np.float64) * 1000.0)
            atomic_save_npy(out / f"{stem}_fps.npy", np.asarray(rec.fps if rec.fps else 0.0))
            files += 2
        files += 1
        count += 1
    return {"files": files, "videos": count}


def safe_feature_name(feature: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", feature or ""):
        raise ConfigError(f"stage.feature={feature!r}: a video_features output key (letters, digits, '.', '-')")
    return feature
