"""Reading a videolang checkpoint file: one place for "missing", "unreadable" and "not ours" errors."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import Any

import torch

from videolang.core.errors import BadInputError
from videolang.core.io import head_bytes, special_file_kind


def needs_code(error: Exception) -> str | None:
    """The class or function a `torch.load(weights_only=True)` refused to unpickle ("pathlib.PosixPath"), if
    that is why it failed."""
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
    return found.group(1) if found else None


def _unreadable(path: Path, error: Exception) -> BadInputError:
    """Why torch cannot read `path`, in the user's terms (never torch's advice to load unsafely)."""
    size = path.stat().st_size
    head = head_bytes(path, 4)
    if size == 0:
        why = "the file is empty: 0 bytes"
    elif head.startswith(b"PK") and not zipfile.is_zipfile(path):
        why = f"truncated or damaged: its zip archive is incomplete at {size} bytes; copy or save it again"
    else:  # torch's own text is about its internals (or advises unsafe loading): the type says enough
        why = f"torch.load with weights_only=True cannot read it: {type(error).__name__}"
    return BadInputError(f"not a videolang checkpoint ({why})", path)


def read_checkpoint(path: str | Path, map_location: str = "cpu", mmap: bool = False
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the checkpoint dict, its `videolang` section), loaded with `weights_only=True` (no pickled code).

    Any file that torch cannot read, or that has no `videolang` section and stored options, is a
    user input problem named with its path, not a traceback. `mmap=True` maps the tensors instead of
    reading them (a cheap check of a large checkpoint).
    """
    path = Path(path)
    if not path.exists():
        raise BadInputError("checkpoint not found", path)
    if path.is_dir():
        raise BadInputError("checkpoint is not a file (a folder?)", path)
    kind = special_file_kind(path.stat().st_mode)
    if kind is not None:
        raise BadInputError(f"checkpoint is not a file: it is {kind}", path)
    mmap = mmap and zipfile.is_zipfile(path)  # an old (non-zip) serialisation cannot be mapped: read as a whole
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True, **({"mmap": True} if mmap else {}))
    except Exception as e:  # noqa: BLE001 - any unreadable file is a user input problem
        raise _unreadable(path, e) from None
    extra = ckpt.get("videolang") if isinstance(ckpt, dict) else None
    if not extra or "hyper_parameters" not in ckpt:
        raise BadInputError("not a videolang checkpoint (no stored options)", path)
    return ckpt, extra


def load_released(path: str | Path, what: str, allowed: tuple = ()) -> Any:
    """Another project's `torch.save` file, read with `weights_only=True` and only `allowed` classes (e.g.
    `argparse.Namespace`) beyond tensors and plain containers: data, never code. Errors name the file and
    say why in the user's terms (`what`: whose checkpoint was expected)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError("checkpoint not found" if not path.exists() else "checkpoint is not a file", path)
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - an unsafe or damaged file is the user's input problem
        named = needs_code(e)
        if named:
            why = (f"it needs {named} to unpickle, and only tensors, plain containers"
                   f"{''.join(', ' + c.__module__ + '.' + c.__qualname__ for c in allowed)} are read (data, never code)")
        elif path.stat().st_size == 0:
            why = "the file is empty"
        elif head_bytes(path, 2) == b"PK" and not zipfile.is_zipfile(path):
            why = "truncated or damaged zip archive"
        else:
            why = f"torch.load with weights_only=True cannot read it ({type(e).__name__})"
        raise BadInputError(f"not a readable {what} checkpoint: {why}", path) from None


def check_checkpoint(path: str | Path) -> None:
    """Fail early, naming the file, when `path` is not a readable videolang checkpoint (tensors mapped, not read)."""
    read_checkpoint(path, mmap=True)


def released_model_state(path: str | Path, what: str, allowed: tuple = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """(their state dict with DataParallel's `module.` prefix dropped, the whole file) of a checkpoint saved
    as `torch.save({"model": state_dict, ...})` (VidChapters', Moment-DETR's), loaded safely (`load_released`).
    A videolang checkpoint, or a file without a 'model' state dict, is an error naming the file."""
    ckpt = load_released(path, what, allowed)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        kind = "a videolang checkpoint (use it as it is)" if isinstance(ckpt, dict) and "videolang" in ckpt \
            else "no 'model' state dict"
        raise BadInputError(f"not a {what} checkpoint: {kind}", path)
    return {(k[7:] if k.startswith("module.") else k): v for k, v in ckpt["model"].items()}, ckpt


def map_released(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor],
                 target_of: Callable[[str, torch.Tensor], tuple[str | None, torch.Tensor]], required: Iterable[str],
                 path: str | Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """A released state dict onto ours: (our tensors, their unused keys).

    `target_of(key, tensor)` gives our name for each of their tensors (None: not ours) and the tensor as we
    hold it; a shape that differs is an error naming both keys, and so is a `required` tensor of ours that
    nothing set (a half-loaded model would run and be wrong)."""
    mapped: dict[str, torch.Tensor] = {}
    unused: list[str] = []
    for key, tensor in state.items():
        target, tensor = target_of(key, tensor)
        if target is None or target not in own:
            unused.append(key)
            continue
        if tuple(own[target].shape) != tuple(tensor.shape):
            raise BadInputError(f"{key} has shape {tuple(tensor.shape)}, the model built from its options expects "
                                f"{tuple(own[target].shape)} at {target}", path)
        mapped[target] = tensor.to(own[target].dtype)
    missing = sorted(k for k in required if k not in mapped)
    if missing:
        raise BadInputError(f"the checkpoint does not set {len(missing)} parameter(s) of the model: "
                            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}", path)
    return mapped, unused
