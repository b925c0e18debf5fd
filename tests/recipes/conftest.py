"""The stand-in media of the dataset recipes' end-to-end runs: short clips of the sample corpus, made once per run."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from videolang.builder.converters.vitt import container_duration

from tests.fixtures.shared import built_once

CLIP_SECONDS = 6  # each clip opens with its video's first chapter and narration


@pytest.fixture(scope="session")
def standin_clips(sample_corpus, sample_manifest, tmp_path_factory) -> list[tuple[Path, float]]:
    """[(clip path, container duration)]: the first seconds of each sample video (H.264/AAC, narrated), copied
    without re-encoding; read-only (the stand-ins copy them under their datasets' ids)."""
    videos = sample_manifest["videos"]

    def build(out: Path) -> dict:
        clips = {}
        for i, v in enumerate(videos):
            clip = out / f"clip{i}.mp4"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(sample_corpus / v["files"]["video"]), "-t",
                            str(CLIP_SECONDS), "-c", "copy", str(clip)], check=True, timeout=60)
            clips[clip.name] = round(container_duration(clip), 2)
        return clips

    folder, durations = built_once(tmp_path_factory, "recipe_clips", build)
    return [(folder / name, duration) for name, duration in sorted(durations.items())]
