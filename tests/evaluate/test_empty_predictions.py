"""Issue 13, item 11: a predictions file with no predictions at all is scored (every reference item 0), exit 0,
with a warning naming the file; a zero-byte or unparseable JSON file stays an error naming it (exit 1)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from videolang.core.errors import BadInputError
from videolang.evaluate import (ChapterCaptioningEvaluator, DenseCaptioningEvaluator, GroundingEvaluator,
                                VideoQAEvaluator)
from videolang.run import EXIT_ERROR, EXIT_OK, run_stage

DVC_REFS = {"v1": {"duration": 30, "timestamps": [[0, 10], [10, 30]], "sentences": ["intro part", "main part"]},
            "v2": {"duration": 20, "timestamps": [[0, 20]], "sentences": ["all of it"]}}
GROUNDING_REFS = [{"qid": i, "query": f"q{i}", "vid": "v1", "duration": 30, "relevant_windows": [[10 * i, 10 * i + 10]]}
                  for i in range(3)]
QA_REFS = [{"qid": i, "answer_idx": i % 3, "show_name": "s"} for i in range(4)]

# (layout name, file name, content): the ways a user's file says "nothing"
EMPTY = [("{}", "preds.json", "{}"), ("results", "preds.json", '{"results": {}}'), ("jsonl", "preds.jsonl", ""),
         ("blank_jsonl", "preds.jsonl", "\n\n")]
# (task, references file name, references, unit, the count of unpredicted reference items)
TASKS = [("dense_captioning", "refs.json", DVC_REFS, "video", "videos_without_predictions", 2),
         ("chapter_captioning", "refs.json", DVC_REFS, "item", "items_without_predictions", 3),
         ("grounding", "refs.jsonl", GROUNDING_REFS, "query", "queries_without_predictions", 3),
         ("videoqa", "refs.jsonl", QA_REFS, "question", "questions_without_predictions", 4)]
EVALUATORS = {"dense_captioning": DenseCaptioningEvaluator, "chapter_captioning": ChapterCaptioningEvaluator,
              "grounding": GroundingEvaluator, "videoqa": VideoQAEvaluator}
# each task's headline metrics: among what an empty file must score (0)
HEADLINE = {"dense_captioning": {"soda_c", "meteor", "cider", "f1", "recall@0.5"},
            "chapter_captioning": {"bleu_4", "meteor", "rouge_l", "cider"},
            "grounding": {"r1@0.5", "r1@0.7", "map"}, "videoqa": {"accuracy"}}


def write(path: Path, data) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in data))
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize("task,ref_name,refs,unit,count,n", TASKS, ids=[t[0] for t in TASKS])
@pytest.mark.parametrize("layout,name,content", EMPTY, ids=[e[0] for e in EMPTY])
def test_no_predictions_at_all_scores_every_reference_zero(tmp_path, meteor, task, ref_name, refs, unit, count, n,
                                                           layout, name, content):
    references = write(tmp_path / ref_name, refs)
    predictions = tmp_path / name
    predictions.write_text(content)
    result = EVALUATORS[task]().evaluate(str(predictions), str(references), meteor=meteor)
    primary = result.metrics["corrected"]
    evaluated = count.replace("_without_predictions", "_evaluated")  # e.g. videos_evaluated
    scored = {k: v for k, v in primary.items() if "_evaluated" not in k and v is not None}
    assert scored.keys() >= HEADLINE[task] and set(scored.values()) == {0.0}, primary
    assert primary[evaluated] == n  # every reference item is scored (as 0), none skipped
    assert result.report.counts[count] == n
    assert result.report.warnings == [f"{predictions}: no predictions at all: every reference {unit} scores 0 - "
                                      f"is this the right file?"]
    if task in ("dense_captioning", "chapter_captioning"):
        # compat skips unpredicted items, as the tools do: with none predicted, nothing to average (null)
        compat = result.metrics["compat"]
        nulls = {k: v for k, v in compat.items() if "_evaluated" not in k}
        assert nulls.keys() == {k for k in primary if "_evaluated" not in k} and set(nulls.values()) == {None}
        assert compat[evaluated] == 0


def test_predictions_only_for_unknown_videos_warn_too(meteor):
    preds = {"results": {"elsewhere": [{"timestamp": [0, 5], "sentence": "x"}]}}
    result = DenseCaptioningEvaluator().evaluate(preds, DVC_REFS, meteor=meteor)
    assert result.report.warnings == ["<predictions>: none of its 1 predicted videos is in the references: "
                                      "every reference video scores 0 - is this the right file?"]
    assert result.metrics["corrected"]["videos_evaluated"] == 2 and result.metrics["compat"]["videos_evaluated"] == 0


def test_predictions_that_all_start_past_the_end_warn_too(meteor):
    preds = {"v1": [{"timestamp": [40, 50], "sentence": "late"}], "v2": [{"timestamp": [9, 3], "sentence": "x"}]}
    result = DenseCaptioningEvaluator(protocols=["corrected"]).evaluate(preds, DVC_REFS, meteor=meteor)
    assert result.report.warnings == ["<predictions>: no usable prediction for any reference video (every one is "
                                      "empty, was dropped or starts past the end; see the counts): every reference "
                                      "video scores 0 - is this the right file?"]
    assert result.primary["soda_c"] == 0.0 and result.primary["videos_evaluated"] == 2


def test_a_normal_file_has_no_warning(meteor):
    preds = {"v1": [{"timestamp": [0, 10], "sentence": "intro part"}]}
    assert DenseCaptioningEvaluator().evaluate(preds, DVC_REFS, meteor=meteor).report.warnings == []


def test_references_without_any_segment_are_an_error_naming_the_file(tmp_path):
    refs = write(tmp_path / "refs.json", {"v1": {"duration": 3, "timestamps": [], "sentences": []}})
    with pytest.raises(BadInputError, match="no reference video has a segment") as err:
        DenseCaptioningEvaluator().evaluate({}, str(refs))
    assert err.value.path == str(refs)
    grefs = write(tmp_path / "g.jsonl", [{"qid": 1, "vid": "v", "duration": 9, "relevant_windows": []}])
    with pytest.raises(BadInputError, match="no query has a relevant window") as err:
        GroundingEvaluator().evaluate([], str(grefs))
    assert err.value.path == str(grefs)


@pytest.mark.parametrize("task", ["chapter_generation", "grounding", "videoqa"])
def test_stage_scores_an_empty_file_with_a_warning_naming_it(make_cfg, tmp_path, caplog, task):
    refs, unpredicted = {"chapter_generation": (("refs.json", DVC_REFS), {"videos_without_predictions": 2}),
                         "grounding": (("refs.jsonl", GROUNDING_REFS), {"queries_without_predictions": 3}),
                         "videoqa": (("refs.jsonl", QA_REFS), {"questions_without_predictions": 4})}[task]
    references = write(tmp_path / refs[0], refs[1])
    predictions = tmp_path / "empty.json"
    predictions.write_text('{"results": {}}')
    cfg = make_cfg("stage=evaluate", f"task={task}", f"predictions={predictions}", f"references={references}")
    assert run_stage(cfg) == EXIT_OK
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(m.startswith(f"{predictions}: no predictions at all") for m in warnings), warnings
    out = Path(cfg.paths.output_dir)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["inputs"]["warnings"][0].startswith(f"{predictions}: no predictions at all")
    assert {k: v for k, v in metrics["inputs"]["counts"].items() if k.endswith("_without_predictions")} == unpredicted
    assert "**warning**" in (out / "report.md").read_text()
    assert json.loads((out / "summary.json").read_text())["warnings"] == metrics["inputs"]["warnings"]


@pytest.mark.parametrize("content,problem", [("", "file is empty"), ("  \n", "file is empty"),
                                             ('{"results": {', "malformed JSON")])
def test_stage_zero_byte_or_broken_json_is_an_error_naming_the_file(make_cfg, tmp_path, caplog, content, problem):
    references = write(tmp_path / "refs.json", DVC_REFS)
    predictions = tmp_path / "preds.json"
    predictions.write_text(content)
    cfg = make_cfg("stage=evaluate", "task=dense_captioning", f"predictions={predictions}",
                   f"references={references}")
    assert run_stage(cfg) == EXIT_ERROR
    assert f"{predictions}: {problem}" in caplog.text
    assert not (Path(cfg.paths.output_dir) / "metrics.json").exists()
