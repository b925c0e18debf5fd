"""Fixtures for the model tests: the tiny zoo T5 and a synthetic built dataset + feature store on disk."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from videolang.datamodule.synthetic import synthetic_corpus
from videolang.core.io import atomic_write_json, atomic_write_jsonl
from videolang.store import FeatureRecord, FeatureStore

VISUAL_DIM = 16


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A folder holding the zoo's `tiny-t5` (built with the zoo's own code)."""
    from videolang.zoo import build_zoo

    out = tmp_path_factory.mktemp("models")
    build_zoo(out, only=["tiny-t5"])
    return out


@pytest.fixture(scope="session")
def tiny_t5(model_dir) -> Path:
    return model_dir / "tiny-t5"


def grounding_rows(anns: dict[str, dict]) -> list[dict]:
    """The builder's grounding layout from DVC annotations: one query (the event's title) per event."""
    return [{"qid": f"{v}#{i}", "query": t, "vid": v, "duration": a["duration"], "relevant_windows": [list(w)]}
            for v, a in anns.items() for i, (w, t) in enumerate(zip(a["timestamps"], a["sentences"]))]


def videoqa_rows(anns: dict[str, dict]) -> list[dict]:
    """Multiple-choice questions on the synthetic videos: which topic a chapter (its `ts`) is about, with
    the other topics as distractors; the answer's position rotates over the five slots."""
    from videolang.datamodule.synthetic import TOPICS

    rows, k = [], 0
    for v, a in sorted(anns.items()):
        for i, ((s, e), topic) in enumerate(zip(a["timestamps"], a["sentences"])):
            others = [t for t in TOPICS if t != topic]
            distractors = [others[(k + j * 3) % len(others)] for j in range(4)]
            pos = k % 5
            answers = distractors[:pos] + [topic] + distractors[pos:]
            rows.append({"qid": f"{v}_q{i}", "vid": v, "question": "Which topic is this part about?",
                         "answers": answers, "answer_idx": pos, "ts": f"{s}-{e}", "duration": a["duration"],
                         "category": "first" if i == 0 else "later"})
            k += 1
    return rows


