"""Builder fixtures: a corpus in the sample layout, real-format annotation files, a build helper."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from videolang.core.timefmt import format_timestamp

DATA = Path(__file__).parent / "data"
SHARED_YOUCOOK2 = Path(__file__).resolve().parents[3] / "shared" / "data" / "youcook2_val_sample.json"

TITLES = ["Intro", "Gathering the ingredients", "Mixing the dough", "Baking", "Tasting", "Final thoughts",
          "Unboxing", "Setup", "First impressions", "Verdict"]
# The sample's description styles; a numbered "1. 0:00 Intro" is left out, as in the real
# generator, because the published rules keep the number in the title.
LINE_FORMATS = ["{ts} {title}", "{ts2} - {title}", "{title} {ts}", "▶ {ts} | {title}"]


def make_mini_sample(root: Path, n_videos: int = 8, seed: int = 0) -> Path:
    """A corpus in the layout of stage=make_sample: metadata/<id>.info.json + .description, videos/, manifest.json."""
    rng = random.Random(seed)
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    (root / "videos").mkdir(exist_ok=True)
    manifest = {"videos": {}, "params": {"seed": seed, "generator": "tests/builder/conftest.py"}}
    for i in range(n_videos):
        vid = f"sampleVid{i:02d}"
        n = rng.randint(2, 6)
        duration = float(rng.randint(10 * n + 10, 10 * n + 60))
        cuts = sorted(rng.sample(range(1, int(duration) - 10 * n), n - 1))  # chapters >= 10 s, as in the sample
        starts = [0] + [c + 10 * (k + 1) for k, c in enumerate(cuts)]
        titles = rng.sample(TITLES, n)
        ends = starts[1:] + [duration]
        fmt = LINE_FORMATS[i % len(LINE_FORMATS)]
        lines = [f"Video {i} of the sample corpus.", "Settings: https://example.com:8080/a?b=1:23", "Filmed in 16:9."]
        lines += [fmt.format(ts=format_timestamp(s), ts2=format_timestamp(s).zfill(5), title=t)
                  for s, t in zip(starts, titles)]
        description = "\r\n".join(lines) if i % 3 == 2 else "\n".join(lines)
        chapters = [{"start_time": float(s), "end_time": float(e), "title": t} for s, e, t in zip(starts, ends, titles)]
        info = {"id": vid, "title": f"Sample video {i}", "description": description, "duration": duration,
                "chapters": chapters, "language": "en", "categories": ["Howto & Style"], "tags": ["sample"],
                "upload_date": "20240101", "channel_id": "UCsample"}
        (root / "metadata" / f"{vid}.info.json").write_text(json.dumps(info), encoding="utf-8")
        (root / "metadata" / f"{vid}.description").write_text(description, encoding="utf-8")
        (root / "videos" / f"{vid}.mp4").write_bytes(b"")
        manifest["videos"][vid] = {"duration": duration, "chapters": [
            {"start": float(s), "end": float(e), "title": t, "narration": f"About {t.lower()}."}
            for s, e, t in zip(starts, ends, titles)]}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return root


def manifest_chapters(corpus: Path) -> dict[str, tuple[float, list[tuple[float, float, str]]]]:
    """{video id: (duration, [(start, end, title)])} from a sample manifest (list or mapping of videos)."""
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    videos = manifest.get("videos", manifest)
    items = videos.items() if isinstance(videos, dict) else ((v.get("id") or v.get("video_id"), v) for v in videos)
    return {str(vid): (float(v["duration"]), [(float(c["start"]), float(c["end"]), c["title"]) for c in v["chapters"]])
            for vid, v in items}


@pytest.fixture(scope="session")
def builder_sample(request, tmp_path_factory) -> Path:
    """The real sample corpus when its fixture exists, else a small corpus in the same layout."""
    try:
        return Path(request.getfixturevalue("sample_corpus"))
    except pytest.FixtureLookupError:
        return make_mini_sample(tmp_path_factory.mktemp("mini_sample"))


@pytest.fixture
def build(make_cfg, tmp_path):
    """build("data=sample", "paths.sample_dir=...") -> (summary, output folder, exit code) via the real runner."""
    from videolang.run import run_stage

    def _build(*overrides: str):
        cfg = make_cfg("stage=build_dataset", f"paths.data_dir={tmp_path / 'data'}", "stage.workers=1", *overrides)
        code = run_stage(cfg)
        out = Path(cfg.stage.out_dir)
        summary_file = Path(cfg.paths.output_dir) / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
        return summary, out, code

    return _build


def read_table(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()
