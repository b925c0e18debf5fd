"""Evaluation reports scale (issue 21, item 4): a timeline row draws a bounded number of segments and says so,
and summary.json is on disk before the optional plots start."""
from __future__ import annotations

import json

import numpy as np
import pytest

from videolang.evaluate.report import MAX_PLOTTED_SEGMENTS, plotted_segments
from videolang.run import run_stage


def test_a_timeline_row_shows_a_bounded_spread_of_its_segments():
    starts = np.arange(100_000, dtype=np.float64)[::-1] * 0.01  # 100k events, not in time order
    spans = np.stack([starts, starts + 0.5], axis=1)
    texts = [f"event {i}" for i in range(len(spans))]
    shown, shown_texts, note = plotted_segments(spans, texts)
    assert len(shown) == len(shown_texts) == MAX_PLOTTED_SEGMENTS and note == "200 of 100,000 shown"
    assert np.all(np.diff(shown[:, 0]) > 0) and shown[0, 0] == 0.0 and shown[-1, 0] == starts.max()
    assert shown_texts[0] == "event 99999"  # each kept segment keeps its own text
    few = spans[:3]
    assert plotted_segments(few, texts[:3]) == (few, texts[:3], "")


class Killed(Exception):
    pass


def test_summary_is_written_before_the_plots(make_cfg, tmp_path, monkeypatch):
    refs = [{"qid": i, "query": f"q{i}", "vid": "v", "duration": 30.0, "relevant_windows": [[10 * i, 10 * i + 10]]}
            for i in range(3)]
    preds = [{"qid": i, "pred_relevant_windows": [[10 * i, 10 * i + 8, 0.9], [0, 5, 0.1]]} for i in range(3)]
    (tmp_path / "refs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in refs))
    (tmp_path / "preds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in preds))
    args = ["stage=evaluate", "task=grounding", f"predictions={tmp_path / 'preds.jsonl'}",
            f"references={tmp_path / 'refs.jsonl'}", "stage.plots=2"]

    def killed_while_plotting(*_, **__):
        raise Killed("killed while plotting")

    monkeypatch.setattr("videolang.stages.evaluate.timeline_plots", killed_while_plotting)
    cfg = make_cfg(*args)
    with pytest.raises(Killed):
        run_stage(cfg)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["metrics"]["corrected"]["map"] > 0 and "plots" not in summary["files"]
    monkeypatch.undo()
    cfg = make_cfg(*args)
    assert run_stage(cfg) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["files"]["plots"]) == 2 and all((tmp_path / "run" / "plots").glob("timeline_*.png"))
