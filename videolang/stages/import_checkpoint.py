"""`stage=import_checkpoint`: a checkpoint another project released, as an ordinary videolang checkpoint.

    python -m videolang.run stage=import_checkpoint source=vidchapters path=vid2seq_htmchaptersft.pth
    python -m videolang.run stage=import_checkpoint source=vidchapters path=vid2seq_htmchapters_vc.pth \
        task=chapter_captioning           # their "chapter titles with ground-truth boundaries" model

`source=vidchapters`: VidChapters' Vid2Seq checkpoints (`videolang.model.vidchapters`: every key mapped
or listed as unused, loaded with `torch.load(weights_only=True)` and `argparse.Namespace` allowed). The
result (`stage.out`, default `<run>/checkpoints/imported.ckpt`) is read by `stage=test`, `stage=predict`
and `model.init_from` like any checkpoint this project trains. The features it expects are recorded from
the `extractor` group's keys named in `stage.feature_extractors` (`extractor=default`: CLIP ViT-L/14 at
1 fps, VidChapters' own), so `stage=predict` extracts a raw video the same way.

    python -m videolang.run stage=import_checkpoint source=moment_detr path=vidchapters_moment_detr.ckpt
    python -m videolang.run stage=import_checkpoint source=moment_detr path=model_best.ckpt \
        stage.text_encoder=openai/clip-vit-base-patch32 extractor.decode.fps=0.5   # jayleicn's QVHighlights one

`source=moment_detr`: Moment-DETR's `{"model", "optimizer", "epoch", "opt"}` files, jayleicn/moment_detr's and
VidChapters' (`videolang.model.moment_detr.released`), into a `model=moment_detr` checkpoint; the frozen text
encoder is not in their file (`stage.text_encoder`, default the visual extractor's CLIP, as `model=moment_detr`).
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from videolang.core.errors import ConfigError
from videolang.core.model_paths import is_portable, resolve
from videolang.model.moment_detr.released import import_moment_detr
from videolang.model.vidchapters import import_vidchapters, save_imported
from videolang.stages import StageResult
from videolang.stages.import_features import equivalent_description

log = logging.getLogger(__name__)
SOURCES = ("vidchapters", "moment_detr")


def run(cfg: DictConfig) -> StageResult:
    source, path = str(cfg.source), Path(str(cfg.path))
    if source not in SOURCES:
        raise ConfigError(f"source={source!r}: checkpoints are imported from {', '.join(SOURCES)}")
    st = cfg.stage
    model_dir = str(cfg.paths.model_dir)
    if source == "moment_detr":
        encoder = str(st.text_encoder)
        if is_portable(encoder):
            encoder = str(resolve(encoder, model_dir, what="the text encoder (stage.text_encoder)"))
        module, report = import_moment_detr(path, encoder, model_dir)
    else:
        backbone = str(st.backbone)
        if is_portable(backbone):
            backbone = str(resolve(backbone, model_dir, what="the T5 backbone (stage.backbone)"))
        head = OmegaConf.select(cfg, "task.head")
        task = {"task": str(OmegaConf.select(cfg, "task.name", default="chapter_generation"))}
        if head is not None:
            task["head"] = OmegaConf.to_container(head, resolve=True)
        module, report = import_vidchapters(path, backbone, model_dir, task)
    keys = [str(k) for k in (st.feature_extractors or [])]
    module.feature_info = {k: {"key": k, "model": info["equivalent_model"], "fingerprint": info["equivalent_fingerprint"],
                               **info} for k in keys for info in [equivalent_description(cfg, k, k)]}
    out = Path(str(st.out)) if st.get("out") else Path(cfg.paths.output_dir) / "checkpoints" / "imported.ckpt"
    save_imported(module, out, report)
    log.info("import_checkpoint: %s -> %s (%d tensors mapped, %d unused%s)", path, out, report["mapped"],
             len(report["unused"]), f": {', '.join(report['unused'][:5])}" if report["unused"] else "")
    return StageResult({"source": source, "path": str(path), "checkpoint": str(out), **report,
                        "features": {k: v["model"] for k, v in module.feature_info.items()}})
