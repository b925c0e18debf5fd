"""`stage=predict`: chapters for one raw video, as JSON, YouTube description lines and WebVTT."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.timefmt import format_timestamp
from videolang.stages import StageResult

log = logging.getLogger(__name__)


def reference_chapters(source: str | Path, video: Path) -> list[dict[str, Any]] | None:
    """True chapters of `video` from a sample manifest.json or a DVC task file, when it lists the video."""
    from videolang.core.io import read_json

    data = read_json(source)
    vid = video.stem
    if isinstance(data, dict) and isinstance(data.get("videos"), (dict, list)):  # sample corpus manifest
        videos = data["videos"]
        entry = videos.get(vid) if isinstance(videos, dict) else next(
            (v for v in videos if v.get("id") == vid or v.get("video_id") == vid), None)
        if entry and entry.get("chapters"):
            return [{"start": c["start"], "end": c["end"], "title": c["title"]} for c in entry["chapters"]]
    if isinstance(data, dict) and isinstance(data.get(vid), dict) and "timestamps" in data[vid]:
        return [{"start": s, "end": e, "title": t} for (s, e), t in zip(data[vid]["timestamps"], data[vid]["sentences"])]
    return None


def side_by_side(predicted: list[dict], reference: list[dict] | None) -> str:
    rows = ["predicted chapters" + (" | true chapters" if reference is not None else "")]
    n = max(len(predicted), len(reference or []))
    for i in range(n):
        p = predicted[i] if i < len(predicted) else None
        left = f"{format_timestamp(p['start'])} {p['title']}" if p else ""
        if reference is None:
            rows.append(f"  {left}")
        else:
            r = reference[i] if i < len(reference) else None
            right = f"{format_timestamp(r['start'])} {r['title']}" if r else ""
            rows.append(f"  {left:<40} | {right}")
    return "\n".join(rows)


def run(cfg: DictConfig) -> StageResult:
    from videolang.predict import ChapterPredictor, write_chapter_files

    opts = cfg.stage
    video, ckpt = Path(str(cfg.video)), Path(str(cfg.ckpt))
    if opts.extractor not in ("checkpoint", "config"):
        raise ConfigError(f"stage.extractor must be 'checkpoint' or 'config', not {opts.extractor!r}")
    extractor_cfg = cfg.get("extractor") if opts.extractor == "config" else None
    if opts.extractor == "config" and extractor_cfg is None:
        raise ConfigError("stage.extractor=config but no extractor group is selected (e.g. extractor=tiny)")
    for path, what in ((video, "video"), (ckpt, "checkpoint")):  # before seconds of model loading
        if not path.is_file():
            raise BadInputError(f"{what} not found" if not path.exists() else f"{what} is not a file", path)
    generation = OmegaConf.to_container(opts.generation, resolve=True) if opts.get("generation") else {}
    predictor = ChapterPredictor.from_checkpoint(ckpt, extractor_cfg=extractor_cfg, device=str(opts.device))
    prediction = predictor.predict_video(video, **{k: v for k, v in generation.items() if v is not None})
    files = write_chapter_files(prediction, opts.out_dir, video.stem)
    for note in prediction.notes:
        log.info("predict: %s", note)
    reference = reference_chapters(opts.references, video) if opts.get("references") else None
    print(side_by_side(prediction.chapters, reference), file=sys.stdout)
    return StageResult({"video": str(video), "checkpoint": str(ckpt), "duration": prediction.duration,
                        "chapters": prediction.chapters, "dropped_events": dict(prediction.dropped),
                        "notes": prediction.notes, "files": files,
                        **({"reference": reference} if reference is not None else {})})
