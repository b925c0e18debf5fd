"""The dataset report: report.json (every count) and report.md (a readable summary with plots)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from videolang.core.io import atomic_path, atomic_write_json, atomic_write_text

PLOTS = ("chapters_per_video", "chapter_length", "title_length", "languages", "rejections")


def _summary(values: list[float] | np.ndarray) -> dict[str, float] | None:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return None
    return {"mean": round(float(arr.mean()), 3), "median": round(float(np.median(arr)), 3),
            "p5": round(float(np.percentile(arr, 5)), 3), "p95": round(float(np.percentile(arr, 95)), 3),
            "min": round(float(arr.min()), 3), "max": round(float(arr.max()), 3)}


def _lengths(chapters: dict[str, list]) -> np.ndarray:
    return np.asarray(chapters["end"], dtype=np.float64) - np.asarray(chapters["start"], dtype=np.float64)


def dataset_stats(videos: dict[str, list], chapters: dict[str, list]) -> dict[str, Any]:
    titles = chapters["title"]
    return {
        "chapters_per_video": _summary(videos["num_chapters"]),
        "chapter_seconds": _summary(_lengths(chapters)),
        "video_seconds": _summary(videos["duration"]),
        "title_words": _summary([len(t.split()) for t in titles]),
        "title_chars": _summary([len(t) for t in titles]),
    }


def build_report(*, name: str, settings: dict[str, Any], counts: dict[str, int], rejected: Counter, adjusted: Counter,
                 videos: dict[str, list], chapters: dict[str, list], failures: list[dict], warnings: list[str],
                 tables: dict[str, int], task_files: dict[str, int]) -> dict[str, Any]:
    """videos / chapters: the tables as columns {column: [values]}."""
    splits: dict[str, dict[str, int]] = {}
    for split, num in zip(videos["split"], videos["num_chapters"]):
        s = splits.setdefault(split, {"videos": 0, "chapters": 0})
        s["videos"] += 1
        s["chapters"] += num
    languages = Counter(x for x in videos["language"] if x)
    return {
        "dataset": name,
        "settings": settings,
        "counts": counts,
        "rejected": dict(rejected.most_common()),
        "adjusted": dict(adjusted.most_common()),
        "splits": dict(sorted(splits.items())),
        "stats": dataset_stats(videos, chapters),
        "languages": dict(languages.most_common()),
        "top_titles": [[t, n] for t, n in Counter(chapters["title"]).most_common(20)],
        "tables": tables,
        "task_files": task_files,
        "warnings": warnings,
        "failures_total": len(failures),
        "failures": failures[:200],
        "plots": [f"{p}.png" for p in PLOTS],
    }


def _bar(ax, labels, values, title):
    ax.set_title(title)
    if not labels:
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    ax.barh(range(len(labels)), values, color="#4c72b0")
    ax.set_yticks(range(len(labels)), labels=labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("videos")


def write_plots(out_dir: Path, report: dict[str, Any], videos: dict[str, list], chapters: dict[str, list]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(fig, stem):
        fig.tight_layout()
        with atomic_path(out_dir / f"{stem}.png") as tmp:
            fig.savefig(tmp, format="png", dpi=90)
        plt.close(fig)

    series = {
        "chapters_per_video": (videos["num_chapters"], "chapters per video", 30),
        "chapter_length": (_lengths(chapters), "chapter length (s)", 40),
        "title_length": ([len(t.split()) for t in chapters["title"]], "title length (words)", 30),
    }
    for stem, (values, label, bins) in series.items():
        fig, ax = plt.subplots(figsize=(5, 3))
        if len(values):
            ax.hist(values, bins=bins, color="#4c72b0")
        ax.set_xlabel(label)
        ax.set_ylabel("count")
        save(fig, stem)
    for stem, data, title in (("languages", report["languages"], "title languages (videos)"),
                              ("rejections", report["rejected"], "rejection reasons (videos)")):
        items = list(data.items())[:15]
        fig, ax = plt.subplots(figsize=(5, 0.35 * max(len(items), 3) + 1))
        _bar(ax, [k for k, _ in items], [v for _, v in items], title)
        save(fig, stem)


def _table(rows: list[tuple], header: tuple) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: dict[str, Any]) -> str:
    c = report["counts"]
    parts = [f"# Dataset report: {report['dataset']}", "",
             f"Scanned **{c['scanned']:,}** input videos, kept **{c['kept']:,}** with **{c['chapters']:,}** chapters "
             f"({c['read_failures']:,} input files could not be read).", "",
             "## Splits", "", _table([(k, v["videos"], v["chapters"]) for k, v in report["splits"].items()],
                                      ("split", "videos", "chapters")), "",
             "## Rejections", "", _table(list(report["rejected"].items()) or [("(none)", 0)], ("reason", "videos")), ""]
    if report["adjusted"]:
        parts += ["## Adjustments", "", _table(list(report["adjusted"].items()), ("adjustment", "count")), ""]
    stats = report["stats"]
    rows = [(k, *(s[m] for m in ("mean", "median", "p5", "p95", "min", "max"))) for k, s in stats.items() if s]
    parts += ["## Statistics", "", _table(rows, ("quantity", "mean", "median", "p5", "p95", "min", "max")), ""]
    if report["languages"]:
        parts += ["## Title languages", "", _table(list(report["languages"].items())[:20], ("language", "videos")), ""]
    parts += ["## Most frequent titles", "", _table([tuple(x) for x in report["top_titles"]] or [("(none)", 0)],
                                                   ("title", "chapters")), "",
              "## Plots", ""]
    parts += [f"![{p}]({p})" for p in report["plots"]]
    if report["warnings"]:
        parts += ["", "## Warnings", ""] + [f"- {w}" for w in report["warnings"]]
    if report["failures_total"]:
        parts += ["", f"## Unreadable inputs ({report['failures_total']})", ""]
        parts += [f"- `{f['item']}`: {f['reason']}" for f in report["failures"][:50]]
    return "\n".join(parts) + "\n"


def write_report(out_dir: Path, report: dict[str, Any], videos: dict[str, list], chapters: dict[str, list]) -> None:
    write_plots(out_dir, report, videos, chapters)
    atomic_write_json(out_dir / "report.json", report)
    atomic_write_text(out_dir / "report.md", render_markdown(report))
