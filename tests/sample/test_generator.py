"""The generator: determinism, idempotence, regeneration, resuming, errors, and the stage through the runner."""
from __future__ import annotations

import json
import wave
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.bad_inputs.harness import Outcome, run_in_process
from tests.sample.media import vidchapters_oracle
from videolang.core.errors import ConfigError, VideolangError
from videolang.sample import make_sample_corpus, synthesize_speech
from videolang.sample.corpus import IN_PROGRESS, MANIFEST, OBJECT_CLASSES_FILE
from videolang.sample.metadata import describe, repeated_title_words
from videolang.sample.plan import (DESCRIPTION_STYLES, MIN_CHAPTER_SECONDS, NARRATION_MARGIN, NARRATION_OFFSET,
                                   SampleParams, estimate_speech_seconds, plan_corpus)

# The smallest real corpus: two 20 s videos at 64x48, no awkward files (about a second to make).
TINY = dict(num_videos=2, seed=7, width=64, height=48, min_duration=20, max_duration=20, with_awkward=False)


def mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def without_file_records(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k != "files"}


# --- plans (no media) ------------------------------------------------------------------------

def test_plans_are_deterministic_and_prefix_stable():
    params = SampleParams(num_videos=20, seed=99)
    first = [asdict(p) for p in plan_corpus(params)]
    assert first == [asdict(p) for p in plan_corpus(params)]
    assert first[:5] == [asdict(p) for p in plan_corpus(SampleParams(num_videos=5, seed=99))]
    other = plan_corpus(SampleParams(num_videos=20, seed=100))
    assert {p["id"] for p in first}.isdisjoint(p.id for p in other)


@pytest.mark.parametrize("params", [SampleParams(num_videos=300, seed=5),
                                    SampleParams(num_videos=80, seed=1, width=96, height=64),
                                    SampleParams(num_videos=50, seed=2, min_duration=20, max_duration=30)],
                         ids=["default", "training", "short"])
def test_plans_respect_the_corpus_rules_and_vary(params):
    plans = plan_corpus(params)
    for plan in plans:
        assert params.min_duration <= plan.duration <= params.max_duration
        assert 2 <= len(plan.chapters) <= 6 and plan.chapters[0].start == 0
        assert [c.end for c in plan.chapters[:-1]] == [c.start for c in plan.chapters[1:]]
        assert plan.chapters[-1].end == plan.duration
        for c in plan.chapters:
            assert c.end - c.start >= MIN_CHAPTER_SECONDS
            assert NARRATION_OFFSET + estimate_speech_seconds(c.narration) + NARRATION_MARGIN <= c.end - c.start
        assert vidchapters_oracle(describe(plan)) == [(c.start, c.title) for c in plan.chapters]
    chapter_counts = Counter(len(p.chapters) for p in plans)
    assert len(chapter_counts) >= 2 and len({p.duration for p in plans}) >= min(8, len(plans) // 4)
    assert sum(bool(repeated_title_words([c.title for c in p.chapters])) for p in plans) >= len(plans) // 5
    assert {p.description_style for p in plans} == set(DESCRIPTION_STYLES)
    titles = Counter(c.title for p in plans for c in p.chapters)
    assert len(titles) >= 15, "many distinct chapter titles: the mapping is not a handful of classes"


def test_larger_corpora_reach_six_chapters_and_long_videos():
    plans = plan_corpus(SampleParams(num_videos=200, seed=3))
    assert max(len(p.chapters) for p in plans) == 6
    assert max(p.duration for p in plans) > 100 and min(p.duration for p in plans) < 40
    kinds = Counter(c.kind for p in plans for c in p.chapters)
    assert kinds["intro"] and kinds["outro"] and kinds["topic"] > kinds["intro"] + kinds["outro"]


@pytest.mark.parametrize("bad", [dict(min_duration=10), dict(min_duration=60, max_duration=30),
                                 dict(width=97), dict(fps=0), dict(num_videos=-1)])
def test_invalid_parameters_are_config_errors(tmp_path, bad):
    with pytest.raises(ConfigError, match="invalid sample corpus parameters"):
        make_sample_corpus(tmp_path / "out", **{**TINY, **bad})
    assert not (tmp_path / "out").exists()


# --- narration ---------------------------------------------------------------------------------

def test_synthesize_speech_writes_a_mono_wav(tmp_path):
    out = synthesize_speech("Mixing the dough takes a minute.", tmp_path / "speech.wav", sample_rate=16000)
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 16000, 2)
        assert 1.0 < w.getnframes() / 16000 < 5.0
    assert [p.name for p in tmp_path.iterdir()] == ["speech.wav"]


