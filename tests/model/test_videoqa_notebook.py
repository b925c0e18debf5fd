"""notebooks/videoqa.ipynb executes top to bottom against a (briefly) trained VideoQA checkpoint."""
from __future__ import annotations

import json

import pytest

from tests.notebooks import execute_notebook_in_process, saved_without_outputs

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("encoding_cache")]  # not about encoding


def test_notebook_is_saved_without_outputs():
    assert saved_without_outputs("videoqa.ipynb")


def test_videoqa_notebook_runs(videoqa_ckpt, sample_corpus, monkeypatch, tmp_path):
    """The sample video's own questions, every answer's probability printed, and bars next to the truth."""
    monkeypatch.setenv("VIDEOLANG_VIDEOQA_CKPT", str(videoqa_ckpt["ckpt"]))
    monkeypatch.setenv("VIDEOLANG_SAMPLE_DIR", str(sample_corpus))
    monkeypatch.setenv("VIDEOLANG_OUT_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    outputs, text = execute_notebook_in_process("videoqa.ipynb", tmp_path)
    assert "(True, True, True," in text  # the checkpoint, the video and its questions were found
    # no test split next to the fixture corpus: the manifest's first video and its generated questions
    video = json.loads((sample_corpus / "manifest.json").read_text())["videos"][0]
    rows = [json.loads(line) for line in (sample_corpus / video["files"]["questions"]).read_text().splitlines()]
    assert rows and all(r["q"] in text and r[f"a{r['answer_idx']}"] in text for r in rows)
    assert text.count("Q: ") == len(rows) and text.count("  * ") == len(rows)  # one choice marked per question
    assert f"of {len(rows)} answered correctly" in text
    png = tmp_path / "videoqa.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any("image/png" in o.get("data", {}) for o in outputs)
