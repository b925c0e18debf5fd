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
        # torch's own text for such files advises loading with weights_only=False: never pass that on
        first = (str(e).splitlines() or [""])[0][:200]
        detail = "" if "weights" in first.lower() or "unsafe" in first.lower() else f": {first}"
        raise BadInputError(f"not a videolang checkpoint (torch.load with weights_only=True cannot read it: "
                            f"{type(e).__name__}{detail})", path) from None
    extra = ckpt.get("videolang") if isinstance(ckpt, dict) else None
    if not extra or "hyper_parameters" not in ckpt:
        raise BadInputError("not a videolang checkpoint (no stored options)", path)
    return ckpt, extra
