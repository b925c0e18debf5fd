"""Model paths in checkpoints that survive moving the run folder and the model folder.

A checkpoint records the models it was made with: the T5 backbone (`hparams.backbone`), the
extractors that made the training features (`features.<key>.config.model`, the common-sense
extractor's `checkpoint`), the common-sense module's RoI backbone (`hparams.backbone.name`).
When a checkpoint is written (`portable`), every local path among them that lies under the
configured `paths.model_dir` is stored relative to it, as `model_dir:<relative path>`
(`model_dir:tiny-clip`); hub names (`t5-base`, `openai/clip-vit-large-patch14`, `large-v3`)
are stored as they are, and so are absolute paths outside `model_dir`.

When a checkpoint is read (`resolve` / `resolve_tree`), `model_dir:<rel>` becomes
`<current paths.model_dir>/<rel>`; an absolute path that no longer exists (a checkpoint made
before this, or a model outside `model_dir`, moved since) is looked up by its last path
components under the current `model_dir` (`/old/models/tiny-clip` -> `<model_dir>/tiny-clip`).
A model that is needed and found nowhere is a `BadInputError` naming it, the checkpoint and
every path tried.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

from videolang.config import project_root
from videolang.core.errors import BadInputError

log = logging.getLogger(__name__)

PREFIX = "model_dir:"
#: dict keys whose string values name a model (a folder, a file or a hub name): a missing one is an error
MODEL_KEYS = frozenset({"model", "checkpoint", "name", "backbone", "weights_file", "init_from"})
#: how many trailing path components an old absolute path is looked up by under model_dir (longest first)
MAX_SUFFIX = 4
HINT = ("copy or move the model under paths.model_dir, keeping its folder name, or set paths.model_dir to the "
        "folder that holds it; stage=make_zoo builds the tiny zoo")


def default_model_dir() -> Path:
    """`paths.model_dir` of conf/paths/default.yaml: `<project root>/models` (`VIDEOLANG_ROOT` moves the root)."""
    return project_root() / "models"


#: one model folder, or the folders to search in order (the first is `paths.model_dir`); None: the default
Folders = Union[str, Path, Sequence[Union[str, Path]], None]


def _dirs(model_dir: Folders) -> list[Path]:
    if model_dir is None or isinstance(model_dir, (str, Path)):
        model_dir = [model_dir] if model_dir else []
    out = [Path(os.path.expanduser(str(d))) for d in model_dir if d]
    return list(dict.fromkeys(out)) or [default_model_dir()]


def _model_dir(model_dir: Folders) -> Path:
    return _dirs(model_dir)[0]


def search_dirs(model_dir: str | Path | None, saved_model_dir: str | Path | None) -> list[str]:
    """Where a loaded checkpoint's models are looked for, in order. Given a `model_dir` (`paths.model_dir`):
    there, then the model folder the checkpoint was saved with (a checkpoint that did not move still loads
    where it was made). Without one (from Python): the saved folder when it still exists, then the
    project's `models/`."""
    saved = [str(saved_model_dir)] if saved_model_dir else []
    if model_dir:
        found = [str(model_dir)] + saved
    else:
        found = [d for d in saved if Path(d).is_dir()] + [str(default_model_dir())]
    return list(dict.fromkeys(found))


