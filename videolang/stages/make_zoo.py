"""`stage=make_zoo`: build the tiny model zoo and assemble the real Whisper-base under `${paths.model_dir}`.

Idempotent: models already present that load are skipped, so a second run does
no work and says so.
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from videolang.stages import StageResult
from videolang.zoo import build_zoo, corpus_texts

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> StageResult:
    opts = cfg.stage
    out_dir = Path(opts.out_dir)
    texts, text_source = None, "built-in English text"
    corpus = opts.get("tokenizer_corpus")
    if corpus and (Path(corpus) / "manifest.json").is_file():
        texts, text_source = corpus_texts(corpus), f"sample corpus {corpus}"
    only = list(opts.only) if opts.get("only") else None
    zoo = build_zoo(out_dir, texts=texts, only=only, force=bool(opts.get("force", False)))
    if zoo.built:
        log.info("zoo: built %s in %s (tokenizers trained on the %s)", ", ".join(zoo.built), out_dir, text_source)
    else:
        log.info("zoo: nothing to do: all %d models in %s are present and load", len(zoo), out_dir)
    return StageResult({
        "out_dir": str(out_dir),
        "models": {name: str(path) for name, path in zoo.items()},
        "built": list(zoo.built),
        "skipped": list(zoo.skipped),
        "tokenizer_texts": text_source if zoo.built else None,
    })
