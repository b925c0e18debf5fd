"""Reading a videolang checkpoint file: one place for "missing", "unreadable" and "not ours" errors."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from videolang.core.errors import BadInputError


def read_checkpoint(path: str | Path, map_location: str = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """(the checkpoint dict, its `videolang` section), loaded with `weights_only=True` (no pickled code).

    Any file that torch cannot read, or that has no `videolang` section and stored options, is a
    user input problem named with its path, not a traceback.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError("checkpoint not found", path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a user input problem
        raise BadInputError(f"cannot read checkpoint: {type(e).__name__}: {str(e).splitlines()[0][:200]}", path,
                            hint="is it a videolang checkpoint?") from None
    extra = ckpt.get("videolang") if isinstance(ckpt, dict) else None
    if not extra or "hyper_parameters" not in ckpt:
        raise BadInputError("not a videolang checkpoint (no stored options)", path)
    return ckpt, extra
