"""stage=predict on raw videos: through extract's own Encoder, silent videos, long videos, exports."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from videolang.run import EXIT_ERROR, EXIT_OK, run_stage

from tests.notebooks import execute_notebook_in_process

pytestmark = pytest.mark.usefixtures("encoding_cache")  # not about encoding


def _predict(make_cfg, trained, video: Path, *extra: str):
    cfg = make_cfg("stage=predict", f"video={video}", f"ckpt={trained['ckpt']}",
                   f"paths.model_dir={trained['model_dir']}", *extra)
    code = run_stage(cfg)
    return code, Path(cfg.paths.output_dir)


@pytest.mark.slow
def test_predict_raw_video_writes_three_formats(make_cfg, trained_on_sample, sample_corpus, capsys):
    video = sample_corpus / trained_on_sample["videos"][0]["files"]["video"]
    true_chapters = trained_on_sample["videos"][0]["chapters"]
    code, out = _predict(make_cfg, trained_on_sample, video, f"stage.references={sample_corpus / 'manifest.json'}")
    assert code == EXIT_OK
    summary = json.loads((out / "summary.json").read_text())
    # longer than the model's frame budget (8): subsampled, said so
    assert any("subsampled" in n for n in summary["notes"])
    doc = json.loads((out / f"{video.stem}.chapters.json").read_text())
    assert doc["duration"] == pytest.approx(trained_on_sample["videos"][0]["duration"], abs=1.0)
    assert set(doc) >= {"chapters", "events", "dropped"}
    chapters = doc["chapters"]
    # the fixture learned this training video (tests/model/test_fixtures_learned.py): its chapters come back from
    # the raw video, the true titles in order, each start within one time bin of the true one
    time_bin = doc["duration"] / (trained_on_sample["num_time_tokens"] - 1)
    assert [c["title"] for c in chapters] == [c["title"] for c in true_chapters], chapters
    for chapter, truth in zip(chapters, true_chapters, strict=True):
        assert abs(chapter["start"] - truth["start"]) <= time_bin, (chapter, truth)
    # the chapters: sorted, contiguous, the first at 0:00, the last to the end of the video
    assert chapters[0]["start"] == 0.0 and chapters[-1]["end"] == pytest.approx(doc["duration"], abs=1e-3)
    assert all(a["end"] == b["start"] > a["start"] for a, b in zip(chapters, chapters[1:]))
    # YouTube lines: one "M:SS title" per chapter, in order
    lines = (out / f"{video.stem}.youtube.txt").read_text().splitlines()
    assert len(lines) == len(chapters) and lines[0].startswith("0:00 ")
    for line, chapter in zip(lines, chapters, strict=True):
        stamp, title = line.split(" ", 1)
        minutes, seconds = stamp.split(":")
        assert (int(minutes) * 60 + int(seconds), title) == (int(chapter["start"]), chapter["title"]), line
    # WebVTT: one cue per chapter, numbered, with the chapter's title
    vtt = (out / f"{video.stem}.chapters.vtt").read_text()
    assert vtt.startswith("WEBVTT\n\n")
    cues = [cue.splitlines() for cue in vtt.split("\n\n")[1:] if cue.strip()]
    assert [(c[0], c[1].count(" --> "), c[2]) for c in cues] == [
        (str(i), 1, ch["title"]) for i, ch in enumerate(chapters, start=1)]
    printed = capsys.readouterr().out
    assert "true chapters" in printed and trained_on_sample["videos"][0]["chapters"][0]["title"] in printed


@pytest.mark.slow
def test_predict_video_without_speech(make_cfg, trained_on_sample, sample_corpus):
    code, out = _predict(make_cfg, trained_on_sample, sample_corpus / "awkward" / "video_only.mp4")
    assert code == EXIT_OK
    summary = json.loads((out / "summary.json").read_text())
    assert any("no speech in this video: no audio stream" in n for n in summary["notes"])


@pytest.mark.slow
def test_predict_rejects_unreadable_input(make_cfg, trained_on_sample, sample_corpus, tmp_path, caplog):
    assert _predict(make_cfg, trained_on_sample, sample_corpus / "awkward" / "audio_only.m4a")[0] == EXIT_ERROR
    assert "cannot read frames: no video stream" in caplog.text  # the file's property, not a decoding failure
    assert _predict(make_cfg, trained_on_sample, sample_corpus / "awkward" / "not_a_video.mp4")[0] == EXIT_ERROR
    assert _predict(make_cfg, trained_on_sample, tmp_path / "missing.mp4")[0] == EXIT_ERROR
    bad_ckpt = tmp_path / "bad.ckpt"
    bad_ckpt.write_bytes(b"not a checkpoint")
    cfg = make_cfg("stage=predict", f"video={sample_corpus / 'awkward' / 'video_only.mp4'}", f"ckpt={bad_ckpt}")
    assert run_stage(cfg) == EXIT_ERROR


@pytest.mark.slow
def test_inference_notebook_runs(trained_on_sample, sample_corpus, monkeypatch):
    """notebooks/predict_chapters.ipynb executes top to bottom and prints YouTube chapter lines."""
    monkeypatch.setenv("VIDEOLANG_CKPT", str(trained_on_sample["ckpt"]))
    monkeypatch.setenv("VIDEOLANG_SAMPLE_DIR", str(sample_corpus))
    outputs, text = execute_notebook_in_process("predict_chapters.ipynb")
    assert "(True," in text


@pytest.mark.slow
def test_predictor_runs_its_extractors_on_its_own_device(trained_on_sample, sample_corpus, monkeypatch):
    # regression: stage.device=cpu moved the model to the CPU but loaded the extractors on "auto" (a GPU if any)
    from videolang.predict import ChapterPredictor

    predictor = ChapterPredictor.from_checkpoint(trained_on_sample["ckpt"], device="cpu",
                                                 model_dir=trained_on_sample["model_dir"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # "auto" would now pick a GPU this machine lacks
    feats, _ = predictor.encode_video(sample_corpus / "awkward" / "video_only.mp4")
    assert predictor.encoder.device == torch.device("cpu") and feats.frames.shape[0] > 0
