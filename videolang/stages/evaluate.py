"""`stage=evaluate`: score a predictions file against references with the task's evaluator.

    python -m videolang.run stage=evaluate task=dense_captioning predictions=preds.json references=val.json

The evaluator comes from `conf/task/<task>.yaml` (`evaluator:`). The run folder gets
metrics.json (every protocol), report.md, per_item.parquet and plots/timeline_*.png.
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from videolang.core.errors import ConfigError
from videolang.core.options import instantiate
from videolang.evaluate.report import write_outputs
from videolang.stages import StageResult

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> StageResult:
    if isinstance(cfg.predictions, (ListConfig, DictConfig)):
        raise ConfigError(f"predictions= takes one file, got {OmegaConf.to_container(cfg.predictions)!r}")
    predictions = str(cfg.predictions)
    refs = cfg.references  # one path, or several (ActivityNet's val_1 + val_2: references=[a.json,b.json])
    references = [str(r) for r in refs] if isinstance(refs, ListConfig) else str(refs)
    evaluator_cfg = OmegaConf.select(cfg, "task.evaluator")
    if evaluator_cfg is None:
        raise ConfigError("stage=evaluate needs a task with an evaluator: pass "
                          "task=<dense_captioning|chapter_generation|chapter_captioning|grounding|videoqa>")
    evaluator = instantiate(evaluator_cfg, "task.evaluator")  # an option it refuses: the setting to fix
    result = evaluator.evaluate(predictions, references)
    for message in result.report.warnings:  # whole-file problems (e.g. nothing predicted): first, in full
        log.warning(message)
    for line in result.report.lines():
        log.warning("input: %s", line)
    files = write_outputs(result, Path(cfg.paths.output_dir), {"predictions": predictions, "references": references},
                          plots=int(cfg.stage.get("plots", 4)))
    primary = next(iter(result.metrics))
    log.info("%s (%s): %s", cfg.task.name, primary,
             ", ".join(f"{k}={v:.4f}" for k, v in result.primary.items() if "@" not in k and v is not None))
    for line in grounding_lines(result.primary):
        log.info("%s", line)
    summary = {"task": str(cfg.task.name), "primary": primary, "metrics": result.metrics,
               "inputs": dict(result.report.counts), "files": files}
    if result.report.warnings:
        summary["warnings"] = list(result.report.warnings)
    return StageResult(summary)


def grounding_lines(m: dict) -> list[str]:
    """The query-sensitivity and highlight figures in words (grounding runs that have them)."""
    lines = []
    if m.get("qs_videos_evaluated"):
        r1 = "qs_r1@0.5" if "qs_r1@0.5" in m else next(k for k in m if k.startswith("qs_r1@"))
        t = r1.split("@", 1)[1]
        lines.append(f"query sensitivity: the top-1 window changes with the query on {100 * m['qs_top1_changed']:.1f}% "
                     f"of {m['qs_videos_evaluated']:.0f} videos with several queries; R@1@{t} "
                     f"{100 * m[r1]:.2f} with the true query, {100 * m[f'qs_shuffled_r1@{t}']:.2f} with another "
                     f"query's reference (over their {m['qs_queries_evaluated']:.0f} queries; single-query videos "
                     "left out)")
    if m.get("hl_queries_evaluated"):
        levels = [k.split("@", 1)[1] for k in m if k.startswith("hl_map@")]
        lines.append("highlight detection: " + ", ".join(
            f"{level} HIT@1 {100 * (m[f'hl_hit1@{level}'] or 0):.2f} mAP {100 * (m[f'hl_map@{level}'] or 0):.2f}"
            for level in levels) + f" ({m['hl_queries_evaluated']:.0f} queries)")
    return lines
