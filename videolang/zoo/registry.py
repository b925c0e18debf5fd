"""The zoo registry and `build_zoo`: build what is missing, atomically, and skip what already loads.

A zoo model is one function registered with `@register_zoo_model(name, load=...)`:
it writes the model to the path it is given (a folder, or a single file when the
name has a suffix such as `.pt`), and `load` is the ordinary library call a user
makes on that path. `build_zoo` builds each model in a staging folder beside its
final place, loads it back with `load`, and only then renames it into place, so
a killed run never leaves a half-written model under a final name. An existing
model that loads is skipped; one that does not is rebuilt, and so is one whose tokenizer was
trained on other texts than the ones given now (a changed sample corpus): a stale vocabulary
would silently make a run differ from a fresh checkout's. Given no texts (benchmarks asking for
"a tiny CLIP"), any loadable model is kept.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from videolang.core.errors import ConfigError
from videolang.core.io import ensure_writable_dir
from videolang.zoo.text import training_texts

log = logging.getLogger(__name__)

__all__ = ["ZooModel", "ZooPaths", "ZOO", "register_zoo_model", "build_zoo", "load_problem", "TEXTS_RECORD"]

# In the folder of a model whose tokenizer is trained on the given texts: the digest of those texts.
TEXTS_RECORD = "videolang_zoo.json"

Builder = Callable[[Path, list[str]], None]


@dataclass(frozen=True)
class ZooModel:
    """A registered zoo entry: `build(target, texts)` writes it, `load(path)` is how users open it."""

    name: str
    build: Builder
    load: Callable[[Path], object]
    trains_on_texts: bool = False


ZOO: dict[str, ZooModel] = {}


def register_zoo_model(name: str, *, load: Callable[[Path], object],
                       trains_on_texts: bool = False) -> Callable[[Builder], Builder]:
    """Register `build(target: Path, texts: list[str]) -> None` as the zoo model `name`.

    `name` is also the file or folder name under the zoo folder. `texts` are the
    tokenizer training texts (see `text.training_texts`); builders that train
    nothing ignore them. `trains_on_texts` (a folder model): the build records the
    texts' digest in the folder and is redone when other texts are given. The build
    runs under a fixed per-name torch seed.
    """

    def decorate(build: Builder) -> Builder:
        if name in ZOO:
            raise ValueError(f"zoo model '{name}' is registered twice")
        ZOO[name] = ZooModel(name, build, load, trains_on_texts)
        return build

    return decorate


class ZooPaths(dict):
    """`build_zoo`'s answer: name -> path, plus which names were `built` and which `skipped`."""

    def __init__(self, paths: dict[str, Path], built: list[str], skipped: list[str]):
        super().__init__(paths)
        self.built = tuple(built)
        self.skipped = tuple(skipped)


def build_zoo(
    out_dir: Path,
    *,
    texts: Iterable[str] | None = None,
    only: list[str] | None = None,
    force: bool = False,
) -> ZooPaths:
    """Build the zoo models missing from `out_dir` (all, or the names in `only`); return name -> path.

    `texts` (e.g. `corpus_texts(sample_dir)`) train the tiny tokenizers, together
    with built-in English text. An existing model that loads is skipped and
    logged unless `force`, or unless `texts` are given and its tokenizer learned
    from other ones.
    """
    names = list(ZOO) if only is None else list(dict.fromkeys(only))
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        raise ConfigError(f"unknown zoo model(s) {unknown}; available: {', '.join(ZOO)}")
    out_dir = ensure_writable_dir(out_dir)
    lines = training_texts(texts)
    digest = texts_digest(lines)
    paths, built, skipped = {}, [], []
    for name in names:
        model, path = ZOO[name], out_dir / name
        paths[name] = path
        if path.exists() and not force:
            problem = load_problem(model, path)
            if problem is not None:
                log.warning("zoo: %s is present but does not load (%s): rebuilding it", path, problem)
            elif texts is not None and (stale := stale_texts(model, path, digest)) is not None:
                log.info("zoo: %s %s: rebuilding it", path, stale)
            else:
                log.info("zoo: %s is present and loads, skipped", path)
                skipped.append(name)
                continue
        _build_in_place(model, path, lines, digest)
        built.append(name)
    return ZooPaths(paths, built, skipped)


def load_problem(model: ZooModel, path: Path) -> str | None:
    """None when `model.load(path)` works, else what went wrong (one line)."""
    try:
        model.load(path)
    except Exception as e:  # noqa: BLE001 - any failure means "not loadable", whatever the library raises
        return f"{type(e).__name__}: {e}".splitlines()[0]
    return None


def texts_digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def stale_texts(model: ZooModel, path: Path, digest: str) -> str | None:
    """Why a loadable model's tokenizer does not match the texts given now, or None when it does."""
    if not model.trains_on_texts:
        return None
    try:
        recorded = json.loads((path / TEXTS_RECORD).read_text(encoding="utf-8")).get("tokenizer_texts_sha256")
    except (OSError, ValueError, AttributeError):
        return f"has no readable {TEXTS_RECORD} (built by an older videolang)"
    if recorded != digest:
        return "has a tokenizer trained on other texts (the sample corpus changed)"
    return None


def _build_in_place(model: ZooModel, path: Path, texts: list[str], digest: str) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{model.name}.building.", dir=path.parent))
    try:
        target = staging / model.name
        log.info("zoo: building %s", path)
        with _seeded(model.name):
            model.build(target, texts)
        if model.trains_on_texts:
            (target / TEXTS_RECORD).write_text(
                json.dumps({"tokenizer_texts_sha256": digest, "lines": len(texts)}, indent=1) + "\n", encoding="utf-8")
        problem = load_problem(model, target)
        if problem is not None:
            raise RuntimeError(f"zoo model {model.name} was built but does not load: {problem}")
        if path.exists():  # force / broken: move the old one out of the way first, delete it with the staging folder
            os.replace(path, staging / "replaced")
        os.replace(target, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _seeded(name: str) -> Iterator[None]:
    """Fixed weights per model name, without disturbing the caller's random state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(zlib.crc32(name.encode()))
        yield
