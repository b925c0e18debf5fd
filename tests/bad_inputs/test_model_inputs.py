"""Every input of `stage=evaluate`, `stage=train` and `stage=predict`, and its bad variants, through the real
command line (in this process, `tests/bad_inputs/harness.py`).

One table row per bad variant: the files it writes, the command-line overrides, and what the contract
(docs/DEVELOPING.md, "Exit codes and messages") promises for it:

- exit 1: an input file is unusable; the one-paragraph message names the file and the problem.
- exit 2: a bad setting (a command-line value, an option, a missing key); the message names the key.
- exit 3: finished, the bad items (videos, questions) skipped and named in the log and summary.json.
- exit 0: the bad thing is counted, clipped or warned about, as docs/evaluate.md and docs/model.md say.

Inputs are never modified, and outputs that already exist stay byte for byte the same when a run fails:
an earlier evaluation's metrics next to the new run folder, the predictions already written in predict's
output folder, the checkpoint a run was given.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.bad_inputs.harness import check_contract, run_folder, run_in_process, snapshot
from tests.fixtures.model import write_synthetic_dataset

pytestmark = pytest.mark.usefixtures("encoding_cache")  # not about encoding

FOLDER = object()  # a files-table value: make a folder at that path
NAN = float("nan")


# --- inputs -------------------------------------------------------------------------------------

def dumps(data: Any) -> str:
    return json.dumps(data, allow_nan=True)


def jsonl(rows: list) -> str:
    return "".join(json.dumps(r, allow_nan=True) + "\n" for r in rows)


DVC_REFS = {"vidA": {"duration": 30.0, "timestamps": [[0, 10], [10, 30]], "sentences": ["chop the onion", "fry it"]},
            "vidB": {"duration": 20.0, "timestamps": [[0, 20]], "sentences": ["serve the dish"]}}


def dvc_refs(**changes: Any) -> str:
    data = json.loads(json.dumps(DVC_REFS))
    for vid, entry in changes.items():
        data[vid] = entry
    return dumps(data)


def event(s: Any, e: Any, text: str = "chop the onion") -> dict:
    return {"timestamp": [s, e], "sentence": text}


GOOD_DVC_PREDS = {"results": {"vidA": [event(0, 10), event(10, 30, "fry it")], "vidB": [event(0, 20, "serve")]}}
G_REFS = [{"qid": i, "query": f"query {i}", "vid": "vidA", "duration": 30.0, "relevant_windows": [[10 * i, 10 * i + 10]]}
          for i in range(3)]
G_PREDS = [{"qid": i, "pred_relevant_windows": [[10 * i, 10 * i + 8, 0.9], [0, 5, 0.1]]} for i in range(3)]
QA_REFS = [{"qid": i, "answer_idx": i % 3, "show_name": "show"} for i in range(4)]
QA_PREDS = [{"qid": i, "pred": i % 2} for i in range(4)]

EVAL_FILES = {"in/refs.json": dumps(DVC_REFS), "in/preds.json": dumps(GOOD_DVC_PREDS), "in/g_refs.jsonl": jsonl(G_REFS),
              "in/g_preds.jsonl": jsonl(G_PREDS), "in/qa_refs.jsonl": jsonl(QA_REFS),
              "in/qa_preds.jsonl": jsonl(QA_PREDS)}
DENSE = ["task=dense_captioning", "predictions={t}/in/preds.json", "references={t}/in/refs.json"]
GROUND = ["task=grounding", "predictions={t}/in/g_preds.jsonl", "references={t}/in/g_refs.jsonl"]
QA = ["task=videoqa", "predictions={t}/in/qa_preds.jsonl", "references={t}/in/qa_refs.jsonl"]


# --- checks of runs that finish -----------------------------------------------------------------

def counts(**expected: int) -> Callable[[Path, dict], None]:
    """evaluate: these input counts in metrics.json (and nothing silently dropped)."""
    def _check(run: Path, summary: dict) -> None:
        got = json.loads((run / "metrics.json").read_text())["inputs"]["counts"]
        for key, n in expected.items():
            assert got.get(key) == n, (key, got)
    return _check


def saliency_and_query_sensitivity(run: Path, summary: dict) -> None:
    """evaluate, grounding: bad saliency lists counted, highlight scored on references derived from the windows,
    query sensitivity reported (G_REFS: three queries of one video)."""
    counts(predicted_saliency_scores_dropped_nan=1, predicted_saliency_scores_dropped_not_numbers=1,
           predicted_saliency_scores_wrong_length=1, reference_saliency_derived_from_windows=3)(run, summary)
    m = json.loads((run / "metrics.json").read_text())["metrics"]["corrected"]
    assert m["qs_videos_evaluated"] == 1 and m["qs_top1_changed"] == 1.0 and m["qs_shuffled_r1@0.5"] == 0.0
    assert m["hl_hit1@fair"] == pytest.approx(1 / 3)  # query 2's top clip (20 s) is inside [20, 30)
    assert summary["metrics"]["corrected"]["qs_r1@0.5"] == 1.0 and "g_preds.jsonl" in summary["warnings"][0]


def entries(part: str, **expected: int) -> Callable[[Path, dict], None]:
    """train: what reading a task file counted (summary.json -> data.entries)."""
    def _check(run: Path, summary: dict) -> None:
        got = summary["data"]["entries"][part]
        for key, n in expected.items():
            assert got.get(key) == n, (key, got)
    return _check


def skipped(*items: str) -> Callable[[Path, dict], None]:
    """train: exactly these items skipped (summary.json -> skipped_videos, ends of the item names)."""
    def _check(run: Path, summary: dict) -> None:
        names = [f["item"] for f in summary["skipped_videos"]]
        assert len(names) == len(items) and all(any(n.endswith(i) for n in names) for i in items), names
        assert summary["failed"] == len(items)
    return _check


def wrote(*names: str) -> Callable[[Path, dict], None]:
    """predict: the files it wrote, in its output folder."""
    def _check(run: Path, summary: dict) -> None:
        written = [Path(p).name for p in summary["files"].values()]
        assert sorted(written) == sorted(names), written
    return _check


# --- the table ----------------------------------------------------------------------------------

@dataclass
class Row:
    id: str
    stage: str                         # evaluate | train | predict
    args: list[str]                    # overrides ("{t}" the row's folder, see `_fill` for the others);
                                       # they replace the stage's defaults of the same key, "-key" drops one
    code: int
    names: list[str] = field(default_factory=list)  # must appear in the output
    problem: str | None = None         # regex the output must match
    files: dict[str, Any] = field(default_factory=dict)  # path under {t} -> str | bytes | FOLDER
    edit: Callable[[Path], None] | None = None  # train: changes the row's copy of the task files folder
    check: Callable[[Path, dict], None] | None = None  # exit 0 / 3: (run folder, summary.json)


def edit_json(name: str, fn: Callable[[Any], Any]) -> Callable[[Path], None]:
    def _edit(tasks: Path) -> None:
        path = tasks / name
        path.write_text(dumps(fn(json.loads(path.read_text()))))
    return _edit


def edit_rows(name: str, fn: Callable[[list], Any]) -> Callable[[Path], None]:
    def _edit(tasks: Path) -> None:
        path = tasks / name
        out = fn([json.loads(line) for line in path.read_text().splitlines() if line.strip()])
        path.write_text(out if isinstance(out, str) else jsonl(out))
    return _edit


def edit_bytes(name: str, fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def _edit(tasks: Path) -> None:
        (tasks / name).write_bytes(fn((tasks / name).read_bytes()))
    return _edit


def first_times(*spans: list) -> Callable[[dict], dict]:
    """The first event of the first len(spans) videos gets these [start, end]."""
    def _fn(data: dict) -> dict:
        for vid, span in zip(list(data), spans):
            data[vid]["timestamps"][0] = span
        return data
    return _fn


def set_entry(value: Any, key: str | None = None) -> Callable[[dict], dict]:
    def _fn(data: dict) -> dict:
        vid = next(iter(data))
        if key is None:
            data[vid] = value
        else:
            data[vid][key] = value
        return data
    return _fn


DVC_TRAIN = "dense_captioning_train.json"
TASK = "{data}/built/synthetic/tasks"

EVALUATE = [
    # -- dense captioning predictions -------------------------------------------------------------
    Row("eval-preds-missing", "evaluate", [*DENSE, "predictions={t}/in/none.json"], 1, ["{t}/in/none.json"],
        "not found"),
    Row("eval-preds-zero-byte", "evaluate", DENSE, 1, ["{t}/in/preds.json"], "file is empty",
        {"in/preds.json": b""}),
    Row("eval-preds-truncated", "evaluate", DENSE, 1, ["{t}/in/preds.json"], "malformed JSON at line 1",
        {"in/preds.json": dumps(GOOD_DVC_PREDS)[:40]}),
    Row("eval-preds-list", "evaluate", DENSE, 1, ["{t}/in/preds.json"], "must be a JSON object",
        {"in/preds.json": "[1, 2]"}),
    Row("eval-preds-not-utf8", "evaluate", DENSE, 1, ["{t}/in/preds.json"], "not UTF-8 text",
        {"in/preds.json": dumps(GOOD_DVC_PREDS).replace("serve", "s\udcffrve").encode("utf-8", "surrogateescape")}),
    Row("eval-preds-folder", "evaluate", DENSE, 1, ["{t}/in/preds.json"], "is a folder, expected a file",
        {"in/preds.json": FOLDER}),
    Row("eval-preds-dev-zero", "evaluate", [*DENSE, "predictions=/dev/zero"], 1, ["/dev/zero"],
        "is a character device .*not a regular file"),
    Row("eval-preds-duplicate-video", "evaluate", DENSE, 1, ["{t}/in/preds.json", "vidA"], "listed twice",
        {"in/preds.json": '{"vidA": [], "vidB": [], "vidA": []}'}),
    Row("eval-preds-empty-object", "evaluate", DENSE, 0, ["{t}/in/preds.json"],
        "no predictions at all: every reference video scores 0", {"in/preds.json": "{}"},
        check=counts(videos_without_predictions=2)),
    # (every event here is dropped, so no caption is scored and no METEOR process starts: negative and
    # huge times that are kept and clipped are the grounding row's, and tests/evaluate's through the API)
    Row("eval-preds-bad-events-counted", "evaluate", [*DENSE, "task.evaluator.protocols=[corrected]"], 0,
        ["{t}/in/preds.json"], r"no usable prediction for any reference video(.|\n)*"
                               r"predicted_events_dropped_non_finite_time: 1",
        {"in/preds.json": dumps({"vidA": [event(NAN, 5), event(9, 4), event(40, 1e300), {"start": 0, "end": 20},
                                          event(-3, 4)],
                                 "elsewhere": [event(0, 5)]})},
        check=counts(predicted_events_dropped_non_finite_time=1, predicted_events_dropped_end_before_start=1,
                     predicted_events_dropped_negative_time=1,
                     predicted_events_starting_past_duration=1, predictions_for_unknown_videos=1,
                     predicted_events_dropped_missing_sentence=1, videos_without_predictions=1)),
    # -- dense captioning references ----------------------------------------------------------------
    Row("eval-refs-missing", "evaluate", [*DENSE, "references={t}/in/none.json"], 1, ["{t}/in/none.json"],
        "not found"),
    Row("eval-refs-zero-byte", "evaluate", DENSE, 1, ["{t}/in/refs.json"], "file is empty", {"in/refs.json": ""}),
    Row("eval-refs-truncated", "evaluate", DENSE, 1, ["{t}/in/refs.json"], "malformed JSON",
        {"in/refs.json": dumps(DVC_REFS)[:-3]}),
    Row("eval-refs-list", "evaluate", DENSE, 1, ["{t}/in/refs.json"], "non-empty JSON object", {"in/refs.json": "[]"}),
    Row("eval-refs-empty-object", "evaluate", DENSE, 1, ["{t}/in/refs.json"], "non-empty JSON object",
        {"in/refs.json": "{}"}),
    Row("eval-refs-nan-time", "evaluate", DENSE, 1, ["{t}/in/refs.json", "vidB"], "non_finite_time",
        {"in/refs.json": dvc_refs(vidB={"duration": 20, "timestamps": [[NAN, 5]], "sentences": ["x"]})}),
    Row("eval-refs-end-before-start", "evaluate", DENSE, 1, ["{t}/in/refs.json", "vidB"], "end_before_start",
        {"in/refs.json": dvc_refs(vidB={"duration": 20, "timestamps": [[15, 5]], "sentences": ["x"]})}),
    Row("eval-refs-wrong-type", "evaluate", DENSE, 1, ["{t}/in/refs.json", "vidB"], "sentence is not a string",
        {"in/refs.json": dvc_refs(vidB={"duration": 20, "timestamps": [[0, 5]], "sentences": [7]})}),
    Row("eval-refs-lengths-differ", "evaluate", DENSE, 1, ["{t}/in/refs.json", "vidB"],
        "1 timestamps but 2 sentences",
        {"in/refs.json": dvc_refs(vidB={"duration": 20, "timestamps": [[0, 5]], "sentences": ["x", "y"]})}),
    Row("eval-refs-no-segments", "evaluate", DENSE, 1, ["{t}/in/refs.json"], "no reference video has a segment",
        {"in/refs.json": dumps({"vidA": {"duration": 3, "timestamps": [], "sentences": []}})}),
    Row("eval-refs-duplicate-video", "evaluate", DENSE, 1, ["{t}/in/refs.json", "vidA"], "listed twice",
        {"in/refs.json": dumps(DVC_REFS)[:-1] + ', "vidA": ' + dumps(DVC_REFS["vidA"]) + "}"}),
    Row("eval-refs-not-utf8", "evaluate", DENSE, 1, ["{t}/in/refs.json"], "not UTF-8 text: byte 0xe9 on line 1",
        {"in/refs.json": dumps(DVC_REFS).encode("utf-8").replace(b'"vidA"', b'"vid\xe9A"', 1)}),
    Row("eval-refs-utf16-is-read", "evaluate", DENSE, 0, [], None, {"in/refs.json": dumps(DVC_REFS).encode("utf-16")}),
    # -- grounding ----------------------------------------------------------------------------------------
    Row("eval-grounding-preds-duplicate-qid", "evaluate", GROUND, 1, ["{t}/in/g_preds.jsonl", "row 4", "'0'"],
        "duplicate qid", {"in/g_preds.jsonl": jsonl(G_PREDS + G_PREDS[:1])}),
    Row("eval-grounding-preds-truncated-line", "evaluate", GROUND, 1, ["{t}/in/g_preds.jsonl"],
        "malformed JSON on line 3", {"in/g_preds.jsonl": jsonl(G_PREDS)[:-20] + "\n"}),
    Row("eval-grounding-preds-windows-not-a-list", "evaluate", GROUND, 1, ["{t}/in/g_preds.jsonl", "row 1"],
        "expected .qid, pred_relevant_windows", {"in/g_preds.jsonl": jsonl([{"qid": 0, "pred_relevant_windows": 5}])}),
    Row("eval-grounding-preds-bad-windows-counted", "evaluate", GROUND, 0, [], None,
        {"in/g_preds.jsonl": jsonl([{"qid": 0, "pred_relevant_windows": [[NAN, 5, 1], [8, 2, 1], ["a", 3], [0, 9, 1],
                                                                     [0, 9, NAN], [0, 9, "0.9"], [0, 9, None]]},
                                    {"qid": 1, "pred_relevant_windows": [[-5, 1e300, 0.5]]}, {"qid": 7,
                                    "pred_relevant_windows": [[0, 1, 1]]}])},
        check=counts(predicted_windows_dropped_non_finite_time=1, predicted_windows_dropped_end_before_start=1,
                     predicted_windows_dropped_malformed_time=1, predicted_windows_dropped_bad_score=3,
                     predicted_windows_dropped_negative_time=1, predictions_for_unknown_queries=1,
                     queries_without_predictions=1)),
    Row("eval-grounding-preds-empty", "evaluate", GROUND, 0, ["{t}/in/g_preds.jsonl"],
        "no predictions at all: every reference query scores 0", {"in/g_preds.jsonl": ""},
        check=counts(queries_without_predictions=3)),
    Row("eval-grounding-preds-bad-saliency-counted", "evaluate", GROUND, 0, ["{t}/in/g_preds.jsonl"],
        r"(?s)pred_saliency_scores dropped \(nan: 1, not_numbers: 1;.*query sensitivity: the top-1 window changes "
        r"with the query on 100\.0% of 1 videos.*highlight detection: fair HIT@1 33\.33",
        {"in/g_preds.jsonl": jsonl([dict(G_PREDS[0], pred_saliency_scores=[NAN] * 30),
                                    dict(G_PREDS[1], pred_saliency_scores=["a"] * 30),
                                    dict(G_PREDS[2], pred_saliency_scores=[0.0] * 20 + [1.0] * 5)])},
        check=saliency_and_query_sensitivity),
    Row("eval-grounding-refs-duplicate-qid", "evaluate", GROUND, 1, ["{t}/in/g_refs.jsonl", "'1'"], "duplicate qid",
        {"in/g_refs.jsonl": jsonl(G_REFS + G_REFS[1:2])}),
    Row("eval-grounding-refs-window-past-end", "evaluate", GROUND, 1, ["{t}/in/g_refs.jsonl", "'2'"],
        "starts at or past the video's duration", {"in/g_refs.jsonl": jsonl(G_REFS[:2] + [dict(G_REFS[2],
                                                                          relevant_windows=[[40, 50]])])}),
    Row("eval-grounding-refs-nan-window", "evaluate", GROUND, 1, ["{t}/in/g_refs.jsonl"], "non_finite_time",
        {"in/g_refs.jsonl": jsonl([dict(G_REFS[0], relevant_windows=[[NAN, 3]])])}),
    # -- VideoQA ------------------------------------------------------------------------------------------
    Row("eval-videoqa-preds-duplicate-qid", "evaluate", QA, 1, ["{t}/in/qa_preds.jsonl", "row 5", "'0'"],
        "duplicate qid", {"in/qa_preds.jsonl": jsonl(QA_PREDS + QA_PREDS[:1])}),
    Row("eval-videoqa-preds-not-rows", "evaluate", QA, 1, ["{t}/in/qa_preds.jsonl", "row 1"], "expected .qid",
        {"in/qa_preds.jsonl": "[1, 2]\n"}),
    Row("eval-videoqa-preds-bad-answers-counted", "evaluate", QA, 0, [], None,
        {"in/qa_preds.jsonl": jsonl([{"qid": 0, "pred": "abc"}, {"qid": 1, "pred": NAN}, {"qid": 2, "pred": 2},
                                     {"qid": 9, "pred": 0}])},
        check=counts(predictions_dropped_not_an_answer_index=2, questions_without_predictions=3,
                     predictions_for_unknown_questions=1)),
    Row("eval-videoqa-preds-empty-object", "evaluate", [*QA, "predictions={t}/in/qa_preds.json"], 0,
        ["{t}/in/qa_preds.json"],
        "no predictions at all: every reference question scores 0",
        {"in/qa_preds.json": '{"results": {}}'}, check=counts(questions_without_predictions=4)),
    Row("eval-videoqa-refs-without-answers", "evaluate", QA, 1, ["{t}/in/qa_refs.jsonl", "row 1"],
        "test-public file has no answers", {"in/qa_refs.jsonl": jsonl([{"qid": 0, "show_name": "s"}])}),
    # -- settings -------------------------------------------------------------------------------------------
    Row("eval-missing-predictions-key", "evaluate", [*DENSE, "-predictions"], 2, ["predictions"],
        "missing required key"),
    Row("eval-empty-reference-list", "evaluate", [*DENSE, "references=[]"], 2, ["references=[]"],
        "empty list of reference files"),
    Row("eval-bad-protocol", "evaluate", [*DENSE, "task.evaluator.protocols=[bogus]"], 2, ["task.evaluator"],
        "protocols must be a non-empty list"),
    Row("eval-unknown-task", "evaluate", [*DENSE, "task=nonexistent"], 2, ["nonexistent"], None),
]
TRAIN = [
    # -- the task files (dense captioning) ------------------------------------------------------------
    Row("train-split-file-missing", "train", [], 1, [f"{TASK}/dense_captioning_val.json"], "file not found",
        edit=lambda tasks: (tasks / "dense_captioning_val.json").unlink()),
    Row("train-task-file-empty-object", "train", [], 1, [f"{TASK}/{DVC_TRAIN}"], "has no usable entry",
        edit=lambda tasks: (tasks / DVC_TRAIN).write_text("{}")),
    Row("train-task-file-zero-byte", "train", [], 1, [f"{TASK}/{DVC_TRAIN}"], "file is empty",
        edit=lambda tasks: (tasks / DVC_TRAIN).write_text("")),
    Row("train-task-file-truncated", "train", [], 1, [f"{TASK}/{DVC_TRAIN}"], "malformed JSON at line",
        edit=edit_bytes(DVC_TRAIN, lambda b: b[: len(b) // 2])),
    Row("train-task-file-list", "train", [], 1, [f"{TASK}/{DVC_TRAIN}"], "got a JSON list",
        edit=lambda tasks: (tasks / DVC_TRAIN).write_text("[1, 2]")),
    Row("train-task-file-not-utf8", "train", [], 1, [f"{TASK}/{DVC_TRAIN}"], "not UTF-8 text",
        edit=edit_bytes(DVC_TRAIN, lambda b: b.replace(b"syn0001", b"syn\xff001", 1))),
    Row("train-task-file-duplicate-video", "train", [], 1, [f"{TASK}/{DVC_TRAIN}", "syn0000"], "listed twice",
        edit=edit_bytes(DVC_TRAIN, lambda b: b.rstrip()[:-1] + b', "syn0000": {"duration": 5, "timestamps": [[0, 5]],'
                                                                 b' "sentences": ["x"]}}')),
    Row("train-event-times-nan-negative-huge-backwards", "train", [], 0, [f"{TASK}/{DVC_TRAIN}"],
        "events_dropped_bad_time: 2",
        edit=edit_json(DVC_TRAIN, first_times([NAN, 5.0], [-5.0, 5.0], [0.0, 1e300], [10.0, 2.0])),
        check=entries("train/chapter_generation", events_dropped_bad_time=2, events_clipped=2)),
    Row("train-entry-wrong-type", "train", [], 3, [f"{TASK}/{DVC_TRAIN}/syn0000"], "got str",
        edit=edit_json(DVC_TRAIN, set_entry("not an object")), check=skipped("syn0000")),
    Row("train-entry-nan-duration", "train", [], 3, [f"{TASK}/{DVC_TRAIN}/syn0000"], "bad duration nan",
        edit=edit_json(DVC_TRAIN, set_entry(NAN, "duration")), check=skipped("syn0000")),
    Row("train-entry-huge-int-duration", "train", [], 3, [f"{TASK}/{DVC_TRAIN}/syn0000"], "bad duration 1000",
        edit=edit_json(DVC_TRAIN, set_entry(10 ** 400, "duration")), check=skipped("syn0000")),  # float() overflows
    Row("train-entry-lengths-differ", "train", [], 3, [f"{TASK}/{DVC_TRAIN}/syn0000"], "5 timestamps but 1 sentences",
        edit=edit_json(DVC_TRAIN, set_entry(["only one"], "sentences")), check=skipped("syn0000")),
    Row("train-video-missing-from-store", "train", [], 3, ["train/notInStore", "{features}"],
        "no 'visual' features in the store",
        edit=edit_json(DVC_TRAIN, lambda d: {**d, "notInStore": d["syn0001"]}), check=skipped("train/notInStore")),
    Row("train-no-video-in-store", "train", [], 1, [f"{TASK}/{DVC_TRAIN}", "{features}"],
        "none of its 8 videos has usable features",
        edit=edit_json(DVC_TRAIN, lambda d: {f"gone{k}": v for k, v in d.items()})),
    # -- grounding and VideoQA task files -------------------------------------------------------------
    Row("train-grounding-malformed-line", "train", ["task=grounding"], 1, [f"{TASK}/grounding_train.jsonl"],
        "malformed JSON on line 2", edit=edit_rows("grounding_train.jsonl", lambda rows: jsonl(rows[:1]) + "{oops\n"
                                                   + jsonl(rows[1:]))),
    Row("train-grounding-duplicate-qid", "train", ["task=grounding"], 1, [f"{TASK}/grounding_train.jsonl",
                                                                         "'syn0000#0'"], "duplicate qid",
        edit=edit_rows("grounding_train.jsonl", lambda rows: rows + rows[:1])),
    Row("train-grounding-empty", "train", ["task=grounding"], 1, [f"{TASK}/grounding_train.jsonl"],
        "has no usable entry", edit=edit_rows("grounding_train.jsonl", lambda rows: "")),
    Row("train-grounding-bad-windows-counted", "train", ["task=grounding"], 0, [f"{TASK}/grounding_train.jsonl"],
        "bad_windows_dropped: 1", edit=edit_rows("grounding_train.jsonl", lambda rows: [
            dict(rows[0], relevant_windows=[[NAN, 3]]), dict(rows[1], relevant_windows=[[-5, 1e300]]), *rows[2:]]),
        check=entries("train/grounding", bad_windows_dropped=1, no_window_skipped=1, windows_clipped=1)),
    Row("train-videoqa-duplicate-qid", "train", ["task=videoqa"], 1, [f"{TASK}/videoqa_train.jsonl",
                                                                     "'syn0000_q0'"], "duplicate qid",
        edit=edit_rows("videoqa_train.jsonl", lambda rows: rows + rows[:1])),
    Row("train-videoqa-not-utf8", "train", ["task=videoqa"], 1, [f"{TASK}/videoqa_train.jsonl"], "not UTF-8 text",
        edit=edit_bytes("videoqa_train.jsonl", lambda b: b"\xff\xfe" + b)),
    Row("train-videoqa-bad-rows-skipped", "train", ["task=videoqa"], 3, [f"{TASK}/videoqa_train.jsonl/syn0000_q0",
                                                                        "syn0000_q1"],
        "bad duration 'long'|fewer than two answers", edit=edit_rows("videoqa_train.jsonl", lambda rows: [
            dict(rows[0], duration="long"), dict(rows[1], answers=["one"]), *rows[2:]]),
        check=skipped("syn0000_q0", "syn0000_q1")),
    Row("train-videoqa-huge-int-duration", "train", ["task=videoqa"], 3, [f"{TASK}/videoqa_train.jsonl/syn0000_q0"],
        "bad duration 1000", edit=edit_rows("videoqa_train.jsonl", lambda rows: [dict(rows[0], duration=10 ** 400),
                                                                                 *rows[1:]]),
        check=skipped("syn0000_q0")),
    # -- checkpoints and folders ----------------------------------------------------------------------
    Row("train-resume-missing", "train", ["stage.resume={t}/none.ckpt"], 1, ["{t}/none.ckpt"], "checkpoint not found"),
    Row("train-resume-random-bytes", "train", ["stage.resume={t}/random.ckpt"], 1, ["{t}/random.ckpt"],
        "not a videolang checkpoint", {"random.ckpt": bytes(range(256)) * 64}),
    Row("train-resume-truncated", "train", ["stage.resume={t}/cut.ckpt"], 1, ["{t}/cut.ckpt"],
        r"truncated or damaged", {"cut.ckpt": "{ckpt_half}"}),
    Row("train-resume-folder", "train", ["stage.resume={t}/dir.ckpt"], 1, ["{t}/dir.ckpt"], "not a file",
        {"dir.ckpt": FOLDER}),
    Row("train-init-from-random-bytes", "train", ["model.init_from={t}/random.ckpt"], 1, ["{t}/random.ckpt"],
        "not a videolang checkpoint", {"random.ckpt": b"\x00" * 4096}),
    Row("train-feature-store-missing", "train", ["paths.feature_dir={t}/nostore"], 1, ["{t}/nostore"],
        "no 'visual' features in the store"),
    Row("train-dataset-missing", "train", ["stage.dataset=nope"], 1, ["{data}/built/nope/tasks/dense_captioning_train"
                                                                      ".json"], "file not found"),
    # -- settings -------------------------------------------------------------------------------------
    Row("train-negative-max-epochs", "train", ["trainer.max_epochs=-5"], 2, ["trainer.max_epochs=-5"],
        "whole number >= -1"),
    Row("train-max-epochs-unlimited-with-a-schedule", "train", ["trainer.max_epochs=-1"], 2,
        ["trainer.max_epochs=-1", "trainer.max_steps"], "schedule .* without a length"),
    Row("train-max-epochs-not-a-number", "train", ["trainer.max_epochs=abc"], 2, ["trainer.max_epochs='abc'"],
        "whole number"),
    Row("train-negative-batch-size", "train", ["stage.datamodule.batch_size=-4"], 2,
        ["stage.datamodule.batch_size=-4"], "whole number >= 1"),
    Row("train-lr-nan", "train", ["model.optimizer.lr=NaN"], 2, ["model.optimizer.lr=nan"], "finite number > 0"),
    Row("train-unknown-task", "train", ["task=nonexistent"], 2, ["nonexistent"], None),
    Row("train-unknown-data-task", "train", ["data.tasks=[nonexistent]"], 2, ["'nonexistent'", "data.tasks"],
        "unknown task file"),
    Row("train-unknown-task-head", "train", ["task.head._target_=videolang.tasks.NoSuchTask"], 2,
        ["task.head._target_", "videolang.tasks.NoSuchTask"], "unknown task head"),
    Row("train-unknown-trainer-option", "train", ["+trainer.bogus_option=3"], 2, ["trainer", "bogus_option"],
        "cannot be built from its settings"),
]


PREDICT = [
    # -- the video -------------------------------------------------------------------------------------
    Row("predict-video-missing", "predict", ["video={t}/none.mp4"], 1, ["{t}/none.mp4"], "video not found"),
    Row("predict-video-zero-byte", "predict", ["video={t}/zero.mp4"], 1, ["{t}/zero.mp4"], "empty file",
        {"zero.mp4": b""}),
    Row("predict-video-not-a-video", "predict", ["video={t}/text.mp4"], 1, ["{t}/text.mp4"], "cannot open as media",
        {"text.mp4": "this is a text file, not a video\n"}),
    Row("predict-video-folder", "predict", ["video={t}/folder.mp4"], 1, ["{t}/folder.mp4"],
        "is a folder, not a media file, and holds no frames", {"folder.mp4": FOLDER}),
    Row("predict-video-without-audio", "predict", ["video={sample}/awkward/video_only.mp4"], 0, [], None,
        check=wrote("video_only.videoqa.jsonl", "video_only.videoqa.json")),
    # -- the checkpoint ----------------------------------------------------------------------------------
    Row("predict-ckpt-missing", "predict", ["ckpt={t}/none.ckpt"], 1, ["{t}/none.ckpt"], "checkpoint not found"),
    Row("predict-ckpt-random-bytes", "predict", ["ckpt={t}/random.ckpt"], 1, ["{t}/random.ckpt"],
        r"not a videolang checkpoint \(torch.load", {"random.ckpt": bytes(range(255, -1, -1)) * 64}),
    Row("predict-ckpt-zero-byte", "predict", ["ckpt={t}/zero.ckpt"], 1, ["{t}/zero.ckpt"], "the file is empty",
        {"zero.ckpt": b""}),
    Row("predict-ckpt-truncated", "predict", ["ckpt={t}/cut.ckpt"], 1, ["{t}/cut.ckpt"],
        "truncated or damaged", {"cut.ckpt": "{ckpt_half}"}),
    Row("predict-ckpt-folder", "predict", ["ckpt={t}/dir.ckpt"], 1, ["{t}/dir.ckpt"], "checkpoint is not a file",
        {"dir.ckpt": FOLDER}),
    Row("predict-ckpt-other-task", "predict", ["-task", "-question", "-answers"], 2, ["{ckpt}"],
        "no head that predicts chapters"),
    # -- the question, answers, query, ts and subtitles values ---------------------------------------------
    Row("predict-no-question", "predict", ["-question"], 2, ["question"], "task=videoqa needs question"),
    Row("predict-empty-question", "predict", ["question=' '"], 2, ["question"], "the question is empty"),
    Row("predict-one-answer", "predict", ["answers=[only]"], 2, ["answers"], "fewer than two answers"),
    Row("predict-empty-answer", "predict", ["answers=[a,'']"], 2, ["answers"], "an empty answer"),
    Row("predict-duplicate-answer", "predict", ["answers=['a bowl','a bowl ']"], 2, ["answers", "'a bowl'"],
        "twice"),
    Row("predict-answers-not-a-list", "predict", ["answers=5"], 2, ["answers"], "must be a list"),
    Row("predict-questions-answers-mismatch", "predict", ["question=[q1,q2]", "answers=[[a,b]]"], 2, ["2 questions"],
        "as many answer lists"),
    Row("predict-ts-backwards", "predict", ["ts=20-10"], 2, ["ts='20-10'"], "expected ts=<start>-<end>"),
    Row("predict-ts-past-the-end", "predict", ["ts=9000-9010"], 2, ["ts=9000-9010", "{video}"],
        "starts at or after the end of the video"),
    Row("predict-subtitles-missing", "predict", ["subtitles={t}/none.srt"], 1, ["{t}/none.srt"],
        "subtitle file not found"),
    Row("predict-subtitles-garbage", "predict", ["subtitles={t}/junk.srt"], 1, ["{t}/junk.srt"], "no subtitle cue",
        {"junk.srt": "not\nsubrip\n"}),
    Row("predict-grounding-empty-query", "predict", ["task=grounding", "query=' '", "-question", "-answers"], 2,
        ["query"], "is empty"),
    # -- settings --------------------------------------------------------------------------------------
    Row("predict-bad-device", "predict", ["stage.device=tpu"], 2, ["stage.device"], "auto, cpu, cuda"),
    Row("predict-bad-extractor-choice", "predict", ["stage.extractor=bogus"], 2, ["stage.extractor"],
        "'checkpoint' or 'config'"),
    Row("predict-references-missing", "predict", ["stage.references={t}/none.json"], 1, ["{t}/none.json"],
        "references file not found"),
    Row("predict-missing-video-key", "predict", ["-video"], 2, ["video"], "missing required key"),
    # -- batch (videos=): settings and the source as a whole, refused before any model is loaded ---------------
    Row("predict-batch-videoqa", "predict", ["-video", "videos={sample}/videos"], 2, ["task=videoqa"],
        "batch prediction supports chapters"),
    Row("predict-batch-video-and-videos", "predict", ["videos={sample}/videos"], 2, ["videos="], "both given"),
    Row("predict-batch-source-missing", "predict", ["-video", "-task", "-question", "-answers", "videos={t}/nowhere"],
        1, ["{t}/nowhere"], "video source not found"),
    Row("predict-batch-bad-shard", "predict", ["-video", "-task", "-question", "-answers", "videos={sample}/videos",
                                               "shard=abc"], 2, ["shard"], "not a whole number"),
]

ROWS = EVALUATE + TRAIN + PREDICT
TRAIN_BASE = ["stage=train", "model=vid2seq_tiny", "trainer=cpu", "stage.dataset=synthetic", "paths.model_dir={model_dir}",
              "paths.data_dir={data}", "paths.feature_dir={features}", "stage.datamodule.num_workers=0",
              "stage.torch_threads=1", "stage.datamodule.batch_size=4", "model.generation.num_beams=1",
              "model.max_input_tokens=64", "model.max_output_tokens=32", "model.max_frames=8",
              "+trainer.num_sanity_val_steps=0", "+trainer.enable_progress_bar=false", "trainer.max_epochs=1",
              "stage.test_after_fit=false", "+trainer.limit_train_batches=1", "+trainer.limit_val_batches=1"]
PREDICT_BASE = ["stage=predict", "task=videoqa", "video={video}", "ckpt={ckpt}", "paths.model_dir={model_dir}",
                "question=Which part of the video is this?", "answers=[intro,outro,the middle]", "stage.out_dir={t}/out",
                "stage.device=cpu"]


# --- fixtures and the runner ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def env(model_dir, tmp_path_factory) -> dict[str, Any]:
    """What the evaluate and train rows point at: a synthetic built dataset + feature store (train) and an
    earlier evaluation's run folder (evaluate). The predict rows add `predict_env` (a trained checkpoint)."""
    from videolang.evaluate import GroundingEvaluator
    from videolang.evaluate.report import write_outputs

    root = tmp_path_factory.mktemp("model_inputs")
    write_synthetic_dataset(root / "data", root / "features", silent_ids=("syn0000",))
    earlier = root / "earlier_evaluation"
    write_outputs(GroundingEvaluator().evaluate(G_PREDS, G_REFS), earlier, {"predictions": "p", "references": "r"})
    return {"data": root / "data", "features": root / "features", "model_dir": model_dir, "earlier": earlier}


