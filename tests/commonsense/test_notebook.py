"""notebooks/commonsense.ipynb executes top to bottom on the common-sense chain's outputs."""
from __future__ import annotations

import json

import pytest

from tests.notebooks import execute_notebook

# the chain (tests/commonsense/conftest.py) is built once, on one worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("commonsense_chain")]


def test_commonsense_notebook_runs(commonsense_chain, monkeypatch):
    c = commonsense_chain
    monkeypatch.setenv("VIDEOLANG_COMMONSENSE_CKPT", str(c["ckpt"]))
    monkeypatch.setenv("VIDEOLANG_FEATURE_DIR", str(c["feature_dir"]))
    monkeypatch.setenv("VIDEOLANG_SAMPLE_DIR", str(c["sample"]))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # headless; the notebook's inline backend still returns PNGs
    outputs, text = execute_notebook("commonsense.ipynb")
    # three figures: regions on a frame, top classes for one object, the per-second timeline
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3
    assert "(True, True, True)" in text  # the environment reached the notebook: checkpoint, store, corpus

    classes = json.loads((c["sample"] / "object_classes.json").read_text())
    assert "true label" in text
    true_label = text.split("true label ", 1)[1].split(";", 1)[0].strip("'\"")
    assert true_label in classes
    for name in ("context (mean over i != j)", "self", "prior P(c)"):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{name}:"))
        assert len([cls for cls in classes if f" {cls} 0." in line or f" {cls} 1." in line]) == 5, line
    # the timeline names the true chapters of the video it drew
    manifest = json.loads((c["sample"] / "manifest.json").read_text())
    assert any(all(ch["title"] in text for ch in v["chapters"]) for v in manifest["videos"])
