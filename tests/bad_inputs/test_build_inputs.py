"""Every input of `stage=build_dataset`, and its bad variants, through the real command line.

One table row per bad variant (or per group of variants that are skipped item by item in
one run): the files it writes, the command-line overrides, and what the contract
(docs/DEVELOPING.md, "Exit codes and messages") promises for it:

- exit 1: the whole input is unusable, or nothing at all would be built ("0 videos built").
  These rows run against an output folder that already holds a good dataset, which must be
  byte for byte unchanged afterwards; the message names the file and the problem.
- exit 3: the bad items (files, rows, lines, videos) were skipped and named (file and, for
  rows and lines, the line number) in the log and in summary.json; the rest was built.
- exit 0: the bad thing is counted or clipped as docs/builder.md documents (NaN durations,
  timestamps past the duration, duplicate and unsafe ids), checked in report.json.
- exit 2: a bad setting.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.bad_inputs.harness import check_contract, run_folder, run_in_process, snapshot

CHAPTERED = "0:00 Intro\n0:30 Middle part\n1:10 The end"
FAST = ["stage.workers=1", "stage.language.detect=false"]
DATA = Path(__file__).resolve().parents[1] / "builder" / "data"


# --- inputs -------------------------------------------------------------------------------------

def csv(rows: list[tuple], header: str = "video_id,description,duration") -> str:
    def cell(v):
        v = str(v)
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v
    return header + "\n" + "".join(",".join(cell(v) for v in row) + "\n" for row in rows)


GOOD_ROWS = [("goodVideo01", CHAPTERED, 100), ("goodVideo02", "0:00 Start\n0:40 Finish", 90)]


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


GOOD_PARQUET = parquet_bytes(pa.table({"video_id": [r[0] for r in GOOD_ROWS], "description": [r[1] for r in GOOD_ROWS],
                                       "duration": [float(r[2]) for r in GOOD_ROWS]}))


def info(vid: str, description: str = CHAPTERED, duration: Any = 100, **extra) -> str:
    return json.dumps({"id": vid, "description": description, "duration": duration, **extra})


def yc2(entries: dict) -> str:
    return json.dumps({"database": entries})


def yc2_entry(segments: list, duration: Any = 100.0, subset: str = "training") -> dict:
    return {"duration": duration, "subset": subset, "recipe_type": "113",
            "annotations": [{"segment": s, "id": i, "sentence": f"step {i}"} for i, s in enumerate(segments)]}


GOOD_YC2 = {"goodYc2Vid1": yc2_entry([[0, 10], [10, 30]])}


def dvc(entries: dict) -> str:
    return json.dumps({k: {"duration": d, "timestamps": ts, "sentences": [f"s{i}" for i in range(len(ts))]}
                       for k, (d, ts) in entries.items()})


GOOD_DVC = {"v_goodAnet01": (60.0, [[0, 20], [20, 60]])}


def vitt_line(vid: str, stamps: list, tag: str = "tag") -> str:
    return json.dumps({"id": vid, "annotations": [{"timestamp": t, "tag": f"{tag} {i}"} for i, t in enumerate(stamps)]})


def tvqa_row(qid: int, vid: str = "clipGood01", ts: str = "1.0-5.0", **extra) -> str:
    return json.dumps({"a0": "yes", "a1": "no", "a2": "maybe", "a3": "never", "a4": "always", "q": f"question {qid}?",
                       "qid": qid, "ts": ts, "vid_name": vid, "show_name": "Show", "answer_idx": 1, **extra})


SRT = "1\n00:00:01,000 --> 00:00:04,000\nHello there.\n\n2\n00:00:05,000 --> 00:00:40,000\nGoodbye.\n"
LATIN1 = "Caf\xe9 cr\xe8me".encode("latin-1")
UTF16_GARBAGE = b"\xff\xfe" + b"\x00\xd8" * 4  # a UTF-16 BOM, then lone surrogates
FOLDER = object()  # a files-table value: make a folder at that path


# --- the table ----------------------------------------------------------------------------------

@dataclass
class Row:
    id: str
    args: list[str]                    # overrides; "{t}" is the row's folder
    files: dict[str, Any]              # path under {t} -> str (UTF-8) | bytes | FOLDER
    code: int
    names: list[str] = field(default_factory=list)  # must appear in the output ("{t}" allowed)
    problem: str | None = None         # regex the output must match
    check: Callable[[dict, dict], None] | None = None  # (report.json, summary.json) for exit 0 / 3 rows


def counted(section: str, **expected: int) -> Callable[[dict, dict], None]:
    def _check(report: dict, summary: dict) -> None:
        for key, n in expected.items():
            assert report[section].get(key) == n, (section, key, report[section])
    return _check


def kept(n: int) -> Callable[[dict, dict], None]:
    def _check(report: dict, summary: dict) -> None:
        assert report["counts"]["kept"] == n, report["counts"]
    return _check


def both(*checks) -> Callable[[dict, dict], None]:
    def _check(report, summary):
        for c in checks:
            c(report, summary)
    return _check


TABLE = ["data=vidchapters", "data.reader.path={t}/in"]
INFO = ["data=info_json", "data.reader.path={t}/meta"]
DESC = ["data=descriptions", "data.reader.path={t}/desc"]
YC2 = ["data=youcook2", "data.reader.path={t}/youcookii_annotations_trainval.json"]
ANET = ["data=activitynet", "data.reader.files.train={t}/train.json", "data.reader.files.val_1={t}/val_1.json",
        "data.reader.files.val_2={t}/val_2.json"]
ANET_GOOD = {"train.json": dvc(GOOD_DVC), "val_1.json": dvc(GOOD_DVC), "val_2.json": dvc(GOOD_DVC)}
VITT = ["data=vitt", "data.reader.annotations={t}/ViTT-annotations.json", "data.reader.split_ids.train={t}/train_id.txt",
        "data.reader.split_ids.val={t}/dev_id.txt", "data.reader.split_ids.test={t}/test_id.txt",
        "data.reader.durations={t}/durations.json"]
VITT_GOOD = {"ViTT-annotations.json": vitt_line("goodVitt", [0, 20000, 50000]) + "\n", "train_id.txt": "goodVitt\n",
             "dev_id.txt": "", "test_id.txt": "", "durations.json": json.dumps({"goodVitt": 90.0})}
TVQA = ["data=tvqa", "data.reader.files.train={t}/tvqa_train.jsonl", "data.reader.files.val={t}/tvqa_val.jsonl",
        "data.reader.files.test={t}/tvqa_test.jsonl", "data.reader.subtitles_dir={t}/subs"]
TVQA_GOOD = {"tvqa_train.jsonl": tvqa_row(1) + "\n", "tvqa_val.jsonl": tvqa_row(2, "clipGood02") + "\n",
             "tvqa_test.jsonl": tvqa_row(3, "clipGood03") + "\n", "subs/clipGood01.srt": SRT,
             "subs/clipGood02.srt": SRT, "subs/clipGood03.srt": SRT}

ROWS = [
    # -- CSV / Parquet dumps (data=vidchapters) --------------------------------------------------
    Row("csv-missing", TABLE, {}, 1, ["{t}/in"], "table not found"),
    Row("csv-empty", [*TABLE[:1], "data.reader.path={t}/e.csv"], {"e.csv": b""}, 1, ["e.csv"], "file is empty"),
    Row("csv-header-only", [*TABLE[:1], "data.reader.path={t}/h.csv"], {"h.csv": "video_id,description,duration\n"},
        1, ["h.csv"], "0 videos built.*no videos"),
    Row("csv-folder-without-tables", TABLE, {"in/notes.json": "{}"}, 1, ["{t}/in"], r"no \.csv"),
    Row("csv-missing-columns", [*TABLE[:1], "data.reader.path={t}/c.csv"], {"c.csv": "id,text\nx,y\n"},
        1, ["c.csv"], r"no column.*video_id"),
    Row("csv-latin1-everywhere", [*TABLE[:1], "data.reader.path={t}/l.csv"],
        {"l.csv": csv([("latinVideo1", "0:00 Caf\xe9\n0:30 Cr\xe8me", 100)]).encode("latin-1")},
        1, ["l.csv"], "not UTF-8"),
    Row("csv-utf16-broken", [*TABLE[:1], "data.reader.path={t}/u.csv"], {"u.csv": UTF16_GARBAGE},
        1, ["u.csv"], "UTF-16"),
    Row("csv-no-chapters-anywhere", [*TABLE[:1], "data.reader.path={t}/n.csv"],
        {"n.csv": csv([("noChapters1", "just words", 100), ("oneStamp001", "0:00 only one", 100),
                       ("backwards01", "1:00 B\n0:30 A", 100)])},
        1, ["n.csv"], "none of the 3 input video.*fewer_than_2_timestamp_lines"),
    Row("csv-bad-rows-skipped", [*TABLE[:1], "data.reader.path={t}/b.csv"],
        {"b.csv": csv(GOOD_ROWS).encode() + b'latinVideo1,"0:00 Caf\xe9\n0:30 B",100\n'
                  + b"wideVideo01,0:00 a,0:30 b,extra,100\n" + b'cutVideo001,"0:00 never closed,100\n'},
        3, ["b.csv:7", "b.csv:9", "b.csv:10"], r"not UTF-8.*0xe9|field\(s\), the header has 3",
        kept(2)),
    Row("csv-utf16-and-bom-are-read", [*TABLE[:1], "data.reader.path={t}/in"],
        {"in/a.csv": csv(GOOD_ROWS[:1]).encode("utf-16"), "in/b.csv": csv(GOOD_ROWS[1:]).encode("utf-8-sig")},
        0, check=kept(2)),
    Row("csv-nan-negative-huge-durations-past-duplicate-unsafe", [*TABLE[:1], "data.reader.path={t}/d.csv"],
        {"d.csv": csv([*GOOD_ROWS, ("nanDuration", CHAPTERED, "NaN"), ("negDuration", CHAPTERED, -5),
                       ("textDuration", CHAPTERED, "long"), ("hugeDuration", CHAPTERED, 1e300),
                       ("pastEnd0001", "0:00 A\n0:30 Bee\n2:00 Cee", 60), ("allPast0001", "5:00 A\n6:00 Bee", 60),
                       ("goodVideo01", CHAPTERED, 100), ("../escape", CHAPTERED, 100), ("a/b", CHAPTERED, 100),
                       ("", CHAPTERED, 100)])},
        0, check=both(counted("rejected", missing_duration=3, too_few_chapters=1, duplicate_id=1, invalid_video_id=1),
                      counted("adjusted", chapter_starts_past_duration_dropped=3), kept(6))),
    Row("parquet-missing-columns", [*TABLE[:1], "data.reader.path={t}/m.parquet"],
        {"m.parquet": parquet_bytes(pa.table({"id": ["x"], "text": [CHAPTERED]}))}, 1, ["m.parquet"], "no column"),
    Row("parquet-not-parquet", [*TABLE[:1], "data.reader.path={t}/g.parquet"], {"g.parquet": b"PAR1 garbage"},
        1, ["g.parquet"], "not a Parquet file"),
    Row("parquet-truncated", [*TABLE[:1], "data.reader.path={t}/t.parquet"],
        {"t.parquet": GOOD_PARQUET[: len(GOOD_PARQUET) // 2]}, 1, ["t.parquet"], "Parquet"),
    Row("parquet-wrong-column-type", [*TABLE[:1], "data.reader.path={t}/w.parquet"],
        {"w.parquet": parquet_bytes(pa.table({"video_id": ["x"], "description": [[1, 2]]}))},
        1, ["w.parquet"], "column 'description' holds list"),
    Row("parquet-bad-bytes-skipped", [*TABLE[:1], "data.reader.path={t}/bb.parquet"],
        {"bb.parquet": parquet_bytes(pa.table({
            "video_id": pa.array([b"goodVideo01", b"caf\xe9Video"], pa.binary()),
            "description": pa.array([CHAPTERED.encode(), CHAPTERED.encode()], pa.binary()), "duration": [100.0, 100.0]}))},
        3, ["bb.parquet:row 2"], "not UTF-8"),
    # -- info JSON folders (data=info_json) ------------------------------------------------------
    Row("info-missing-folder", INFO, {}, 1, ["{t}/meta"], "folder not found"),
    Row("info-file-not-folder", INFO, {"meta": "not a folder"}, 1, ["{t}/meta"], "not a folder"),
    Row("info-empty-folder", INFO, {"meta": FOLDER}, 1, ["{t}/meta"], "0 videos built.*no videos"),
    Row("info-every-file-broken", INFO, {"meta/empty.info.json": "", "meta/list.info.json": "[1, 2]"},
        1, ["{t}/meta", "empty.info.json", "list.info.json"], "nothing could be read"),
    Row("info-bad-files-skipped", INFO, {
        "meta/goodVideo01.info.json": info("goodVideo01"),
        "meta/empty.info.json": "", "meta/truncated.info.json": info("truncated01")[:30],
        "meta/list.info.json": "[1, 2]", "meta/string.info.json": '"just a string"',
        "meta/noid.info.json": json.dumps({"description": CHAPTERED}),
        "meta/latin1.info.json": b'{"id": "latin1Video",\n"description": "' + LATIN1 + b'"}',
        "meta/utf16bad.info.json": UTF16_GARBAGE,
        "meta/surrogate.info.json": '{"id": "surrogate01", "description": "0:00 a\\ud800\\n0:30 b", "duration": 100}',
        "meta/folder.info.json": FOLDER},
        3, ["empty.info.json", "truncated.info.json", "list.info.json", "string.info.json", "noid.info.json",
            "latin1.info.json", "utf16bad.info.json", "surrogate.info.json", "folder.info.json"],
        r"malformed JSON.*truncated|got a JSON list|no 'id'|not UTF-8.*line 2|lone surrogate|is a folder",
        kept(1)),
    Row("info-utf16-bom-nan-negative-huge-durations-past-duplicate-unsafe", INFO, {
        "meta/good.info.json": info("goodVideo01"),
        "meta/utf16.info.json": info("utf16Video1").encode("utf-16"),
        "meta/bom.info.json": info("bomVideo001").encode("utf-8-sig"),
        "meta/nan.info.json": '{"id": "nanVideo001", "description": "0:00 a b\\n0:30 c d", "duration": NaN}',
        "meta/neg.info.json": info("negVideo001", duration=-100),
        "meta/str.info.json": info("strVideo001", duration="long"),
        "meta/huge.info.json": info("hugeVideo01", duration=1e300),
        "meta/past.info.json": info("pastVideo01", duration=50),
        "meta/copy.info.json": info("goodVideo01"),
        "meta/escape.info.json": info("../../escape"), "meta/slash.info.json": info("a/b"),
        "meta/empty_id.info.json": info(""), "meta/list_id.info.json": info(["not", "a", "string"])},
        0, check=both(counted("rejected", missing_duration=3, duplicate_id=1, invalid_video_id=2),
                      counted("adjusted", chapter_starts_past_duration_dropped=1), kept(7))),
    Row("info-sidecars-bad-lines-skipped", INFO, {
        "meta/goodVideo01.info.json": info("goodVideo01"),
        "meta/goodVideo01.qa.jsonl": tvqa_row(1, "goodVideo01") + "\n{broken\n" + tvqa_row(2, "goodVideo01", answer_idx=9)
        + "\n",
        "meta/goodVideo01.srt": SRT.encode("utf-16")},
        3, ["goodVideo01.qa.jsonl:2", "goodVideo01.qa.jsonl:3"], r"malformed JSON|answer_idx 9", kept(1)),
    # -- .description folders (data=descriptions) -------------------------------------------------
    Row("desc-missing-folder", DESC, {}, 1, ["{t}/desc"], "folder not found"),
    Row("desc-durations-missing", [*DESC, "data.reader.durations={t}/durations.json"],
        {"desc/goodVideo01.description": CHAPTERED}, 1, ["durations.json"], "durations file not found"),
    Row("desc-durations-wrong-type", [*DESC, "data.reader.durations={t}/durations.json"],
        {"desc/goodVideo01.description": CHAPTERED, "durations.json": "[100, 90]"},
        1, ["durations.json"], "must be an object.*got a JSON list"),
    Row("desc-durations-table-missing-columns", [*DESC, "data.reader.durations={t}/durations.csv"],
        {"desc/goodVideo01.description": CHAPTERED, "durations.csv": "id,seconds\ngoodVideo01,100\n"},
        1, ["durations.csv"], "needs columns video_id, duration"),
    Row("desc-malformed-descriptions", [*DESC, "data.reader.durations={t}/durations.json"], {
        "desc/noStamps001.description": "no timestamps", "desc/oneStamp001.description": "0:00 Only one",
        "desc/backwards01.description": "1:00 B\n0:30 A", "desc/emptyDesc01.description": "",
        "durations.json": json.dumps({k: 100 for k in ("noStamps001", "oneStamp001", "backwards01", "emptyDesc01")})},
        1, ["{t}/desc"], "none of the 4 input video"),
    Row("desc-bad-files-skipped", [*DESC, "data.reader.durations={t}/durations.json"], {
        "desc/goodVideo01.description": CHAPTERED,
        "desc/latin1Video.description": b"0:00 Intro\n0:30 " + LATIN1,
        "desc/utf16Broken.description": UTF16_GARBAGE,
        "desc/~!!notbase32.description": CHAPTERED,
        "desc/siblingBad1.description": CHAPTERED, "desc/siblingBad1.info.json": "{broken",
        "desc/utf16Video1.description": CHAPTERED.encode("utf-16"), "desc/noDuration1.description": CHAPTERED,
        "durations.json": json.dumps({"goodVideo01": 100, "siblingBad1": 100, "utf16Video1": 100, "noDuration1": "NaN"})},
        3, ["latin1Video.description", "utf16Broken.description", "~!!notbase32.description", "siblingBad1.info.json"],
        r"not UTF-8.*line 2|not an encoded video id|sibling info JSON unreadable",
        both(counted("rejected", missing_duration=1), kept(3))),
    # -- YouCook2 ---------------------------------------------------------------------------------
    Row("yc2-missing", YC2, {}, 1, ["youcookii_annotations_trainval.json"], "not found"),
    Row("yc2-empty", YC2, {"youcookii_annotations_trainval.json": ""}, 1, ["youcookii_annotations_trainval.json"],
        "file is empty"),
    Row("yc2-truncated", YC2, {"youcookii_annotations_trainval.json": yc2(GOOD_YC2)[:-20]},
        1, ["youcookii_annotations_trainval.json"], "malformed JSON.*truncated"),
    Row("yc2-list-not-object", YC2, {"youcookii_annotations_trainval.json": "[]"},
        1, ["youcookii_annotations_trainval.json"], "got a JSON list"),
    Row("yc2-database-wrong-type", YC2, {"youcookii_annotations_trainval.json": '{"database": [1]}'},
        1, ["youcookii_annotations_trainval.json"], "'database' must be a JSON object"),
    Row("yc2-folder-not-file", YC2, {"youcookii_annotations_trainval.json": FOLDER},
        1, ["youcookii_annotations_trainval.json"], "is a folder"),
    Row("yc2-latin1", YC2, {"youcookii_annotations_trainval.json": yc2(GOOD_YC2).encode() + b"\n" + LATIN1},
        1, ["youcookii_annotations_trainval.json"], "not UTF-8.*line 2"),
    Row("yc2-empty-database", YC2, {"youcookii_annotations_trainval.json": yc2({})},
        1, ["youcookii_annotations_trainval.json"], "0 videos built"),
    Row("yc2-pdvc-without-split", [YC2[0], "data.reader.path={t}/annotations.json"],
        {"annotations.json": dvc(GOOD_DVC)}, 2, ["annotations.json"], "data.reader.split"),
    Row("yc2-bad-videos-skipped", YC2, {"youcookii_annotations_trainval.json": yc2({
        **GOOD_YC2, "nanSegment1": yc2_entry([[0, float("nan")]]), "negSegment1": yc2_entry([[-5, 10]]),
        "backwards01": yc2_entry([[20, 10]]), "notAPair001": yc2_entry([[1]]), "badSubset01": yc2_entry([[0, 5]], subset="x"),
        "nanDuration": yc2_entry([[0, 5]], duration="NaN"), "listEntry01": [1, 2]})},
        3, ["nanSegment1", "negSegment1", "backwards01", "notAPair001", "badSubset01", "nanDuration", "listEntry01",
            "youcookii_annotations_trainval.json"],
        r"not finite|starts before 0|ends before it starts|not \[start, end\]|unknown subset|not an object",
        kept(1)),
    Row("yc2-utf16-huge-timestamps-kept", YC2, {"youcookii_annotations_trainval.json": yc2({
        **GOOD_YC2, "hugeSegment": yc2_entry([[0, 10], [10, 1e12]]), "zeroDuratn1": yc2_entry([[0, 5]], duration=0)
    }).encode("utf-16")},
        0, check=both(counted("adjusted", chapters_past_duration_kept=1), counted("rejected", missing_duration=1),
                      kept(2))),
    # -- ActivityNet Captions ---------------------------------------------------------------------
    Row("anet-one-file-missing", ANET, {k: v for k, v in ANET_GOOD.items() if k != "val_2.json"},
        1, ["val_2.json"], "not found"),
    Row("anet-predictions-not-annotations", ANET, {**ANET_GOOD, "val_1.json": json.dumps(
        {"version": "VERSION 1.0", "results": {}, "external_data": {}})}, 1, ["val_1.json"], "predictions file"),
    Row("anet-bad-videos-skipped", ANET, {**ANET_GOOD, "train.json": json.dumps({
        **{k: {"duration": d, "timestamps": ts, "sentences": ["a", "b"]} for k, (d, ts) in GOOD_DVC.items()},
        "v_nanStamp01": {"duration": 60, "timestamps": [[0, "NaN"]], "sentences": ["a"]},
        "v_negStamp01": {"duration": 60, "timestamps": [[-3, 5]], "sentences": ["a"]},
        "v_mismatch01": {"duration": 60, "timestamps": [[0, 5], [5, 9]], "sentences": ["a"]},
        "v_notObject1": "string"})},
        3, ["v_nanStamp01", "v_negStamp01", "v_mismatch01", "v_notObject1", "train.json"],
        r"not a number|not finite|starts before 0|equal length|not an object"),
    Row("anet-unsafe-ids-encoded", ANET, {**ANET_GOOD, "train.json": dvc({**GOOD_DVC, "../v_escape": (60.0, [[0, 30]])})},
        0, check=kept(4)),
    # -- ViTT -------------------------------------------------------------------------------------
    Row("vitt-annotations-missing", VITT, {k: v for k, v in VITT_GOOD.items() if k != "ViTT-annotations.json"},
        1, ["ViTT-annotations.json"], "not found"),
    Row("vitt-split-file-missing", VITT, {k: v for k, v in VITT_GOOD.items() if k != "dev_id.txt"},
        1, ["dev_id.txt"], "split file not found"),
    Row("vitt-durations-wrong-type", VITT, {**VITT_GOOD, "durations.json": '"ninety"'},
        1, ["durations.json"], "must be an object"),
    Row("vitt-id-mapping-wrong-type", [*VITT, "data.reader.id_mapping={t}/mapping.json"],
        {**VITT_GOOD, "mapping.json": "[1, 2]"}, 1, ["mapping.json"], "id mapping must be a JSON object"),
    Row("vitt-bad-lines-and-stamps-skipped", VITT, {**VITT_GOOD, "ViTT-annotations.json": "\n".join([
        vitt_line("goodVitt", [0, 20000, 50000]), "{broken", json.dumps(["not", "an", "object"]),
        vitt_line("negVitt", [-1000, 5000]), vitt_line("nanVitt", [0, "NaN"])]) + "\n",
        "train_id.txt": "goodVitt\nnegVitt\nnanVitt\n"},
        3, ["ViTT-annotations.json:2", "ViTT-annotations.json:3", "negVitt", "nanVitt"],
        r"malformed JSON|needs 'id'|negative|not finite", kept(1)),
    Row("vitt-utf16-stamps-past-duration-dropped", VITT, {**VITT_GOOD, "ViTT-annotations.json": (vitt_line(
        "goodVitt", [0, 20000, 50000, 500000]) + "\n").encode("utf-16")},
        0, check=both(counted("adjusted", chapter_starts_past_duration_dropped=1), kept(1))),
    # -- TVQA -------------------------------------------------------------------------------------
    Row("tvqa-question-file-missing", TVQA, {k: v for k, v in TVQA_GOOD.items() if k != "tvqa_val.jsonl"},
        1, ["tvqa_val.jsonl"], "not found"),
    Row("tvqa-subtitles-folder-missing", [*TVQA[:-1], "data.reader.subtitles_dir={t}/nope"],
        {k: v for k, v in TVQA_GOOD.items() if not k.startswith("subs/")}, 1, ["{t}/nope"], "subtitles folder not found"),
    Row("tvqa-latin1-question-file", TVQA, {**TVQA_GOOD, "tvqa_test.jsonl": b'{"q": "' + LATIN1 + b'"}\n'},
        1, ["tvqa_test.jsonl"], "not UTF-8"),
    Row("tvqa-bad-questions-skipped", [*TVQA, "data.reader.durations={t}/durations.json"], {
        **TVQA_GOOD, "durations.json": json.dumps({"clipGood01": 45, "clipGood02": 60, "clipGood03": 60}),
        "tvqa_train.jsonl": "\n".join([
        tvqa_row(1), "{broken", tvqa_row(4, answer_idx=7), tvqa_row(5, ts="50-60"), tvqa_row(1),
        tvqa_row(6, "clipNoSubs1"), json.dumps({"q": "no vid_name", "qid": 8, "a0": "x", "a1": "y"})]) + "\n"},
        3, ["tvqa_train.jsonl:2", "tvqa_train.jsonl:3", "tvqa_train.jsonl:4", "tvqa_train.jsonl:5", "clipNoSubs1",
            "tvqa_train.jsonl:7"],
        r"malformed JSON|answer_idx 7|outside the video|repeated qid|subtitle file not found|no vid_name"),
    Row("tvqa-nan-ts-and-utf16-subtitles", TVQA, {**TVQA_GOOD, "tvqa_train.jsonl": tvqa_row(1, ts="NaN-NaN") + "\n",
                                                   "subs/clipGood01.srt": SRT.encode("utf-16")},
        0, check=kept(3)),
    # -- settings ---------------------------------------------------------------------------------
    Row("setting-unknown-task", [*INFO, "stage.tasks=[captions]"], {"meta/a.info.json": info("goodVideo01")},
        2, ["captions"], "unknown task file"),
    Row("setting-unknown-dataset-filter", [*INFO, "+data.filters.min_chapterz=3"], {"meta/a.info.json": info("goodVideo01")},
        2, ["data.filters.min_chapterz"], "unknown option"),
    Row("setting-workers-not-a-number", [*INFO, "stage.workers=many"], {"meta/a.info.json": info("goodVideo01")},
        2, ["stage.workers"], "number of processes"),
]


# --- the runner -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def existing_dataset(tmp_path_factory) -> Path:
    """A good dataset, built once; rows that must fail run against a copy of it."""
    import sys

    root = tmp_path_factory.mktemp("existing")
    (root / "in.csv").write_text(csv(GOOD_ROWS), encoding="utf-8")
    out = root / "dataset"

    class _Cap:  # run_in_process wants capfd; outside a test, read nothing
        def readouterr(self):
            return type("C", (), {"out": "", "err": ""})()

    outcome = run_in_process(["stage=build_dataset", "data=vidchapters", f"data.reader.path={root / 'in.csv'}",
                              f"stage.out_dir={out}", f"paths.log_dir={root / 'logs'}", *FAST], _Cap())
    assert outcome.code == 0 and (out / "videos.parquet").exists(), sys.stderr
    return out


def _materialize(t: Path, files: dict[str, Any]) -> None:
    for rel, content in files.items():
        path = t / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is FOLDER:
            path.mkdir(exist_ok=True)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_build_dataset_bad_input(row: Row, tmp_path: Path, capfd, existing_dataset: Path):
    t = tmp_path
    _materialize(t, row.files)
    out = t / "built" / "dataset"
    if row.code in (1, 2):  # must fail: run against a good dataset, which must come out untouched
        shutil.copytree(existing_dataset, out)
    before = snapshot(out)
    args = [a.replace("{t}", str(t)) for a in row.args]
    outcome = run_in_process(["stage=build_dataset", f"stage.out_dir={out}", f"paths.data_dir={t / 'data'}",
                              f"paths.log_dir={t / 'logs'}", *FAST, *args], capfd)
    names = [n.replace("{t}", str(t)) for n in row.names]
    check_contract(outcome, code=row.code, names=names, problem=row.problem)
    if row.code in (1, 2):
        assert snapshot(out) == before, "the existing dataset changed"
        assert not [p.name for p in out.parent.iterdir() if p.name != "dataset"], "a staging folder was left behind"
        if row.code == 1:
            message = [ln for ln in outcome.output.splitlines() if "build_dataset failed:" in ln]
            assert len(message) == 1, outcome.output[-3000:]  # one paragraph
        return
    report = json.loads((out / "report.json").read_text())
    summary = json.loads((run_folder(outcome.output) / "summary.json").read_text())
    if row.code == 3:
        listed = json.dumps(summary["failures"], ensure_ascii=False)
        for name in names:
            assert name in listed, f"summary.json does not list {name!r}: {listed[:2000]}"
        assert summary["failed"] == len(summary["failures"]) >= 1
    if row.check is not None:
        row.check(report, summary)