@pytest.fixture(scope="module")
def predict_env(env, videoqa_ckpt, sample_corpus) -> dict[str, Any]:
    """The predict rows' inputs: the shared VideoQA checkpoint (and half of it) and a sample video."""
    ckpt = videoqa_ckpt["ckpt"]
    return {**env, "model_dir": videoqa_ckpt["model_dir"], "ckpt": ckpt,
            "ckpt_half": ckpt.read_bytes()[: ckpt.stat().st_size // 2], "sample": sample_corpus,
            "video": sample_corpus / videoqa_ckpt["videos"][0]["files"]["video"]}


def _fill(text: str, t: Path, env: dict[str, Any]) -> str:
    for key in ("model_dir", "features", "ckpt", "sample", "video"):
        if key in env:
            text = text.replace("{" + key + "}", str(env[key]))
    return text.replace("{data}", str(t / "data")).replace("{t}", str(t))


def _merge(base: list[str], row: list[str]) -> list[str]:
    """The stage's defaults, replaced by the row's values of the same key; "-key" drops that key altogether."""
    def key(arg: str) -> str:
        return arg.split("=", 1)[0].lstrip("+~-")
    dropped = {key(a) for a in row if a.startswith("-")}
    given = {key(a) for a in row if not a.startswith("-")}
    args = [a for a in base if key(a) not in given] + [a for a in row if not a.startswith("-")]
    return [a for a in args if key(a) not in dropped]


def _materialize(t: Path, files: dict[str, Any], env: dict[str, Any]) -> None:
    for rel, content in files.items():
        path = t / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is FOLDER:
            if path.is_file():
                path.unlink()
            path.mkdir(exist_ok=True)
        elif content == "{ckpt_half}":
            path.write_bytes(env["ckpt_half"])
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _unchanged(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Files of `before` that are gone or changed in `after`."""
    return [p for p, digest in before.items() if after.get(p) != digest]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_model_stage_bad_input(row: Row, tmp_path: Path, capfd, request, env: dict[str, Any]):
    t = tmp_path
    if row.stage == "predict" or "{ckpt_half}" in row.files.values():  # only these need a trained checkpoint
        env = request.getfixturevalue("predict_env")
    if row.stage == "evaluate":
        _materialize(t, EVAL_FILES, env)
        shutil.copytree(env["earlier"], t / "logs" / "evaluate" / "earlier")  # an earlier run's metrics
        base = ["stage=evaluate"]
    elif row.stage == "train":
        shutil.copytree(env["data"], t / "data")
        if row.edit is not None:
            row.edit(t / "data" / "built" / "synthetic" / "tasks")
        base = TRAIN_BASE
    else:
        out = t / "out"  # predictions of an earlier run of the same video: never touched by a failed run
        out.mkdir()
        stem = env["video"].stem
        (out / f"{stem}.videoqa.jsonl").write_text('{"qid": 0, "pred": 1}\n')
        (out / f"{stem}.videoqa.json").write_text('{"earlier": true}\n')
        base = PREDICT_BASE
    _materialize(t, row.files, env)
    inputs = [t / "in", t / "data", env["features"], *([env["ckpt"]] if "ckpt" in env else []),
              t / "logs" / "evaluate" / "earlier", t / "out"]
    before = snapshot(*[p for p in inputs if p.exists()])
    args = [_fill(a, t, env) for a in _merge(base, row.args)]
    outcome = run_in_process([*args, f"paths.log_dir={t / 'logs'}"], capfd)
    check_contract(outcome, code=row.code, names=[_fill(n, t, env) for n in row.names], problem=row.problem)
    lost = _unchanged(before, snapshot(*[p for p in inputs if p.exists()]))
    assert not lost, f"inputs or earlier outputs changed: {lost}"
    if row.code in (1, 2):
        if row.stage == "predict":
            assert sorted(p.name for p in (t / "out").iterdir()) == sorted(
                Path(p).name for p in before if p.startswith(str(t / "out"))), "a failed predict wrote output"
        if row.code == 1:
            failed = [ln for ln in outcome.output.splitlines() if f"{row.stage} failed:" in ln]
            assert len(failed) == 1, outcome.output[-3000:]  # one paragraph
        return
    run = run_folder(outcome.output)
    summary = json.loads((run / "summary.json").read_text())
    if row.code == 3:
        listed = json.dumps(summary, ensure_ascii=False)
        for name in row.names:
            assert _fill(name, t, env) in listed or _fill(name, t, env).split("/")[-1] in listed, name
    if row.check is not None:
        row.check(run, summary)