def test_missing_espeak_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(VideolangError, match="'espeak-ng' is not installed"):
        synthesize_speech("hello", tmp_path / "x.wav")


# --- the corpus on disk --------------------------------------------------------------------------

def test_second_call_does_nothing_and_says_so(tmp_path, caplog):
    first = make_sample_corpus(tmp_path, **TINY)
    assert (first.made, first.skipped, first.nothing_to_do) == (2, 0, False)
    before = mtimes(tmp_path)
    caplog.set_level("INFO", logger="videolang.sample")
    second = make_sample_corpus(tmp_path, **TINY)
    assert (second.made, second.skipped, second.nothing_to_do) == (0, 2, True)
    assert "nothing to do: 2 videos already present and valid" in caplog.text
    assert mtimes(tmp_path) == before


def test_same_seed_gives_the_same_corpus(tmp_path):
    make_sample_corpus(tmp_path / "a", **TINY)
    make_sample_corpus(tmp_path / "b", **TINY)
    a, b = (json.loads((tmp_path / x / MANIFEST).read_text()) for x in "ab")
    assert without_file_records(a) == without_file_records(b)
    assert a["files"].keys() == b["files"].keys()
    metadata = [rel for rel in a["files"] if rel.startswith("metadata/") or rel == OBJECT_CLASSES_FILE]
    assert any(rel.endswith(".boxes.jsonl") for rel in metadata)
    for rel in metadata:  # byte-identical metadata, boxes included
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_changed_parameters_regenerate_without_mixing(tmp_path):
    make_sample_corpus(tmp_path, **TINY)
    old = set(mtimes(tmp_path))
    report = make_sample_corpus(tmp_path, **{**TINY, "seed": 8, "num_videos": 1})
    # 2 videos x (mp4, info.json, description, boxes.jsonl, qa.jsonl, srt)
    assert report.made == 1 and report.removed == 12
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["generator"]["params"]["seed"] == 8
    assert set(mtimes(tmp_path)) == set(manifest["files"]) | {MANIFEST}
    assert not (old - {MANIFEST, OBJECT_CLASSES_FILE}) & set(manifest["files"])  # the vocabulary is the same


def test_damaged_or_missing_files_are_remade_alone(tmp_path):
    make_sample_corpus(tmp_path, **TINY)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    damaged, intact = (tmp_path / v["files"]["video"] for v in manifest["videos"])
    damaged.write_bytes(damaged.read_bytes()[:1000])
    intact_mtime = intact.stat().st_mtime_ns
    report = make_sample_corpus(tmp_path, **TINY)
    assert (report.made, report.skipped, report.nothing_to_do) == (1, 1, False)
    assert intact.stat().st_mtime_ns == intact_mtime
    assert json.loads((tmp_path / MANIFEST).read_text()) == manifest


def test_changed_or_missing_box_files_and_vocabulary_are_rewritten(tmp_path):
    make_sample_corpus(tmp_path, **TINY)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    missing, changed = (tmp_path / v["files"]["boxes"] for v in manifest["videos"])
    missing_bytes, changed_bytes = missing.read_bytes(), changed.read_bytes()
    video_mtime = (tmp_path / manifest["videos"][0]["files"]["video"]).stat().st_mtime_ns
    missing.unlink()
    changed.write_text('{"time": 0.0, "boxes": [], "labels": []}\n')
    classes = tmp_path / OBJECT_CLASSES_FILE
    classes_bytes = classes.read_bytes()
    classes.write_text("[]\n")
    report = make_sample_corpus(tmp_path, **TINY)
    assert (report.made, report.skipped, report.nothing_to_do) == (0, 2, False)
    assert (missing.read_bytes(), changed.read_bytes(), classes.read_bytes()) == \
        (missing_bytes, changed_bytes, classes_bytes)
    assert (tmp_path / manifest["videos"][0]["files"]["video"]).stat().st_mtime_ns == video_mtime
    assert json.loads((tmp_path / MANIFEST).read_text()) == manifest
    assert make_sample_corpus(tmp_path, **TINY).nothing_to_do


