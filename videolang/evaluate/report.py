"""What an evaluation run leaves behind: metrics JSON, a Markdown table, per-item Parquet, timeline plots.

Plots are bounded whatever the input: at most `MAX_PLOTTED_SEGMENTS` segments per timeline row (a
predictions file with 100k events per video made each plot take minutes), the row saying how many of how
many it shows; `stage=evaluate` writes them after its summary.json, with a progress bar.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from videolang.core.ids import id_to_filename
from videolang.core.io import atomic_path, atomic_write_json, atomic_write_parquet, atomic_write_text, ensure_dir
from videolang.evaluate.evaluators import EvaluationResult

COUNT_SUFFIXES = ("_evaluated",)
SCALE_NOTE = ("Scores are fractions in the files and x100 in this table, as papers print them "
              "(CIDEr is x100 of its 0-10 scale).")


_UNITS = {"dense_captioning": "videos", "chapter_generation": "videos", "grounding": "queries",
          "videoqa": "questions", "chapter_captioning": "items"}


def _is_count(name: str) -> bool:
    return name.split("@")[0].endswith(COUNT_SUFFIXES)  # `queries_evaluated@short` is a count too


def markdown_report(result: EvaluationResult, sources: dict[str, str]) -> str:
    protocols = list(result.metrics)
    names = list(dict.fromkeys(n for m in result.metrics.values() for n in m))
    names.sort(key=lambda n: ("@" in n, _is_count(n)))  # averages first, then per threshold, counts last
    lines = [f"# Evaluation: {result.task}", ""]
    lines += [f"- {k}: `{v}`" for k, v in sources.items()]
    lines += [f"- primary protocol: **{protocols[0]}**"
              + (f"; also reported: {', '.join(protocols[1:])}" if protocols[1:] else ""), "",
              SCALE_NOTE, "", "| metric | " + " | ".join(protocols) + " |", "|---|" + "---:|" * len(protocols)]
    for name in names:
        cells = []
        for p in protocols:
            v = result.metrics[p].get(name)
            if v is None:  # not computed by this protocol, or null: nothing to average (an empty length bucket,
                # or compat when no reference item was predicted: it skips those)
                cells.append(f"no {_UNITS.get(result.task, 'items')}" if name in result.metrics[p] else "")
            else:
                cells.append(f"{v:.0f}" if _is_count(name) else f"{100 * v:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Inputs", ""]
    lines += [f"- **warning**: {w}" for w in result.report.warnings]
    lines += [f"- {line}" for line in result.report.lines()] or ["- nothing dropped, clipped or missing"]
    return "\n".join(lines) + "\n"


def write_outputs(result: EvaluationResult, out_dir: str | Path, sources: dict[str, str],
                  plots: int = 4) -> dict[str, Any]:
    """Write everything into `out_dir`; returns {kind: path(s)}."""
    out_dir = ensure_dir(out_dir)
    files: dict[str, Any] = {"metrics": str(out_dir / "metrics.json"), "report": str(out_dir / "report.md"),
                             "per_item": str(out_dir / "per_item.parquet")}
    atomic_write_json(files["metrics"], {
        "task": result.task, "primary": next(iter(result.metrics)), "metrics": result.metrics,
        "inputs": result.report.as_dict(), "sources": sources,
        "scale": "fractions; CIDEr on its 0-10 scale; papers print x100"})
    atomic_write_text(files["report"], markdown_report(result, sources))
    atomic_write_parquet(files["per_item"], result.per_item)
    files["plots"] = [str(p) for p in timeline_plots(result, out_dir / "plots", plots)]
    return files


# -- timelines ------------------------------------------------------------------------------
MAX_PLOTTED_SEGMENTS = 200  # per timeline row: more is unreadable, and matplotlib's time grows with each


def plotted_segments(spans: np.ndarray, texts: list[str], cap: int = MAX_PLOTTED_SEGMENTS
                     ) -> tuple[np.ndarray, list[str], str]:
    """At most `cap` of a row's segments, spread evenly over the row in time order, and a note saying how many
    of how many are shown ("" when all are)."""
    if len(spans) <= cap:
        return spans, texts, ""
    order = np.argsort(spans[:, 0], kind="stable")
    keep = order[np.linspace(0, len(order) - 1, cap).round().astype(int)]
    return spans[keep], [texts[i] for i in keep], f"{cap:,} of {len(spans):,} shown"


def _progress(items: list, desc: str):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="plot", leave=False, disable=None if len(items) > 1 else True)


def pick_spread(scores: np.ndarray, k: int) -> list[int]:
    """Indices of k items spread from the lowest to the highest score."""
    if k <= 0 or not len(scores):
        return []
    order = np.argsort(scores, kind="stable")
    return list(dict.fromkeys(order[np.linspace(0, len(order) - 1, min(k, len(order))).round().astype(int)]))


def timeline_plots(result: EvaluationResult, folder: Path, k: int) -> list[Path]:
    """Predicted vs reference segments for a few videos (dense captioning) or queries (grounding)."""
    frame = result.per_item
    if result.task in ("dense_captioning", "chapter_generation"):
        score = "soda_c" if "soda_c" in frame else "meteor"
        out = []
        for i in _progress(pick_spread(frame[score].to_numpy(), k), "timeline plots"):
            vid = frame["video_id"].iloc[i]
            ref, pred = result.references[vid], result.predictions.get(vid)
            rows = [("reference", ref.spans, ref.sentences),
                    ("predicted", pred.spans if pred else np.zeros((0, 2)), pred.sentences if pred else [])]
            title = f"{vid}  {score} {100 * frame[score].iloc[i]:.1f}"
            out.append(plot_timeline(folder / f"timeline_{id_to_filename(vid)}.png", title, rows, ref.duration))
        return out
    if result.task == "grounding":
        out = []
        if "ap" not in frame:  # highlight metrics only
            return []
        frame = frame[frame["ap"].notna()].reset_index(drop=True)
        for i in _progress(pick_spread(frame["ap"].to_numpy(), k), "timeline plots"):
            qid = frame["qid"].iloc[i]
            ref, pred = result.references[qid], result.predictions.get(qid)
            top = pred.windows[np.argsort(-pred.scores, kind="stable")[:5]] if pred else np.zeros((0, 2))
            rows = [("reference", ref.windows, [""] * len(ref.windows)),
                    ("top-5 predicted", top, [f"#{r + 1}" for r in range(len(top))])]
            title = f"query {qid}: {ref.query[:60]}  AP {100 * frame['ap'].iloc[i]:.1f}"
            out.append(plot_timeline(folder / f"timeline_{id_to_filename(str(qid))}.png", title, rows, ref.duration))
        return out
    return []


def plot_timeline(path: Path, title: str, rows: list[tuple[str, np.ndarray, list[str]]],
                  duration: float | None) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 1.2 + 1.1 * len(rows)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colors = ["#4C72B0", "#DD8452", "#55A868", "#C44E52"]
    end = max([duration or 0.0] + [float(s[:, 1].max()) for _, s, _ in rows if len(s)]) or 1.0
    shown = [(label, *plotted_segments(np.asarray(spans).reshape(-1, 2), list(texts))) for label, spans, texts in rows]
    rows = [(f"{label}\n({note})" if note else label, spans, texts) for label, spans, texts, note in shown]
    for y, (label, spans, texts) in enumerate(reversed(rows)):
        for j, ((s, e), text) in enumerate(zip(spans, texts)):
            ax.broken_barh([(s, max(e - s, end * 0.002))], (y - 0.35, 0.7), color=colors[j % len(colors)],
                           alpha=0.75, edgecolor="black", linewidth=0.5)
            room = int((e - s) / end * 160)  # characters that fit in the bar at this size
            label = text[:room] if room >= 4 else str(j + 1)
            if label:
                ax.text(s + 0.003 * end, y + (0.18 if j % 2 else -0.18), label, fontsize=7, va="center",
                        clip_on=True)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)])
    ax.set_xlim(0, end * 1.01)
    ax.set_xlabel("seconds")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    return path
