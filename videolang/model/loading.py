"""One call rebuilds any trained task model from its checkpoint: `load_module(path)`.

Each kind of model stores its kind in the checkpoint's `videolang` section (`kind: moment_detr`;
Vid2Seq checkpoints, the first kind, store none); `load_module` reads it (tensors mapped, not read)
and hands the file to that module's own `from_checkpoint`. A checkpoint of another kind (the
common-sense model) goes to `Vid2SeqModule.from_checkpoint`, whose error names what it is.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from videolang.core.checkpoints import read_checkpoint
from videolang.model.base import TaskModule
from videolang.model.module import Vid2SeqModule
from videolang.model.moment_detr.module import KIND as MOMENT_DETR, MomentDETRModule

MODULES: dict[str, type[TaskModule]] = {"vid2seq": Vid2SeqModule, MOMENT_DETR: MomentDETRModule}


def checkpoint_kind(path: str | Path) -> str:
    """`vid2seq`, `moment_detr`, ... (a missing or foreign file: the checkpoint reader's named error)."""
    _, extra = read_checkpoint(path, mmap=True)
    return str(extra.get("kind") or "vid2seq")


def load_module(path: str | Path, map_location: str = "cpu", model_dir: str | Path | None = None,
                **overrides: Any) -> TaskModule:
    """The trained model of `path`, whichever kind it is (see `Vid2SeqModule.from_checkpoint` for `model_dir`)."""
    cls = MODULES.get(checkpoint_kind(path), Vid2SeqModule)
    return cls.from_checkpoint(path, map_location=map_location, model_dir=model_dir, **overrides)
