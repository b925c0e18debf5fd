"""Readers and bad inputs: malformed files are named and skipped, tables stream, ids are made safe."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.builder.conftest import read_table
from videolang.builder.filters import FilterConfig, apply_filters, check_id
from videolang.builder.readers import DescriptionFolder, InfoJsonFolder, TableReader
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.spans import Chapter

CHAPTERED = "0:00 Intro\n0:30 Middle part\n1:10 The end"


def _info(folder: Path, vid: str, description: str = CHAPTERED, duration=100.0, **extra) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = vid.replace("/", "_").lstrip(".")
    (folder / f"{name}.info.json").write_text(json.dumps({"id": vid, "description": description,
                                                          "duration": duration, **extra}))


def test_info_json_reader_names_bad_files_and_continues(tmp_path):
    folder = tmp_path / "meta"
    _info(folder, "goodVideo01")
    (folder / "empty.info.json").write_text("")
    (folder / "broken.info.json").write_text('{"id": "x", ')
    (folder / "list.info.json").write_text("[1, 2]")
    (folder / "noid.info.json").write_text('{"title": "x"}')
    (folder / "latin1.info.json").write_bytes('{"id": "caf\xe9"}'.encode("latin-1"))
    reader = InfoJsonFolder(str(folder), batch_size=2)
    records, failures = [], []
    for task in reader.tasks():
        r, f = reader.load(task)
        records += r
        failures += f
    assert [r.video_id for r in records] == ["goodVideo01"]
    reasons = {f.item: f.reason for f in failures}
    assert set(reasons) == {"empty.info.json", "broken.info.json", "list.info.json", "noid.info.json", "latin1.info.json"}
    assert "empty" in reasons["empty.info.json"] and "line 1" in reasons["broken.info.json"]
    assert all(f.path.endswith(f.item) for f in failures)


def test_missing_input_folder_is_a_clear_error(tmp_path):
    with pytest.raises(BadInputError, match="folder not found"):
        list(InfoJsonFolder(str(tmp_path / "nope")).tasks())


def test_description_folder_reads_durations_from_info_or_a_table(tmp_path):
    folder = tmp_path / "desc"
    folder.mkdir()
    (folder / "withInfo001.description").write_text(CHAPTERED)
    _info(folder, "withInfo001", duration=90)
    (folder / "fromTable01.description").write_text(CHAPTERED + "\r\n")
    (folder / "notUtf8xxxx.description").write_bytes(b"\xff\xfe 0:00 x")
    durations = tmp_path / "durations.csv"
    durations.write_text("video_id,duration\nfromTable01,80.5\n")
    reader = DescriptionFolder(str(folder), durations=str(durations))
    (records, failures), = [reader.load(t) for t in reader.tasks()]
    assert {r.video_id: r.duration for r in records} == {"withInfo001": 90.0, "fromTable01": 80.5}
    assert [f.item for f in failures] == ["notUtf8xxxx.description"] and "UTF-8" in failures[0].reason


def test_table_reader_streams_csv_and_parquet_in_bounded_batches(tmp_path):
    rows = [{"video_id": f"{i:011d}", "description": CHAPTERED if i % 2 else "no chapters, 16:9",
             "duration": 100.0} for i in range(1000)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "part-0.parquet")
    with open(tmp_path / "part-1.csv", "w", encoding="utf-8") as f:
        f.write("video_id,description,duration\n")
        f.write('00000000042,"0:00 a, b\n1:00 ""quoted"" title",60\n')
        f.write("1e10,plain,\n")
    reader = TableReader(str(tmp_path), batch_size=128)
    tasks = list(reader.tasks())
    assert max(task[1].num_rows for task in tasks) <= 128
    records = [r for task in tasks for r in reader.load(task)[0].records()]
    assert len(records) == 1002
    by_id = {r.video_id: r for r in records}
    assert by_id["00000000042"].description == '0:00 a, b\n1:00 "quoted" title'  # ids stay text, "0042" too
    assert by_id["1e10"].duration is None


def test_table_reader_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\nx,y\n")
    with pytest.raises(BadInputError, match=r"bad.csv.*no column"):
        list(TableReader(str(bad)).tasks())
    ok = list(TableReader(str(bad), columns={"video_id": "id", "description": "text"}).tasks())
    assert ok[0][1].num_rows == 1
    broken = tmp_path / "broken.csv"
    broken.write_text("video_id,description\na,b\nc,d,e,f\n")
    results = [TableReader(str(broken)).load(task) for task in TableReader(str(broken)).tasks()]
    failures = [f for _, fs in results for f in fs]
    # the row of the wrong width is skipped with its line number; the rest of the file is read
    assert [(f.item, f.path) for f in failures] == [("broken.csv:3", str(broken))]
    assert "4 field(s), the header has 2" in failures[0].reason
    assert [r.video_id for rows, _ in results if rows for r in rows.records()] == ["a"]
    with pytest.raises(BadInputError, match="not found"):
        list(TableReader(str(tmp_path / "missing.parquet")).tasks())


@pytest.mark.parametrize("vid, policy, expected", [
    ("dQw4w9WgXcQ", "encode", ("dQw4w9WgXcQ", "dQw4w9WgXcQ", None)),
    ("../x", "encode", ("../x", "~fyxc66a", None)),
    ("a/b", "reject", (None, None, "unsafe_video_id")),
    ("", "encode", (None, None, "invalid_video_id")),
    ("bad\nid", "encode", (None, None, "invalid_video_id")),
    (None, "encode", (None, None, "invalid_video_id")),
    (12345, "encode", ("12345", "12345", None)),
])
def test_check_id(vid, policy, expected):
    assert check_id(vid, policy) == expected


def test_filters_past_duration_policies_and_counts():
    chapters = [Chapter(0, 30, "A"), Chapter(30, 80, "B"), Chapter(80, 120, "C"), Chapter(130, 140, "D")]
    adjusted = Counter()
    kept, reason = apply_filters(chapters, 100.0, FilterConfig(), adjusted)
    assert kept == [Chapter(0, 30, "A"), Chapter(30, 80, "B"), Chapter(80, 100.0, "C")]
    assert adjusted == {"chapter_starts_past_duration_dropped": 1, "chapter_end_clipped_to_duration": 1}
    assert apply_filters(chapters, 100.0, FilterConfig(past_duration="reject"), Counter()) == (None, "timestamp_past_duration")
    assert apply_filters(chapters, None, FilterConfig(), Counter()) == (None, "missing_duration")
    assert apply_filters(chapters, float("nan"), FilterConfig(), Counter())[1] == "missing_duration"


@pytest.mark.parametrize("options, reason", [
    ({"min_chapters": 5}, "too_few_chapters"), ({"max_chapters": 1}, "too_many_chapters"),
    ({"min_chapter_seconds": 40}, "chapter_too_short"), ({"max_title_chars": 3}, "title_too_long"),
    ({"min_title_chars": 6}, "title_too_short"), ({"empty_titles": "reject"}, "empty_title"),
])
def test_each_filter_rejects_with_its_reason(options, reason):
    chapters = [Chapter(0, 30, "Intro"), Chapter(30, 90, "Main part"), Chapter(90, 100, " ")]
    assert apply_filters(chapters, 100.0, FilterConfig.from_mapping(options), Counter()) == (None, reason)


def test_filter_config_rejects_unknown_options():
    with pytest.raises(ConfigError, match="unknown filter"):
        FilterConfig.from_mapping({"min_chapterz": 1})
    with pytest.raises(ConfigError, match="past_duration"):
        FilterConfig.from_mapping({"past_duration": "maybe"})


def test_build_counts_every_bad_input_and_keeps_going(build, tmp_path):
    meta = tmp_path / "corpus" / "metadata"
    _info(meta, "goodVideo01")
    _info(meta, "goodVideo01", description=CHAPTERED)  # same file name: overwritten, not a duplicate
    (meta / "dup-copy.info.json").write_text(json.dumps({"id": "goodVideo01", "description": CHAPTERED, "duration": 100}))
    _info(meta, "../escape", description=CHAPTERED)
    _info(meta, "noDuration1", duration=None)
    _info(meta, "pastEnd0001", duration=50)                      # 1:10 is past a 50 s video
    _info(meta, "allPast0001", description="0:00 a\n1:00 Bee\n2:00 Cee", duration=30)
    _info(meta, "emptyDesc01", description="")
    _info(meta, "caseclash01")
    _info(meta, "CASECLASH01")
    (meta / "broken.info.json").write_text("{")
    summary, out, code = build("data=sample", f"paths.sample_dir={tmp_path / 'corpus'}", "stage.language.detect=false")
    assert code == 3  # finished, but an input could not be read
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["scanned"] == 9 and report["counts"]["read_failures"] == 1
    assert report["rejected"] == {"duplicate_id": 1, "missing_duration": 1, "fewer_than_2_timestamp_lines": 1,
                                  "too_few_chapters": 1}
    assert report["adjusted"] == {"chapter_starts_past_duration_dropped": 3, "chapter_end_clipped_to_duration": 2}
    videos = {v["video_id"]: v for v in read_table(out / "videos.parquet")}
    assert set(videos) == {"goodVideo01", "../escape", "pastEnd0001", "caseclash01", "CASECLASH01"}
    assert videos["../escape"]["file_stem"].startswith("~") and "/" not in videos["../escape"]["file_stem"]
    assert any("letter case" in w for w in report["warnings"])
    assert "broken.info.json" in (out / "report.md").read_text()
    assert summary["failed"] == 1


def test_duplicate_ids_reject_all(build, tmp_path):
    meta = tmp_path / "corpus" / "metadata"
    _info(meta, "twiceVideo1")
    (meta / "copy.info.json").write_text(json.dumps({"id": "twiceVideo1", "description": CHAPTERED, "duration": 100}))
    _info(meta, "onceVideo01")
    _, out, code = build("data=sample", f"paths.sample_dir={tmp_path / 'corpus'}", "stage.language.detect=false",
                         "stage.filters.duplicate_ids=reject_all")
    assert code == 0
    assert [v["video_id"] for v in read_table(out / "videos.parquet")] == ["onceVideo01"]
    assert json.loads((out / "report.json").read_text())["rejected"]["duplicate_id"] == 2


def test_language_filter_keeps_only_chosen_languages(build, tmp_path):
    meta = tmp_path / "corpus" / "metadata"
    _info(meta, "englishVid1", description="0:00 Introduction to the recipe\n0:30 Mixing the dough carefully\n1:00 Baking it")
    _info(meta, "germanVideo", description="0:00 Einführung in das Rezept\n0:30 Den Teig vorsichtig kneten\n1:00 Backen")
    _, out, code = build("data=sample", f"paths.sample_dir={tmp_path / 'corpus'}", "stage.language.keep=[en]")
    assert code == 0
    videos = read_table(out / "videos.parquet")
    assert [(v["video_id"], v["language"]) for v in videos] == [("englishVid1", "en")]
    assert json.loads((out / "report.json").read_text())["rejected"] == {"language_not_kept": 1}
