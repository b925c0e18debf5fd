"""stage=predict task=grounding on a raw video: ranked windows per query, Moment-DETR JSONL that evaluate reads."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from videolang.core.io import atomic_write_jsonl
from videolang.core.spans import tiou
from videolang.core.timefmt import format_timestamp
from videolang.run import EXIT_OK, EXIT_USAGE, run_stage

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("encoding_cache")]  # not about encoding


def _predict(make_cfg, trained, video: Path, *extra: str):
    cfg = make_cfg("stage=predict", "task=grounding", f"video={video}", f"ckpt={trained['ckpt']}",
                   f"paths.model_dir={trained['model_dir']}", *extra)
    return run_stage(cfg), Path(cfg.paths.output_dir)


def test_predict_prints_windows_and_writes_moment_detr_jsonl_that_evaluate_reads(
        make_cfg, grounding_ckpt, sample_corpus, capsys, tmp_path):
    video = sample_corpus / grounding_ckpt["videos"][0]["files"]["video"]
    titles = [c["title"] for c in grounding_ckpt["videos"][0]["chapters"]]
    code, out = _predict(make_cfg, grounding_ckpt, video, f"query=[{titles[0]!r},{titles[-1]!r}]")
    assert code == EXIT_OK
    printed = capsys.readouterr().out
    assert titles[0] in printed and titles[-1] in printed
    rows = [json.loads(line) for line in (out / f"{video.stem}.grounding.jsonl").read_text().splitlines()]
    assert [r["query"] for r in rows] == [titles[0], titles[-1]] and all(r["vid"] == video.stem for r in rows)
    for r in rows:
        scores = [w[2] for w in r["pred_relevant_windows"]]
        assert scores == sorted(scores, reverse=True) and all(0 <= s < e for s, e, _ in r["pred_relevant_windows"])
    # the file is what stage=evaluate task=grounding reads (references: the same video's chapters, qids 0 and 1)
    refs = tmp_path / "refs.jsonl"
    chapters = grounding_ckpt["videos"][0]["chapters"]
    duration = float(grounding_ckpt["videos"][0]["duration"])
    atomic_write_jsonl(refs, [{"qid": q, "query": c["title"], "vid": video.stem, "duration": duration,
                               "relevant_windows": [[c["start"], c["end"]]]}
                              for q, c in ((0, chapters[0]), (1, chapters[-1]))])
    cfg = make_cfg("stage=evaluate", "task=grounding", f"predictions={out / f'{video.stem}.grounding.jsonl'}",
                   f"references={refs}")
    assert run_stage(cfg) == EXIT_OK
    doc = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    metrics = doc["metrics"][doc["primary"]]
    # R@1@0.5 is the share of the two queries whose top window overlaps their chapter by half or more
    hits = [tiou(r["pred_relevant_windows"][0][:2], (c["start"], c["end"])) >= 0.5
            for r, c in zip(rows, (chapters[0], chapters[-1]), strict=True)]
    assert metrics["r1@0.5"] == pytest.approx(sum(hits) / 2), (metrics, rows)
    assert all(hits), rows  # the head learned these training queries (tests/model/test_fixtures_learned.py)


def test_api_encodes_the_video_once_for_all_queries(grounding_ckpt, sample_corpus):
    from videolang.predict import GroundingPredictor

    predictor = GroundingPredictor.from_checkpoint(grounding_ckpt["ckpt"], device="cpu")
    calls = []
    encode = predictor.encoder.try_encode
    predictor.encoder.try_encode = lambda *a, **k: calls.append(a) or encode(*a, **k)
    video = sample_corpus / grounding_ckpt["videos"][1]["files"]["video"]
    result = predictor.predict_video(video, ["first query", "second query", "third"])
    assert len(calls) == 1 and [q["qid"] for q in result.queries] == [0, 1, 2]
    assert all(len(q["windows"]) <= 3 for q in result.queries)
    # each query's line, then one `M:SS-M:SS score` line per window, as ranked, then (the fixture's head has a
    # saliency head) its three most salient frames
    expected = []
    for q in result.queries:
        expected.append(q["query"])
        expected += [f"  {format_timestamp(s)}-{format_timestamp(e)} {p:.3f}" for s, e, p in q["windows"]]
        expected += [] if q["windows"] else ["  (no well-formed window)"]
        top = sorted(q["saliency"], key=lambda c: -c[1])[:3]
        expected.append("  most salient: " + ", ".join(f"{format_timestamp(t)} ({x:.2f})" for t, x in top))
    assert result.lines().splitlines() == expected
    assert any(q["windows"] for q in result.queries)
    assert re.fullmatch(r"  \d+:\d\d-\d+:\d\d [01]\.\d{3}", result.lines().splitlines()[1])
    assert [r["vid"] for r in result.moment_detr_rows()] == [video.stem] * 3


def test_bad_queries_and_wrong_checkpoints(make_cfg, grounding_ckpt, sample_corpus, tmp_path):
    from videolang.core.errors import BadInputError
    from videolang.predict import ChapterPredictor, GroundingPredictor

    video = sample_corpus / grounding_ckpt["videos"][0]["files"]["video"]
    assert _predict(make_cfg, grounding_ckpt, video)[0] == EXIT_USAGE  # no query given: a missing option
    predictor = GroundingPredictor.from_checkpoint(grounding_ckpt["ckpt"], device="cpu")
    with pytest.raises(BadInputError, match="empty query"):
        predictor.predict_video(video, ["fine", "  "])
    long_query = " ".join(["word"] * 500)  # over the text budget: truncated with a warning, still answered
    assert len(predictor.predict_video(video, long_query).queries) == 1
    with pytest.raises(Exception, match="no head that predicts chapters"):
        ChapterPredictor.from_checkpoint(grounding_ckpt["ckpt"], device="cpu")