def is_portable(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def _looks_local(value: str) -> bool:
    """An absolute path, or a relative one with a folder part (`models/tiny-t5`) that exists here.
    Bare words (`t5-base`, `large-v3`, `mean`) and hub names that are not local folders are not paths."""
    if not value or len(value) > 4096 or "\n" in value or is_portable(value) or "://" in value:
        return False
    expanded = os.path.expanduser(value)
    if os.path.isabs(expanded):
        return True
    return (os.sep in value or "/" in value) and os.path.exists(expanded)


def _relative_to(path: str, folder: Path) -> str | None:
    """`path` relative to `folder` (plain or with links resolved), as a POSIX string; None when outside it."""
    expanded = os.path.expanduser(path)
    for p, f in ((os.path.abspath(expanded), os.path.abspath(folder)),
                 (os.path.realpath(expanded), os.path.realpath(folder))):
        try:
            rel = Path(p).relative_to(f)
        except ValueError:
            continue
        return rel.as_posix() if str(rel) != "." else None  # model_dir itself is no model
    return None


def portable(value: str, model_dir: str | Path | None) -> str:
    """`model_dir:<rel>` for a local path under `model_dir`; anything else (a hub name, a path elsewhere) as given."""
    if not isinstance(value, str) or not _looks_local(value):
        return value
    rel = _relative_to(value, _model_dir(model_dir))
    return f"{PREFIX}{rel}" if rel else value


def portable_checkpoint(checkpoint: dict[str, Any], model_dir: str, feature_info: Any) -> dict[str, Any]:
    """For a module's `on_save_checkpoint`: its hyper-parameters made portable in place, and the entries every
    videolang checkpoint carries (the features it was trained on, portable; what `model_dir:` meant then)."""
    if checkpoint.get("hyper_parameters") is not None:
        checkpoint["hyper_parameters"] = portable_tree(checkpoint["hyper_parameters"], model_dir)
    return {"features": portable_tree(feature_info, model_dir), "model_dir_at_save": model_dir}


def portable_tree(obj: Any, model_dir: str | Path | None) -> Any:
    """A copy of nested dicts / lists with every local path under `model_dir` made `model_dir:`-relative."""
    if isinstance(obj, str):
        return portable(obj, model_dir)
    if isinstance(obj, dict):
        return {k: portable_tree(v, model_dir) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(portable_tree(v, model_dir) for v in obj)
    return obj


def saved_location(value: str, saved_model_dir: str | Path | None) -> str:
    """Where a stored path pointed when the checkpoint was written (`model_dir:` joined to the model_dir of then)."""
    if is_portable(value) and saved_model_dir:
        return str(Path(str(saved_model_dir)) / value[len(PREFIX):])
    return value


def as_saved(current: Any, stored: Any, saved_model_dir: str | Path | None) -> Any:
    """`current` (options rebuilt from `stored` with their model paths resolved) with each resolved path put
    back where it pointed when the checkpoint was written; every other value as it is now. Equal fingerprints
    of this and of the recorded options mean: the same extractor, only its model has moved."""
    if isinstance(current, dict) and isinstance(stored, dict):
        return {k: as_saved(v, stored[k], saved_model_dir) if k in stored else v for k, v in current.items()}
    if isinstance(current, (list, tuple)) and isinstance(stored, (list, tuple)) and len(current) == len(stored):
        return type(current)(as_saved(c, s, saved_model_dir) for c, s in zip(current, stored))
    if isinstance(current, str) and isinstance(stored, str) and current != stored and (
            is_portable(stored) or os.path.isabs(os.path.expanduser(stored))):
        return saved_location(stored, saved_model_dir)
    return current


def candidates(value: str, model_dir: Folders) -> list[Path]:
    """Where a stored model path is looked for under the model folder(s), in order."""
    if is_portable(value):
        return list(dict.fromkeys(root / value[len(PREFIX):] for root in _dirs(model_dir)))
    parts = [p for p in Path(os.path.expanduser(value)).parts if p not in (os.sep, "/", "")]
    if parts and Path(parts[0]).anchor:  # a Windows drive
        parts = parts[1:]
    out = [root.joinpath(*parts[-k:]) for root in _dirs(model_dir) for k in range(min(len(parts), MAX_SUFFIX), 0, -1)]
    return list(dict.fromkeys(out))


def resolve(value: Any, model_dir: Folders, *, what: str | None = None,
            source: str | Path | None = None, required: bool = True) -> Any:
    """A stored model path -> a path that exists under the current `model_dir` (or the value unchanged).

    - `model_dir:<rel>` -> `<model_dir>/<rel>`;
    - an existing path, a hub name, anything that is not a path -> unchanged;
    - a missing absolute path -> the first of its last 4, 3, 2, 1 components found under `model_dir`.

    `model_dir` may be a list of folders (`search_dirs`), searched in order.

    Not found: with `required` (and `what`, the model's role, for the message) a `BadInputError`
    naming the model, `source` (the checkpoint) and every path tried; else the value unchanged.
    """
    if not isinstance(value, str):
        return value
    if not is_portable(value):
        expanded = os.path.expanduser(value)
        if not os.path.isabs(expanded) or os.path.exists(expanded):
            return value
    tried = candidates(value, model_dir)
    for path in tried:
        if path.exists():
            if not is_portable(value):  # found by name: say which file stands in for the recorded one
                log.warning("%s: %s does not exist; using %s (found by its name under paths.model_dir)",
                            what or "model", value, path)
            return str(path)
    if not required:
        return value
    raise missing_model(value, model_dir, tried, what, source)


def missing_model(value: str, model_dir: Folders, tried: list[Path], what: str | None,
                  source: str | Path | None) -> BadInputError:
    root, *others = _dirs(model_dir)
    name = value[len(PREFIX):] if is_portable(value) else Path(value).name
    stored = f"stored as {value!r}" + ("" if is_portable(value) else ", which does not exist")
    where = f"paths.model_dir={root}" + (f" and {', '.join(map(str, others))} (the model folder when it was saved)"
                                         if others else "")
    looked = ", ".join(str(p) for p in tried)
    return BadInputError(f"{what or 'a model it needs'} ({name}) is not found: {stored}; looked in {where}: "
                         f"{looked}", source, hint=HINT)


def resolve_tree(obj: Any, model_dir: Folders, *, what: str | None = None,
                 source: str | Path | None = None, required: bool = True, search: bool = True,
                 key: str | None = None) -> Any:
    """`resolve` over nested dicts / lists. With `required`, a value that is not found is an error only under
    a model key (`model`, `checkpoint`, `name`, `backbone`, `weights_file`, `init_from`); other paths
    (box folders, class files) that are not found are left as they are, or joined to `model_dir` when stored
    relative to it, for their reader to report. Without `required` nothing raises and what is not found
    stays as stored (a backbone folder that predict does not need). Without `search` only `model_dir:`
    values are resolved (missing absolute paths are not looked for)."""
    if isinstance(obj, str):
        if not search and not is_portable(obj):
            return obj
        strict = required and key in MODEL_KEYS
        found = resolve(obj, model_dir, what=what, source=source, required=strict)
        if required and found is obj and is_portable(obj):  # not a model: its reader names the missing file
            return str(_model_dir(model_dir) / obj[len(PREFIX):])
        return found
    if isinstance(obj, dict):
        return {k: resolve_tree(v, model_dir, what=what, source=source, required=required, search=search,
                                key=str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(resolve_tree(v, model_dir, what=what, source=source, required=required, search=search,
                                      key=key) for v in obj)
    return obj
