"""A failed or empty build never replaces a dataset; bad rows cost their row, not the file; encodings are detected.

Regression tests for issue 13, items 4 and 5, and for `stage.tasks=` being ignored when the
dataset config sets its own tasks.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.builder.conftest import read_table

CHAPTERED = "0:00 Intro\n0:30 Middle part\n1:10 The end"
ROWS = [("videoAAAAA1", CHAPTERED, 100), ("videoBBBBB2", "0:00 Start\n0:40 Finish", 90),
        ("videoCCCCC3", "0:00 One\n0:20 Two\n0:50 Three", 80)]
FAST = ("stage.language.detect=false",)


def csv_text(rows=ROWS) -> str:
    lines = ["video_id,description,duration"]
    lines += [f'{vid},"{desc}",{dur}' for vid, desc, dur in rows]
    return "\n".join(lines) + "\n"


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def table_build(build, tmp_path):
    """table_build(file, *overrides) -> (summary, out, code) for data=vidchapters into one fixed folder."""
    def _run(path: Path, *overrides: str):
        return build("data=vidchapters", f"data.reader.path={path}", f"stage.out_dir={tmp_path / 'dataset'}",
                     *FAST, *overrides)
    return _run


@pytest.mark.parametrize("name, content, problem", [
    ("latin1.csv", csv_text([("videoDDDDD4", "0:00 Caf\xe9\n0:30 cr\xe8me", 100)]).encode("latin-1"), "not UTF-8"),
    ("empty.csv", b"", "empty"),
    ("header_only.csv", b"video_id,description,duration\n", "no videos"),
    ("no_chapters.csv", b"video_id,description,duration\nvideoEEEEE5,no timestamps here,100\n",
     "fewer_than_2_timestamp_lines"),
    ("utf16_garbage.csv", b"\xff\xfe" + b"\x00\xd8" * 3, "UTF-16"),  # a BOM, then lone surrogates
])
def test_a_failed_or_empty_build_leaves_the_existing_dataset_alone(table_build, tmp_path, caplog, name, content,
                                                                   problem):
    good = tmp_path / "good.csv"
    good.write_text(csv_text(), encoding="utf-8")
    summary, out, code = table_build(good)
    assert code == 0 and summary["kept"] == 3
    before = tree_hashes(out)
    bad = tmp_path / name
    bad.write_bytes(content)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _, out2, code = table_build(bad)
    assert out2 == out
    assert code == 1  # an unusable input, not "finished with failures"
    assert tree_hashes(out) == before  # byte for byte, nothing added or removed
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".dataset.building")]  # no staging left
    message = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert name in message and "0 videos built" in message and "left as it was" in message
    assert problem.lower() in message.lower(), message


def test_zero_videos_is_an_error_and_leaves_no_folder(build, tmp_path, caplog):
    empty = tmp_path / "meta"
    empty.mkdir()
    with caplog.at_level(logging.ERROR):
        summary, out, code = build("data=info_json", f"data.reader.path={empty}", *FAST)
    assert code == 1 and summary is None
    assert not out.exists() and not out.parent.exists()  # built/ was created by nothing
    assert "0 videos built" in caplog.text and str(empty) in caplog.text


@pytest.mark.parametrize("kind", ["parquet", "youcook2", "descriptions"])
def test_zero_videos_from_other_sources(build, tmp_path, caplog, kind):
    if kind == "parquet":
        path = tmp_path / "dump.parquet"
        pq.write_table(pa.table({"video_id": pa.array([], pa.string()), "description": pa.array([], pa.string())}), path)
        args = ("data=vidchapters", f"data.reader.path={path}")
    elif kind == "youcook2":
        path = tmp_path / "youcookii_annotations_trainval.json"
        path.write_text(json.dumps({"database": {}}))
        args = ("data=youcook2", f"data.reader.path={path}")
    else:
        path = tmp_path / "desc"
        path.mkdir()
        (path / "videoFFFFF6.description").write_text("no chapters at all")
        args = ("data=descriptions", f"data.reader.path={path}")
    with caplog.at_level(logging.ERROR):
        _, out, code = build(*args, *FAST)
    assert code == 1 and not out.exists()
    assert "0 videos built" in caplog.text and path.name in caplog.text


def test_one_bad_byte_skips_its_row_with_the_line_number(table_build, tmp_path):
    lines = csv_text().encode("utf-8").split(b"\n")
    # line 1 header; each row spans 2-3 lines (quoted newlines): put a latin-1 byte on the second row
    data = b"\n".join(lines).replace(b"0:40 Finish", b"0:40 Fin\xefsh")
    bad = tmp_path / "one_bad_byte.csv"
    bad.write_bytes(data)
    summary, out, code = table_build(bad)
    assert code == 3  # built, but a row was skipped
    assert [v["video_id"] for v in read_table(out / "videos.parquet")] == ["videoAAAAA1", "videoCCCCC3"]
    assert summary["failed"] == 1
    (failure,) = summary["failures"]
    assert failure["item"] == "one_bad_byte.csv:5" and failure["path"] == str(bad)  # the row starts on line 5
    assert "line 5" in failure["reason"] and "not UTF-8" in failure["reason"] and "0xef" in failure["reason"]
    report = json.loads((out / "report.json").read_text())
    assert report["failures"][0]["item"] == "one_bad_byte.csv:5"


def test_rows_of_the_wrong_width_are_skipped_with_their_line(table_build, tmp_path):
    text = csv_text() + "videoGGGGG7,0:00 a,0:30 b,oops,100\n" + 'videoHHHHH8,"0:00 First\n0:20 Second",50\n'
    bad = tmp_path / "wide.csv"
    bad.write_text(text)
    summary, out, code = table_build(bad)
    assert code == 3
    assert len(read_table(out / "videos.parquet")) == 4  # the row after the bad one is built too
    (failure,) = summary["failures"]
    assert failure["item"] == "wide.csv:10" and "5 field(s), the header has 3" in failure["reason"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_bom_and_utf16_tables_are_read_like_utf8(table_build, tmp_path, encoding):
    reference = tmp_path / "plain.csv"
    reference.write_text(csv_text(), encoding="utf-8")
    _, out, code = table_build(reference, f"stage.out_dir={tmp_path / 'ref'}")
    assert code == 0
    expected = read_table(out / "chapters.parquet")
    other = tmp_path / f"{encoding}.csv"
    other.write_bytes(csv_text().encode(encoding))
    summary, out, code = table_build(other)
    assert code == 0, summary
    got = read_table(out / "chapters.parquet")
    assert got == expected
    assert all("\x00" not in row["title"] and "\ufeff" not in row["video_id"] for row in got)


def test_text_sidecars_in_utf16_or_with_bom_are_read_and_latin1_is_refused_with_its_line(build, tmp_path):
    meta = tmp_path / "corpus" / "metadata"
    meta.mkdir(parents=True)
    info = {"description": CHAPTERED, "duration": 100}
    (meta / "utf16Video1.info.json").write_bytes(json.dumps({"id": "utf16Video1", **info}).encode("utf-16"))
    (meta / "bomVideo001.info.json").write_bytes(json.dumps({"id": "bomVideo001", **info}).encode("utf-8-sig"))
    (meta / "latin1Video.info.json").write_bytes(
        '{"id": "latin1Video",\n "description": "0:00 Caf\xe9\\n0:30 B", "duration": 100}'.encode("latin-1"))
    summary, out, code = build("data=sample", f"paths.sample_dir={tmp_path / 'corpus'}", *FAST)
    assert code == 3
    assert [v["video_id"] for v in read_table(out / "videos.parquet")] == ["bomVideo001", "utf16Video1"]
    (failure,) = summary["failures"]
    assert failure["item"] == "latin1Video.info.json"
    assert "not UTF-8" in failure["reason"] and "line 2" in failure["reason"] and "0xe9" in failure["reason"]

    desc = tmp_path / "desc"
    desc.mkdir()
    (desc / "utf16Desc01.description").write_bytes(CHAPTERED.encode("utf-16"))
    (desc / "bomDesc0001.description").write_bytes(CHAPTERED.encode("utf-8-sig"))
    (desc / "latin1Desc1.description").write_bytes("0:00 Intro\n0:30 Caf\xe9".encode("latin-1"))
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"utf16Desc01": 100, "bomDesc0001": 100, "latin1Desc1": 100}))
    summary, out, code = build("data=descriptions", f"data.reader.path={desc}", f"data.reader.durations={durations}",
                               *FAST)
    assert code == 3
    chapters = read_table(out / "chapters.parquet")
    assert {c["video_id"] for c in chapters} == {"bomDesc0001", "utf16Desc01"}
    assert [c["title"] for c in chapters if c["video_id"] == "utf16Desc01"] == ["Intro", "Middle part", "The end"]
    (failure,) = summary["failures"]
    assert failure["item"] == "latin1Desc1.description" and "line 2" in failure["reason"]


def test_stage_tasks_on_the_command_line_wins_over_the_dataset(build, builder_sample):
    # data=sample sets data.tasks (with videoqa); stage.tasks= used to be silently ignored
    summary, out, code = build("data=sample", f"paths.sample_dir={builder_sample}", "stage.tasks=[grounding]", *FAST)
    assert code in (0, 3), summary
    assert {f.name.rsplit("_", 1)[0] for f in (out / "tasks").iterdir()} == {"grounding"}
    summary, out2, _ = build("data=sample", f"paths.sample_dir={builder_sample}", "data.tasks=[dense_captioning]",
                             "stage.out_dir=${paths.data_dir}/other", *FAST)
    assert {f.name.rsplit("_", 1)[0] for f in (out2 / "tasks").iterdir()} == {"dense_captioning"}


def test_stage_filters_on_the_command_line_win_over_the_dataset(build, tmp_path):
    # data=youcook2 sets filters.min_chapters=1; a command-line stage.filters.min_chapters=3 must count
    from tests.builder.conftest import DATA

    path = DATA / "youcookii_annotations_trainval.json"
    _, out, code = build("data=youcook2", f"data.reader.path={path}", *FAST)
    n_all = len(read_table(out / "videos.parquet"))
    _, out, code = build("data=youcook2", f"data.reader.path={path}", "stage.filters.min_chapters=1000",
                         "stage.out_dir=${paths.data_dir}/strict", *FAST)
    assert n_all > 0 and code == 1  # every video rejected: 0 videos is an error
    assert not out.exists()


def test_unknown_dataset_option_is_a_config_error_naming_it(build, builder_sample, caplog):
    with caplog.at_level(logging.ERROR):
        _, _, code = build("data=sample", f"paths.sample_dir={builder_sample}", "+data.filters.min_chapterz=3", *FAST)
    assert code == 2 and "data.filters.min_chapterz" in caplog.text


def test_a_killed_build_leaves_a_staging_folder_that_the_next_build_removes(table_build, tmp_path):
    import subprocess

    from videolang.builder.publish import staging_prefix

    finished = subprocess.Popen(["true"])
    finished.wait()  # a pid that is no longer running: the build that was killed
    stale = tmp_path / (staging_prefix("dataset", finished.pid) + "x")
    (stale / "tasks").mkdir(parents=True)
    someone_else = tmp_path / ".dataset.building-otherhost-1-y"  # another machine's build on a shared disk
    someone_else.mkdir()
    good = tmp_path / "good.csv"
    good.write_text(csv_text(), encoding="utf-8")
    _, out, code = table_build(good)
    assert code == 0 and (out / "videos.parquet").exists()
    assert not stale.exists() and someone_else.exists()
    # beside the dataset: the build it points to (videolang.builder.publish) and the other machine's staging
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".dataset")) == sorted(
        [someone_else.name, out.resolve().name])


def test_a_rebuild_removes_what_the_previous_build_wrote_and_this_one_does_not(table_build, tmp_path):
    # regression: rebuilding with fewer tasks left the old task files beside the new ones, as if current
    good = tmp_path / "good.csv"
    good.write_text(csv_text(), encoding="utf-8")
    summary, out, code = table_build(good)
    assert code == 0 and any(f.name.startswith("grounding_") for f in (out / "tasks").iterdir())
    (out / "tasks" / "my_notes.txt").write_text("mine")  # not the builder's: stays
    (out / "README.txt").write_text("mine")
    summary, out, code = table_build(good, "stage.tasks=[dense_captioning]")
    assert code == 0
    assert {f.name for f in (out / "tasks").iterdir()} == {f"dense_captioning_{s}.json" for s in
                                                           ("train", "val", "test")} | {"my_notes.txt"}
    assert (out / "README.txt").read_text() == "mine"
    report = json.loads((out / "report.json").read_text())
    assert sorted(report["task_files"]) == sorted(f.name for f in (out / "tasks").iterdir() if f.suffix == ".json")