def test_a_killed_run_resumes_and_never_shows_partial_files(tmp_path):
    make_sample_corpus(tmp_path, **TINY)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    # What a run killed after its first video looks like: marker, one video, a temporary file, no manifest.
    (tmp_path / MANIFEST).unlink()
    (tmp_path / IN_PROGRESS).write_text(json.dumps({"generator": manifest["generator"]}))
    missing = tmp_path / manifest["videos"][1]["files"]["video"]
    missing.unlink()
    partial = missing.parent / f".{missing.name}.abc123.tmp.mp4"
    partial.write_bytes(b"half an mp4")
    report = make_sample_corpus(tmp_path, **TINY)
    assert (report.made, report.skipped, report.removed) == (1, 1, 0)
    assert not partial.exists() and not (tmp_path / IN_PROGRESS).exists()
    assert without_file_records(json.loads((tmp_path / MANIFEST).read_text())) == without_file_records(manifest)


def test_refuses_a_folder_it_did_not_make(tmp_path):
    mine = tmp_path / "videos" / "holiday.mp4"
    mine.parent.mkdir()
    mine.write_bytes(b"precious")
    with pytest.raises(VideolangError, match="did not make"):
        make_sample_corpus(tmp_path, **TINY)
    assert mine.read_bytes() == b"precious"


def test_a_failing_encoder_names_the_file_and_leaves_nothing_under_a_final_name(tmp_path, monkeypatch):
    from videolang.sample import render

    monkeypatch.setattr(render, "X264_ARGS", ["-c:v", "no-such-codec"])
    with pytest.raises(VideolangError, match=r"videos/\S+\.mp4: ffmpeg \(encoding\) failed"):
        make_sample_corpus(tmp_path, **TINY)
    assert not list((tmp_path / "videos").iterdir()) and not (tmp_path / MANIFEST).exists()
    monkeypatch.undo()
    assert make_sample_corpus(tmp_path, **TINY).made == 2  # and the next run makes the corpus


def test_unwritable_output_folder_is_a_clear_error():
    with pytest.raises(VideolangError, match="/proc/videolang-sample"):
        make_sample_corpus(Path("/proc/videolang-sample"), **TINY)


# --- the stage through the runner -----------------------------------------------------------------

def run_stage(capfd, *args: str) -> Outcome:
    """`python -m videolang.run stage=make_sample ...` through the runner, in this process."""
    return run_in_process(["stage=make_sample", *args], capfd)


def test_stage_twice_through_the_runner(tmp_path, capfd):
    args = [f"paths.sample_dir={tmp_path / 'sample'}", "seed=7",
            "stage.num_videos=2", "stage.width=64", "stage.height=48", "stage.max_duration=20"]
    results = []
    for run in ("first", "second"):  # separate log folders: Hydra names run folders by the second
        outcome = run_stage(capfd, *args, f"paths.log_dir={tmp_path / run}")
        assert outcome.code == 0, outcome.output
        (summary,) = (tmp_path / run / "make_sample").glob("*/summary.json")
        results.append((outcome.output, json.loads(summary.read_text())))
    (first_log, first), (second_log, second) = results
    assert (first["videos_made"], first["awkward_made"], first["nothing_to_do"]) == (2, 6, False)
    assert (second["videos_made"], second["videos_skipped"], second["nothing_to_do"]) == (0, 2, True)
    assert "nothing to do: 2 videos already present and valid" in second_log
    assert "nothing to do" not in first_log
    manifest = json.loads((tmp_path / "sample" / MANIFEST).read_text())
    assert manifest["generator"]["params"]["seed"] == 7 and len(manifest["videos"]) == 2


def test_stage_reports_an_unwritable_folder_without_traceback(tmp_path, capfd):
    outcome = run_stage(capfd, "paths.sample_dir=/proc/videolang-sample", f"paths.log_dir={tmp_path / 'logs'}")
    assert outcome.code == 1
    output = outcome.output
    assert "make_sample failed: /proc/videolang-sample: cannot create output folder" in output
    assert "Traceback" not in output
