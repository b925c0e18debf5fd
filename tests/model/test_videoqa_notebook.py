"""notebooks/videoqa.ipynb executes top to bottom against a (briefly) trained VideoQA checkpoint."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "videoqa.ipynb"


def test_notebook_is_saved_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


def test_videoqa_notebook_runs(videoqa_ckpt, sample_corpus, monkeypatch, tmp_path):
    """The sample video's own questions, every answer's probability printed, and bars next to the truth."""
    import nbclient
    import nbformat

    monkeypatch.setenv("VIDEOLANG_VIDEOQA_CKPT", str(videoqa_ckpt["ckpt"]))
    monkeypatch.setenv("VIDEOLANG_SAMPLE_DIR", str(sample_corpus))
    monkeypatch.setenv("VIDEOLANG_OUT_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    text += "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
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