def write_synthetic_dataset(data_dir: Path, feature_dir: Path, name: str = "synthetic", num_videos: int = 12,
                            seed: int = 0, silent_ids: tuple[str, ...] = ()) -> dict[str, dict]:
    """Task files `built/<name>/tasks/dense_captioning_{train,val,test}.json`, `grounding_<split>.jsonl`
    (one query per event: its title, the builder's layout), `videoqa_<split>.jsonl` and a feature store."""
    anns, feats = synthetic_corpus(num_videos, VISUAL_DIM, seed=seed)
    vids = sorted(anns)
    n_val = max(2, num_videos // 6)
    splits = {"train": vids[: -2 * n_val], "val": vids[-2 * n_val:-n_val], "test": vids[-n_val:]}
    tasks = data_dir / "built" / name / "tasks"
    for split, ids in splits.items():
        atomic_write_json(tasks / f"dense_captioning_{split}.json", {v: anns[v] for v in ids})
        atomic_write_jsonl(tasks / f"grounding_{split}.jsonl", grounding_rows({v: anns[v] for v in ids}))
        atomic_write_jsonl(tasks / f"videoqa_{split}.jsonl", videoqa_rows({v: anns[v] for v in ids}))
        atomic_write_jsonl(tasks / f"pretrain_{split}.jsonl", [{"vid": v, "duration": anns[v]["duration"]}
                                                               for v in ids])
    store = FeatureStore(feature_dir)
    for vid in vids:
        f = feats.get(vid)
        store.write(vid, FeatureRecord("visual", f.frames.astype(np.float16), f.timestamps, 1.0, "synthetic", "fp0",
                                       meta={"duration": f.duration}))
        speech = [] if vid in silent_ids else f.speech
        segs = {"text": [s.text for s in speech], "start": [s.start for s in speech],
                "end": [s.end for s in speech], "words": [], "language": "en"}
        store.write(vid, FeatureRecord("speech", None, [s.start for s in speech], None, "synthetic", "fp1",
                                       segments=segs))
    return {s: {v: anns[v] for v in ids} for s, ids in splits.items()}


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    splits = write_synthetic_dataset(root / "data", root / "features", silent_ids=("syn0000",))
    return {"data_dir": root / "data", "feature_dir": root / "features", "splits": splits}


@pytest.fixture
def train_cfg(make_cfg, model_dir, synthetic_dataset):
    """Compose `stage=train` on the tiny T5 and the synthetic dataset, plus extra overrides."""

    def _make(*overrides: str):
        return make_cfg("stage=train", "model=vid2seq_tiny", "trainer=cpu", "stage.dataset=synthetic",
                        f"paths.model_dir={model_dir}", f"paths.data_dir={synthetic_dataset['data_dir']}",
                        f"paths.feature_dir={synthetic_dataset['feature_dir']}",
                        "stage.datamodule.num_workers=0", "stage.torch_threads=1", "stage.datamodule.batch_size=4",
                        "model.generation.num_beams=2", "model.max_input_tokens=128",
                        "model.max_output_tokens=48", "+trainer.num_sanity_val_steps=0",
                        "+trainer.enable_progress_bar=false", *overrides)

    return _make


# Trained checkpoints, once per test session even where another test module imports the fixture
# (tests/bad_inputs/test_model_inputs.py does: pytest then holds a second definition of it, whose
# first call finds the first one's result here).
_SESSION_RESULTS: dict[tuple[str, str], dict] = {}


def _session_once(name: str, tmp_path_factory, make):
    key = (name, str(tmp_path_factory.getbasetemp()))
    if key not in _SESSION_RESULTS:
        _SESSION_RESULTS[key] = make()
    return _SESSION_RESULTS[key]


@pytest.fixture(scope="session")
def grounding_ckpt(sample_corpus, sample_manifest, zoo, tmp_path_factory):
    return _session_once("grounding_ckpt", tmp_path_factory,
                         lambda: _train_grounding(sample_corpus, sample_manifest, zoo, tmp_path_factory))


def _train_grounding(sample_corpus, sample_manifest, zoo, tmp_path_factory):
    """A grounding head trained (briefly) on two sample videos extracted with extractor=tiny.

    Shared by tests/model/test_predict_grounding.py and test_grounding_notebook.py (trained once per session):
    `ckpt`, `model_dir`, `videos` (their manifest entries), `references` (grounding_test.jsonl).
    """
    from omegaconf import open_dict

    from tests.conftest import compose_config
    from tests.model.helpers import extract_sample_videos
    from videolang.run import EXIT_OK, run_stage

    root = tmp_path_factory.mktemp("predict_grounding")
    model_dir = zoo["tiny-t5"].parent
    videos = sample_manifest["videos"][:2]
    common = extract_sample_videos(sample_corpus, videos, model_dir, root)
    rows = [{"qid": f"{v['id']}#{k}", "query": c["title"], "vid": v["id"], "duration": float(v["duration"]),
             "relevant_windows": [[c["start"], c["end"]]]} for v in videos for k, c in enumerate(v["chapters"])]
    dvc = {v["id"]: {"duration": float(v["duration"]), "timestamps": [[c["start"], c["end"]] for c in v["chapters"]],
                     "sentences": [c["title"] for c in v["chapters"]]} for v in videos}
    tasks = root / "data" / "built" / "sample" / "tasks"
    for split in ("train", "val", "test"):
        atomic_write_jsonl(tasks / f"grounding_{split}.jsonl", rows)
        atomic_write_json(tasks / f"dense_captioning_{split}.json", dvc)
    cfg = compose_config(["stage=train", "experiment=sample_grounding", *common, "trainer.max_epochs=1",
                          "trainer.check_val_every_n_epoch=1", "+trainer.limit_val_batches=1",
                          "model.max_frames=8", "task.head.num_beams=4", "task.head.num_windows=3",
                          "stage.test_after_fit=false", "+trainer.enable_progress_bar=false"], root / "train")
    with open_dict(cfg):
        cfg.paths.output_dir = str(root / "train")
    assert run_stage(cfg) == EXIT_OK
    return {"ckpt": root / "train" / "checkpoints" / "last.ckpt", "model_dir": model_dir, "videos": videos,
            "references": tasks / "grounding_test.jsonl"}


def manifest_questions(videos: list[dict]) -> list[dict]:
    """VideoQA rows on sample videos from their manifest entries: which chapter a `ts` span is (its title among
    the video's titles, padded with other videos'), so a raw video's prediction can be checked against truth."""
    pool = [c["title"] for v in videos for c in v["chapters"]]
    rows = []
    for v in videos:
        for k, c in enumerate(v["chapters"]):
            others = [t for t in dict.fromkeys(pool) if t != c["title"]][:4]
            pos = k % (len(others) + 1)
            rows.append({"qid": f"{v['id']}_q{k}", "vid": v["id"], "question": "Which part of the video is this?",
                         "answers": others[:pos] + [c["title"]] + others[pos:], "answer_idx": pos,
                         "ts": f"{c['start']}-{c['end']}", "duration": float(v["duration"]),
                         "category": c["kind"]})
    return rows


@pytest.fixture(scope="session")
def videoqa_ckpt(sample_corpus, sample_manifest, zoo, tmp_path_factory):
    return _session_once("videoqa_ckpt", tmp_path_factory,
                         lambda: _train_videoqa(sample_corpus, sample_manifest, zoo, tmp_path_factory))


def _train_videoqa(sample_corpus, sample_manifest, zoo, tmp_path_factory):
    """A VideoQA head trained (briefly) on two sample videos extracted with extractor=tiny.

    Shared by tests/model/test_predict_videoqa.py and the VideoQA notebook test (trained once per session):
    `ckpt`, `model_dir`, `videos` (their manifest entries), `rows` / `references` (videoqa_test.jsonl).
    """
    from omegaconf import open_dict

    from tests.conftest import compose_config
    from tests.model.helpers import extract_sample_videos
    from videolang.run import EXIT_OK, run_stage

    root = tmp_path_factory.mktemp("predict_videoqa")
    model_dir = zoo["tiny-t5"].parent
    videos = sample_manifest["videos"][:2]
    common = extract_sample_videos(sample_corpus, videos, model_dir, root)
    rows = manifest_questions(videos)
    tasks = root / "data" / "built" / "sample" / "tasks"
    for split in ("train", "val", "test"):
        atomic_write_jsonl(tasks / f"videoqa_{split}.jsonl", rows)
    cfg = compose_config(["stage=train", "experiment=sample_videoqa", *common, "trainer.max_epochs=8",
                          "trainer.check_val_every_n_epoch=8", "model.max_frames=8",
                          "stage.test_after_fit=false", "+trainer.enable_progress_bar=false"], root / "train")
    with open_dict(cfg):
        cfg.paths.output_dir = str(root / "train")
    assert run_stage(cfg) == EXIT_OK
    return {"ckpt": root / "train" / "checkpoints" / "last.ckpt", "model_dir": model_dir, "videos": videos,
            "rows": rows, "references": tasks / "videoqa_test.jsonl"}
