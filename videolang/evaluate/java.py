"""The two Java tools of the COCO caption protocol, as shipped inside the installed `pycocoevalcap`.

We use the jars, never pycocoevalcap's Python wrappers: METEOR 1.5 runs as one
long-lived process per evaluation (`videolang.evaluate.meteor`), the Stanford
PTB tokenizer as one call for every text of an evaluation (`videolang.evaluate.ptb`).
"""
from __future__ import annotations

import importlib.util
import shutil
from functools import lru_cache
from pathlib import Path

from videolang.core.errors import VideolangError

JAVA_HINT = "install a Java runtime (apt-get install default-jre-headless, or `make setup`)"


@lru_cache(maxsize=None)
def pycocoevalcap_dir() -> Path:
    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        raise VideolangError("the pycocoevalcap package is not installed", hint="pip install pycocoevalcap")
    return Path(next(iter(spec.submodule_search_locations)))


def meteor_jar() -> Path:
    return _existing(pycocoevalcap_dir() / "meteor" / "meteor-1.5.jar")


def corenlp_jar() -> Path:
    return _existing(pycocoevalcap_dir() / "tokenizer" / "stanford-corenlp-3.4.1.jar")


def java_executable(java: str = "java") -> str:
    found = shutil.which(java)
    if found is None:
        raise VideolangError(f"'{java}' not found: METEOR and the PTB tokenizer need Java", hint=JAVA_HINT)
    return found


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise VideolangError("jar missing from the installed pycocoevalcap", path, hint="reinstall pycocoevalcap")
    return path
