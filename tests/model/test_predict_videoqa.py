"""stage=predict task=videoqa on a raw video: every answer's probability, the chosen one marked, JSONL that
evaluate reads; the API encodes a video once for many questions; bad questions and subtitle files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from videolang.core.errors import BadInputError
from videolang.run import EXIT_ERROR, EXIT_OK, EXIT_USAGE, run_stage

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("encoding_cache")]  # not about encoding


def _predict(make_cfg, trained, video: Path, *extra: str):
    cfg = make_cfg("stage=predict", "task=videoqa", f"video={video}", f"ckpt={trained['ckpt']}",
                   f"paths.model_dir={trained['model_dir']}", *extra)
    return run_stage(cfg), Path(cfg.paths.output_dir)


def test_predict_prints_probabilities_and_writes_predictions_that_evaluate_reads(
        make_cfg, videoqa_ckpt, sample_corpus, capsys, tmp_path):
    video = sample_corpus / videoqa_ckpt["videos"][0]["files"]["video"]
    row = next(r for r in videoqa_ckpt["rows"] if r["vid"] == video.stem)
    answers = "[" + ",".join(json.dumps(a) for a in row["answers"]) + "]"
    code, out = _predict(make_cfg, videoqa_ckpt, video, f"question={json.dumps(row['question'])}",
                         f"answers={answers}", f"ts={row['ts']}")
    assert code == EXIT_OK
    printed = capsys.readouterr().out
    assert row["question"] in printed and all(a in printed for a in row["answers"])
    assert sum(line.lstrip().startswith("*") for line in printed.splitlines()) == 1
    (pred,) = [json.loads(line) for line in (out / f"{video.stem}.videoqa.jsonl").read_text().splitlines()]
    assert pred["vid"] == video.stem and len(pred["probabilities"]) == len(row["answers"])
    assert abs(sum(pred["probabilities"]) - 1) < 1e-4 and pred["pred_answer"] == row["answers"][pred["pred"]]
    saved = json.loads((out / f"{video.stem}.videoqa.json").read_text())
    assert saved["questions"][0]["ts"] == [float(x) for x in row["ts"].split("-")]
    # the predictions file is what stage=evaluate task=videoqa reads (reference: the same question, qid 0)
    refs = tmp_path / "refs.jsonl"
    refs.write_text(json.dumps({**row, "qid": 0}) + "\n")
    cfg = make_cfg("stage=evaluate", "task=videoqa", f"predictions={out / f'{video.stem}.videoqa.jsonl'}",
                   f"references={refs}")
    assert run_stage(cfg) == EXIT_OK
    doc = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    metrics = doc["metrics"][doc["primary"]]
    # the head learned its training questions (tests/model/test_fixtures_learned.py): the raw video's answer is
    # the true one, and the evaluator scores it so
    assert pred["pred"] == row["answer_idx"], (pred, row)
    assert metrics["accuracy"] == 1.0 and metrics["questions_evaluated"] == 1, metrics


def test_api_encodes_the_video_once_for_many_questions_and_calls(videoqa_ckpt, sample_corpus):
    from videolang.predict import VideoQAPredictor

    predictor = VideoQAPredictor.from_checkpoint(videoqa_ckpt["ckpt"], device="cpu")
    calls = []
    encode = predictor.encoder.try_encode
    predictor.encoder.try_encode = lambda *a, **k: calls.append(a) or encode(*a, **k)
    video = sample_corpus / videoqa_ckpt["videos"][1]["files"]["video"]
    rows = [r for r in videoqa_ckpt["rows"] if r["vid"] == video.stem]
    result = predictor.predict_video(video, [{"question": r["question"], "answers": r["answers"], "ts": r["ts"],
                                              "qid": r["qid"]} for r in rows])
    again = predictor.predict_video(video, "What is this video about?", ["cooking", "gardening", "woodwork"])
    assert len(calls) == 1
    assert [q["qid"] for q in result.questions] == [r["qid"] for r in rows]
    assert again.questions[0]["ts"] is None and len(again.questions[0]["probabilities"]) == 3
    assert "*" in result.lines() and result.prediction_rows()[0]["vid"] == video.stem


def test_bad_questions_answers_and_subtitle_files(make_cfg, videoqa_ckpt, sample_corpus, tmp_path, caplog):
    from videolang.predict import ChapterPredictor, VideoQAPredictor

    video = sample_corpus / videoqa_ckpt["videos"][0]["files"]["video"]
    # question / answers / ts are command-line values: a bad one is a usage error (exit 2) naming the key
    assert _predict(make_cfg, videoqa_ckpt, video, "question=what")[0] == EXIT_USAGE  # no answers
    assert "task=videoqa needs question" in caplog.text
    assert _predict(make_cfg, videoqa_ckpt, video, "question=what", "answers=[only]")[0] == EXIT_USAGE
    assert "answers: the question has fewer than two answers" in caplog.text
    assert _predict(make_cfg, videoqa_ckpt, video, "question=what", "answers=[a,b]", "ts=9000-9010")[0] == EXIT_USAGE
    assert "ts=9000-9010 starts at or after the end of the video" in caplog.text and video.name in caplog.text
    # a subtitle file is a file: missing, it is an input error naming it
    assert _predict(make_cfg, videoqa_ckpt, video, "question=what", "answers=[a,b]",
                    f"subtitles={tmp_path / 'missing.srt'}")[0] == EXIT_ERROR
    assert f"{tmp_path / 'missing.srt'}: subtitle file not found" in caplog.text
    predictor = VideoQAPredictor.from_checkpoint(videoqa_ckpt["ckpt"], device="cpu")
    with pytest.raises(BadInputError, match="fewer than two answers"):
        predictor.predict_video(video, "what?", ["only one"])
    with pytest.raises(BadInputError, match="empty question"):
        predictor.predict_video(video, " ", ["a", "b"])
    with pytest.raises(BadInputError, match="after the end of the video"):
        predictor.predict_video(video, [{"question": "what?", "answers": ["a", "b"], "ts": "9000-9010"}])
    with pytest.raises(BadInputError, match="twice"):
        predictor.predict_video(video, [{"qid": 1, "question": "a?", "answers": ["a", "b"]},
                                        {"qid": 1, "question": "b?", "answers": ["a", "b"]}])
    garbage = tmp_path / "broken.srt"
    garbage.write_text("this is not\nsubrip at all\n")
    with pytest.raises(BadInputError, match="no subtitle cue") as err:
        predictor.predict_video(video, "what?", ["a", "b"], subtitles=garbage)
    assert "broken.srt" in str(err.value)
    with pytest.raises(BadInputError, match="not found"):
        predictor.predict_video(video, "what?", ["a", "b"], subtitles=tmp_path / "missing.srt")
    good = tmp_path / "good.srt"
    good.write_text("1\n00:00:01,000 --> 00:00:03,500\nhello there\n")
    assert "1 subtitle cues" in predictor.predict_video(video, "what?", ["a", "b"], subtitles=good).notes[-1]
    with pytest.raises(Exception, match="no head that predicts chapters"):
        ChapterPredictor.from_checkpoint(videoqa_ckpt["ckpt"], device="cpu")
