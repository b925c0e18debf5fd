"""Each dataset recipe runs end to end on a tiny stand-in in the dataset's published layout (issue 23, item 2).

build_dataset -> extract -> train (the recipe, 1 epoch) -> test -> evaluate, each through the command line's
own entry point in this process (`tests/bad_inputs/harness.run_in_process`). The recipe is composed as
published; the overrides only swap in the zoo's tiny models (T5, CLIP, Whisper-base), one epoch, in-process
loaders and one thread. The stand-ins (tests/recipes/standins.py) are the released files' names and JSON
structure with the datasets' own ids, over short clips of the sample corpus.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from videolang.extract.encoder import Encoder

from tests.bad_inputs.harness import run_folder, run_in_process
from tests.recipes import standins

pytestmark = pytest.mark.xdist_group("recipes_end_to_end")  # one worker: the clips and the zoo once

# what the runs change in a recipe: the zoo's tiny T5 (and a visual encoder it fits) for t5-base, tiny limits
TINY = ["model.backbone=${paths.model_dir}/tiny-t5", "model.visual_layers=2", "model.visual_heads=4",
        "trainer.max_epochs=1", "model.max_output_tokens=32"]
# headline metrics of the dense-captioning evaluator (both protocols), fractions in [0, 1]
METRICS = ("soda_c", "cider", "meteor", "bleu_4", "precision", "recall")


class Chain:
    """The five stages of one dataset in `root`: data, features and run folders of its own."""

    def __init__(self, root: Path, zoo: dict[str, Path], capfd, monkeypatch):
        self.root, self.capfd = root, capfd
        self.data, self.features = root / "data", root / "features"
        self.paths = [f"paths.data_dir={self.data}", f"paths.feature_dir={self.features}",
                      f"paths.model_dir={zoo['tiny-t5'].parent}", f"paths.log_dir={root / 'logs'}"]
        self.decoded: Counter = Counter()  # media path -> times decoded by stage=extract
        real = Encoder.stream

        def counted(encoder: Encoder, item):
            self.decoded[Path(item.path).name] += 1
            return real(encoder, item)

        monkeypatch.setattr(Encoder, "stream", counted)

    def stage(self, *args: str, code: int = 0) -> tuple[dict, Path]:
        outcome = run_in_process([*args, *self.paths], self.capfd)
        assert outcome.code == code, outcome.output[-4000:]
        folder = run_folder(outcome.output)
        return json.loads((folder / "summary.json").read_text()), folder

    def build(self, data: str, *overrides: str) -> dict:
        # no language detection: lingua's 75 models (VidChapters' setting) take longer to load than the rest
        summary, _ = self.stage("stage=build_dataset", f"data={data}", "stage.workers=1", "stage.language.detect=false",
                                *overrides)
        built = self.data / "built" / data.replace("_release", "")
        return json.loads((built / "report.json").read_text()) | {"summary": summary, "dir": built}

    def extract(self, built: Path) -> dict:
        """extractor=tiny from the built videos.parquet: tiny-CLIP frames only. The recipes then read no transcript
        (a silent video); the real Whisper-base transcript is tested where speech is the point (tests/extract,
        tests/zoo), and would cost ~2.5 s a clip here."""
        summary, _ = self.stage("stage=extract", "extractor=tiny", "~extractor.extractors.audio",
                                "~extractor.extractors.audio_mel", "~extractor.extractors.speech",
                                f"videos={built / 'videos.parquet'}",
                                "stage.num_workers=0", "stage.progress=false")
        return summary

    def train(self, experiment: str) -> tuple[dict, Path]:
        """The recipe as published, with the tiny zoo T5 (and a 2-layer visual encoder) and tiny limits: 1 epoch,
        32 output tokens (an untrained model decodes to the limit: 256 tokens x 4 beams would take most of the
        test's time), no loader workers, one thread."""
        return self.stage("stage=train", f"experiment={experiment}", *TINY, "stage.datamodule.num_workers=0",
                          "stage.torch_threads=1", "+trainer.enable_progress_bar=false")

    def test(self, ckpt: str, split: str, dataset: str) -> tuple[dict, Path]:
        return self.stage("stage=test", f"ckpt={ckpt}", f"split={split}", f"stage.dataset={dataset}",
                          "stage.datamodule.num_workers=0", "stage.torch_threads=1", "+trainer.enable_progress_bar=false")

    def evaluate(self, predictions: Path, *references: Path) -> dict:
        refs = str(references[0]) if len(references) == 1 else "[" + ",".join(map(str, references)) + "]"
        summary, _ = self.stage("stage=evaluate", "task=dense_captioning", f"predictions={predictions}",
                                f"references={refs}")
        return summary


@pytest.fixture
def chain(tmp_path, zoo, capfd, monkeypatch) -> Chain:
    return Chain(tmp_path, zoo, capfd, monkeypatch)


def check_metrics(scores: dict, where: str) -> None:
    """The headline metrics are there and are fractions."""
    for name in METRICS:
        value = scores.get(name)
        assert value is not None and math.isfinite(value) and 0.0 <= value <= 1.0, (where, name, value)


def check_caption_metrics(scores: dict) -> None:
    """Chapter captioning's COCO caption metrics are there and are fractions (CIDEr may pass 1)."""
    for name in ("bleu_4", "meteor", "rouge_l"):
        assert 0.0 <= scores[name] <= 1.0, (name, scores.get(name))
    assert math.isfinite(scores["cider"]) and scores["cider"] >= 0.0


def predictions_of(path: Path) -> dict[str, list]:
    data = json.loads(path.read_text())
    assert data["version"] == "VERSION 1.0"
    return data["results"]


def per_video(evaluated: dict, column: str) -> dict[str, float]:
    """One column of stage=evaluate's per_item.parquet, by video."""
    frame = pd.read_parquet(evaluated["files"]["per_item"])
    return dict(zip(frame["video_id"], frame[column]))


def dense(built: dict, split: str) -> dict:
    return json.loads((built["dir"] / "tasks" / f"dense_captioning_{split}.json").read_text())


def check_test_run(chain: Chain, train: dict, split: str, dataset: str, entries: set[str]) -> tuple[dict, Path]:
    """stage=test of the recipe's best checkpoint on `split`: both protocols' metrics, one prediction per entry."""
    _, folder = chain.test(train["best_checkpoint"], split, dataset)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["split"] == split and metrics["compat"]["items"] == len(entries)
    check_metrics(metrics["compat"], "test compat")
    check_metrics(metrics["corrected"], "test corrected")
    assert set(predictions_of(folder / f"predictions_{split}.json")) == entries
    return metrics, folder / f"predictions_{split}.json"


def check_test_and_evaluate(chain: Chain, train: dict, built: dict, split: str, dataset: str, entries: set[str]) -> None:
    """stage=test, then stage=evaluate of its predictions against the split's task file: the same scores."""
    metrics, predictions = check_test_run(chain, train, split, dataset, entries)
    scored = chain.evaluate(predictions, built["dir"] / "tasks" / f"dense_captioning_{split}.json")
    for protocol in ("compat", "corrected"):
        check_metrics(scored["metrics"][protocol], f"evaluate {protocol}")
        assert scored["metrics"][protocol]["soda_c"] == pytest.approx(metrics[protocol]["soda_c"])


def test_youcook2_recipe_end_to_end(chain, standin_clips):
    standins.write_youcook2(chain.data, standin_clips)
    built = chain.build("youcook2")
    assert built["splits"] == {"train": {"videos": 2, "chapters": 4}, "val": {"videos": 2, "chapters": 4}}
    extracted = chain.extract(built["dir"])
    assert (extracted["videos"], extracted["done"], extracted["failed"]) == (4, 4, 0)
    assert sorted(chain.decoded.values()) == [1, 1, 1, 1]

    train, run = chain.train("youcook2_dvc")
    assert train["epochs"] == 1 and train["data"]["items"] == {"train": 2, "val": 2}
    assert {"val/cider", "val/soda_c", "val/meteor"} <= set(train["val"]) and "test/soda_c" in train["test"]
    # the recipe has no test split: its test step scores val, as VidChapters' dvc.py does
    assert Path(train["test_files"]["predictions"]).name == "predictions_val.json"
    val = set(standins.YOUCOOK2["validation"])
    assert set(predictions_of(run / "predictions_val.json")) == val == set(dense(built, "val"))

    check_test_and_evaluate(chain, train, built, "val", "youcook2", val)


def test_vidchapters_recipe_end_to_end(chain, standin_clips):
    ids = standins.write_vidchapters(chain.data, standin_clips)
    built = chain.build("vidchapters_release")
    assert {s: v["videos"] for s, v in built["splits"].items()} == {"train": 2, "val": 1, "test": 1}
    assert {s: v["chapters"] for s, v in built["splits"].items()} == {"train": 6, "val": 3, "test": 3}
    extracted = chain.extract(built["dir"])
    assert (extracted["videos"], extracted["done"], extracted["failed"]) == (4, 4, 0)
    assert sorted(chain.decoded.values()) == [1, 1, 1, 1]

    train, run = chain.train("vidchapters_chapters")
    assert train["epochs"] == 1 and train["data"]["items"] == {"train": 2, "val": 1}
    assert Path(train["test_files"]["predictions"]).name == "predictions_test.json"
    check_test_and_evaluate(chain, train, built, "test", "vidchapters", set(ids["test"]))

    # VidChapters' two other recipes on the same build and features, scored by their train stage's test step:
    # titles (one item per chapter, its true boundaries) and grounding (one query per chapter title)
    titles, run = chain.train("vidchapters_titles")
    assert titles["data"]["items"] == {"train": 6, "val": 3}
    predicted = json.loads((run / "predictions_test.json").read_text())
    assert set(predicted) == {f"{v}#{k}" for v in ids["test"] for k in range(3)}
    check_caption_metrics({k.removeprefix("test/"): v for k, v in titles["test"].items()})

    grounding, run = chain.train("vidchapters_grounding")
    assert grounding["data"]["items"] == {"train": 6, "val": 3}
    rows = [json.loads(line) for line in (run / "predictions_test.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and {r["vid"] for r in rows} == set(ids["test"])
    assert all(1 <= len(r["pred_relevant_windows"]) <= 5 for r in rows)
    assert 0.0 <= grounding["test"]["test/r1_0.5"] <= 1.0 and 0.0 <= grounding["test"]["test/map"] <= 1.0


def test_activitynet_recipe_end_to_end_scores_val_1_and_val_2(chain, standin_clips):
    ids = standins.write_activitynet(chain.data, standin_clips)
    built = chain.build("activitynet")
    assert built["splits"] == {"train": {"videos": 2, "chapters": 4}, "val_1": {"videos": 2, "chapters": 4},
                               "val_2": {"videos": 2, "chapters": 6}}
    extracted = chain.extract(built["dir"])  # val_1 and val_2 list the same two videos: extracted once
    assert (extracted["videos"], extracted["done"], extracted["failed"]) == (4, 4, 0)
    assert sorted(chain.decoded.values()) == [1, 1, 1, 1]

    train, run = chain.train("activitynet_dvc")
    assert train["data"]["items"] == {"train": 2, "val": 2}
    assert Path(train["test_files"]["predictions"]).name == "predictions_val_1.json"
    val = set(ids["val"])
    _, predictions = check_test_run(chain, train, "val_1", "activitynet", val)
    tasks = built["dir"] / "tasks"
    one = chain.evaluate(predictions, tasks / "dense_captioning_val_1.json")
    both = chain.evaluate(predictions, tasks / "dense_captioning_val_1.json", tasks / "dense_captioning_val_2.json")
    for protocol in ("compat", "corrected"):
        check_metrics(both["metrics"][protocol], f"evaluate {protocol}")
    # each val video is scored against both annotation sets: its 2 val_1 events and its 3 val_2 events
    assert both["inputs"]["reference_files"] == 2
    assert per_video(one, "n_references") == {v: 2 for v in val}
    assert per_video(both, "n_references") == {v: 5 for v in val}
    assert per_video(both, "n_reference_files") == {v: 2 for v in val}


def test_vitt_recipe_end_to_end_each_video_decoded_once(chain, standin_clips):
    """ViTT's dev / test videos are annotated 2-3 times: entries `<k>_<YouTube id>` of one media file. Each media is
    decoded once, every entry reads its features and is decoded and scored against its own annotation, as
    VidChapters' preproc/vitt.py + dvc.py do."""
    vitt = standins.write_vitt(chain.data, standin_clips)
    raw = chain.data / "raw" / "vitt"
    built = chain.build("vitt", f"data.reader.id_mapping={raw / 'id_mapping.json'}")
    youtube = {vitt_id: yt for vitt_id, (_, _, yt) in vitt.items()}
    dev, test = {f"{k}_{youtube['Xq7Z']}" for k in range(2)}, {f"{k}_{youtube['Rb9k']}" for k in range(3)}
    assert set(dense(built, "train")) == {youtube["FmTp"], youtube["Gk3x"]}
    assert set(dense(built, "val")) == dev and set(dense(built, "test")) == test
    assert {s: v["videos"] for s, v in built["splits"].items()} == {"train": 2, "val": 2, "test": 3}
    assert built["rejected"] == {"more_than_max_annotations": 4}  # the 4-times annotated video, as the paper
    # no durations file in the release: each media file's own, the last tag ending there
    clip_end = {youtube[v]: d for v, (_, d) in zip(vitt, standin_clips)}
    assert all(e["duration"] == pytest.approx(clip_end[k[-11:]], abs=0.05) for k, e in dense(built, "test").items())

    extracted = chain.extract(built["dir"])
    assert (extracted["videos"], extracted["done"], extracted["failed"]) == (4, 4, 0)
    assert chain.decoded == Counter({f"{youtube[v]}.mp4": 1 for v in ("FmTp", "Gk3x", "Xq7Z", "Rb9k")})

    train, run = chain.train("vitt_dvc")
    # every entry kept, the dev / test ones reading their media's features
    assert train["data"]["items"] == {"train": 2, "val": 2} and train["data"]["shared_media"] == {"val": 2}
    assert set(predictions_of(run / "predictions_test.json")) == test
    metrics, predictions = check_test_run(chain, train, "test", "vitt", test)
    scored = chain.evaluate(predictions, built["dir"] / "tasks" / "dense_captioning_test.json")
    check_metrics(scored["metrics"]["corrected"], "evaluate")
    references = dense(built, "test")
    assert per_video(scored, "n_references") == {k: len(e["timestamps"]) for k, e in references.items()}
    assert len({len(e["timestamps"]) for e in references.values()}) == 2  # the annotators' sets differ
