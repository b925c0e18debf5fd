"""Acceptance: the sample corpus builds into every task file and its known chapters come back exactly."""
from __future__ import annotations

import json
from pathlib import Path

from tests.bad_inputs.harness import run_in_process
from tests.builder.conftest import manifest_chapters, read_table

TASK_FILES = ("dense_captioning_{s}.json", "grounding_{s}.jsonl", "chapter_captioning_{s}.json")


def _chapters_by_video(out: Path) -> dict[str, list[tuple[float, float, str]]]:
    rows = sorted(read_table(out / "chapters.parquet"), key=lambda r: (r["video_id"], r["chapter_index"]))
    by_video: dict[str, list] = {}
    for r in rows:
        by_video.setdefault(r["video_id"], []).append((r["start"], r["end"], r["title"]))
    return by_video


def test_sample_builds_all_task_files_with_the_known_chapters(build, builder_sample):
    summary, out, code = build("data=sample", f"paths.sample_dir={builder_sample}")
    assert code == 0, summary
    truth = manifest_chapters(builder_sample)
    got = _chapters_by_video(out)
    assert got == {vid: chapters for vid, (_, chapters) in truth.items()}
    videos = {v["video_id"]: v for v in read_table(out / "videos.parquet")}
    assert set(videos) == set(truth)
    for vid, v in videos.items():
        assert v["duration"] == truth[vid][0]
        assert v["video_path"] == str((builder_sample / "videos" / f"{vid}.mp4").resolve())
        assert v["file_stem"] == vid and v["language"] == "en"
    splits = {v["split"] for v in videos.values()}
    assert splits <= {"train", "val", "test"}
    dense = {}
    for split in ("train", "val", "test"):
        for name in TASK_FILES:
            assert (out / "tasks" / name.format(s=split)).exists(), name.format(s=split)
        dense.update(json.loads((out / "tasks" / f"dense_captioning_{split}.json").read_text()))
    assert set(dense) == set(truth)
    for vid, entry in dense.items():
        assert entry["sentences"] == [t for _, _, t in truth[vid][1]]
        assert entry["timestamps"] == [[s, e] for s, e, _ in truth[vid][1]]
        assert entry["duration"] == truth[vid][0]
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["kept"] == len(truth) and report["counts"]["scanned"] == len(truth)
    for plot in report["plots"]:
        assert (out / plot).stat().st_size > 0
    assert "# Dataset report: sample" in (out / "report.md").read_text()


def test_sample_through_the_other_rulesets(build, builder_sample):
    """yt-dlp's parsed chapters give the same result; YouTube's rules keep the videos with >= 3 chapters."""
    truth = manifest_chapters(builder_sample)
    _, out, code = build("data=sample", f"paths.sample_dir={builder_sample}", "stage.ruleset=chapters_field")
    assert code == 0
    assert _chapters_by_video(out) == {vid: chapters for vid, (_, chapters) in truth.items()}
    _, out, code = build("data=sample", f"paths.sample_dir={builder_sample}", "stage.ruleset=youtube")
    assert code == 0
    got = _chapters_by_video(out)
    assert got == {vid: chapters for vid, (_, chapters) in truth.items() if len(chapters) >= 3}
    report = json.loads((out / "report.json").read_text())
    assert report["rejected"].get("fewer_than_3_timestamps", 0) == sum(len(c) < 3 for _, c in truth.values())


def test_cli_builds_sample_and_reports_through_the_runner(builder_sample, tmp_path, capfd):
    outcome = run_in_process(["stage=build_dataset", "data=sample", f"paths.sample_dir={builder_sample}",
                              f"paths.data_dir={tmp_path / 'data'}", f"paths.log_dir={tmp_path / 'logs'}",
                              "stage.workers=2"], capfd)
    assert outcome.code == 0, outcome.output[-3000:]
    out = tmp_path / "data" / "built" / "sample"
    assert (out / "videos.parquet").exists() and (out / "report.md").exists()


def test_missing_input_folder_is_one_clear_error(build, tmp_path):
    summary, out, code = build("data=sample", f"paths.sample_dir={tmp_path / 'nowhere'}")
    assert code == 1 and summary is None
    assert not out.exists(), "a failed build must not leave an empty dataset folder behind"


def test_narrated_build_lists_every_video_for_pretraining_without_reading_chapters(build, builder_sample, caplog):
    """data=narrated: the sample corpus with its chapters withheld -> pretrain_<split>.jsonl, one row per video."""
    truth = manifest_chapters(builder_sample)
    summary, out, code = build("data=narrated", f"data.reader.path={builder_sample / 'metadata'}",
                               f"data.media_dirs=[{builder_sample / 'videos'}]")
    assert code == 0, summary
    rows = [json.loads(line) for split in ("train", "val", "test")
            for line in (out / "tasks" / f"pretrain_{split}.jsonl").read_text().splitlines()]
    assert sorted(r["vid"] for r in rows) == sorted(truth)
    assert all(r["duration"] == truth[r["vid"]][0] for r in rows)
    assert not (out / "tasks" / "dense_captioning_train.json").exists()  # data=narrated writes only pretrain files
    # a task file name the builder does not know is a usage error, not a silently missing file
    _, _, code = build("data=sample", f"paths.sample_dir={builder_sample}", "data.tasks=[dense_captioning,pretrian]")
    assert code != 0 and "unknown task file(s) ['pretrian']" in caplog.text
