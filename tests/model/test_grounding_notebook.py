"""notebooks/chapter_grounding.ipynb executes top to bottom against a (briefly) trained grounding checkpoint."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.notebooks import execute_notebook_in_process, saved_without_outputs

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("encoding_cache")]  # not about encoding


def test_notebook_is_saved_without_outputs():
    assert saved_without_outputs("chapter_grounding.ipynb")


def test_grounding_notebook_runs(grounding_ckpt, sample_corpus, monkeypatch, tmp_path):
    """Windows for two chapter titles and one free-text query, printed as lines and drawn on a timeline PNG."""
    monkeypatch.setenv("VIDEOLANG_GROUNDING_CKPT", str(grounding_ckpt["ckpt"]))
    monkeypatch.setenv("VIDEOLANG_SAMPLE_DIR", str(sample_corpus))
    monkeypatch.setenv("VIDEOLANG_OUT_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    outputs, text = execute_notebook_in_process("chapter_grounding.ipynb", tmp_path)
    assert "(True, True," in text  # the checkpoint and the video were found
    # the sample corpus has no test split next to it: the notebook takes the manifest's first video
    video = json.loads((sample_corpus / "manifest.json").read_text())["videos"][0]
    titles = [c["title"] for c in video["chapters"]]
    queried = [t for t in titles if t in text]
    assert len(queried) >= 2, (titles, text)
    assert text.count(" true: ") == 3  # two titles and the free-text query, each with its true span
    windows = re.findall(r"^\s+(\d+:\d\d)-(\d+:\d\d) ([01]\.\d{3})$", text, flags=re.MULTILINE)
    assert len(windows) >= 3, text  # M:SS-M:SS score lines: at least one window for each of the three queries
    png = tmp_path / "chapter_grounding.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any("image/png" in o.get("data", {}) for o in outputs)
    # the fixture's head has a saliency head: one curve per query, and the mean saliency inside each true span
    # against outside it
    saliency_png = tmp_path / f"{Path(video['files']['video']).stem}_saliency.png"
    assert saliency_png.is_file() and saliency_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    contrasts = re.findall(r"mean saliency inside ([+-]\d\.\d{3}), outside ([+-]\d\.\d{3})", text)
    assert len(contrasts) == 3, text
    # the training queries' own chapters (the two titles) are more salient than the rest of the video
    assert all(float(i) > float(o) for i, o in contrasts[:2]), contrasts
