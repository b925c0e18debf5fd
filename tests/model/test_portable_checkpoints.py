"""Portable checkpoints: train, move the run folder and the model folder, predict from the new places.

A checkpoint stores the local models it names (the T5 backbone, the extractors that made its training
features) relative to `paths.model_dir` (`model_dir:tiny-clip`) and resolves them against the current
`paths.model_dir`; old checkpoints with absolute paths still load (a moved one is found by name under
`paths.model_dir`); a model found nowhere is a one-paragraph error naming it and where it was looked for.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from videolang.core.errors import BadInputError
from videolang.core.io import atomic_write_json
from videolang.core.model_paths import (PREFIX, candidates, default_model_dir, portable, portable_tree, resolve,
                                        resolve_tree, search_dirs)
from videolang.run import EXIT_ERROR, EXIT_OK, run_stage

# one xdist worker builds this module's fixtures once
pytestmark = pytest.mark.xdist_group("portable_checkpoints")

MODELS = ("tiny-clip", "tiny-t5", "whisper-base-ct2")  # what extractor=tiny (minus audio) and the tiny T5 read


def _link_copy(src: Path, dst: Path) -> None:
    """A copy of a model folder (hard links where the file system allows: the Whisper model is 140 MB)."""
    def link(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
    shutil.copytree(src, dst, copy_function=link)


def _stage(overrides: list[str], out: Path) -> int:
    from tests.conftest import compose_config

    cfg = compose_config(overrides, out)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return run_stage(cfg)


def _chapters(out: Path, video: Path) -> dict:
    doc = json.loads((out / f"{video.stem}.chapters.json").read_text())
    return {k: doc[k] for k in ("duration", "chapters", "events", "notes")}


@contextlib.contextmanager
def recording():
    """What predict fed the model (frames, transcript) and the token ids it generated, in this process."""
    from videolang.backbone.vid2seq import Vid2Seq
    from videolang.predict.chapters import ChapterPredictor

    seen: dict = {}
    generate, predict_features = Vid2Seq.generate, ChapterPredictor.predict_features

    def recorded_generate(self, batch, **kwargs):
        out = generate(self, batch, **kwargs)
        seen["tokens"] = out.tolist()
        return out

    def recorded_features(self, feats, *args, **kwargs):
        seen["frames"] = np.array(feats.frames)
        seen["speech"] = [(s.start, s.end, s.text) for s in feats.speech]
        return predict_features(self, feats, *args, **kwargs)

    Vid2Seq.generate, ChapterPredictor.predict_features = recorded_generate, recorded_features
    try:
        yield seen
    finally:
        Vid2Seq.generate, ChapterPredictor.predict_features = generate, predict_features


def _same_run(seen: dict, before: dict) -> None:
    assert seen["tokens"] == before["tokens"] and len(seen["tokens"][0]) > 2
    assert np.array_equal(seen["frames"], before["frames"])  # the same CLIP made them
    assert seen["speech"] == before["speech"] and seen["speech"]  # the same Whisper heard the narration


def _stored(ckpt: Path) -> dict:
    c = torch.load(ckpt, map_location="cpu", weights_only=True)
    return {"hyper_parameters": dict(c["hyper_parameters"]), "features": c["videolang"]["features"],
            "model_dir_at_save": c["videolang"].get("model_dir_at_save")}


@pytest.fixture(scope="module")
def moved(sample_corpus, sample_manifest, zoo, tmp_path_factory):
    """A chapters model trained with its models in `models_a`, predicted once, then its run folder and its
    model folder moved elsewhere (the originals are gone) and the T5 backbone folder deleted."""
    from tests.model.helpers import extract_sample_videos

    root = tmp_path_factory.mktemp("portable")
    models_a = root / "models_a"
    for name in MODELS:
        _link_copy(zoo[name], models_a / name)
    videos = sample_manifest["videos"][:1]
    video = sample_corpus / videos[0]["files"]["video"]
    common = extract_sample_videos(sample_corpus, videos, models_a, root)
    dvc = {v["id"]: {"duration": float(v["duration"]), "timestamps": [[c["start"], c["end"]] for c in v["chapters"]],
                     "sentences": [c["title"] for c in v["chapters"]]} for v in videos}
    for split in ("train", "val", "test"):
        atomic_write_json(root / "data" / "built" / "sample" / "tasks" / f"dense_captioning_{split}.json", dvc)
    assert _stage(["stage=train", "experiment=sample_demo", *common, "trainer.max_epochs=2",
                   "trainer.check_val_every_n_epoch=2", "+trainer.limit_val_batches=1", "model.max_frames=8",
                   "model.generation.num_beams=1", "stage.test_after_fit=false",
                   "+trainer.enable_progress_bar=false"], root / "train") == EXIT_OK
    ckpt = root / "train" / "checkpoints" / "last.ckpt"
    before = root / "predict_before"
    with recording() as seen:
        assert _stage(["stage=predict", f"video={video}", f"ckpt={ckpt}", f"paths.model_dir={models_a}"],
                      before) == EXIT_OK
    from videolang.store import FeatureStore

    stored = FeatureStore(root / "features").read(videos[0]["id"], "visual").array
    assert np.array_equal(seen["frames"], np.asarray(stored, dtype=np.float32))  # predict = extract

    run_b, models_b = root / "elsewhere" / "runs" / "train", root / "new_disk" / "models_b"
    run_b.parent.mkdir(parents=True)
    models_b.parent.mkdir(parents=True)
    shutil.move(str(root / "train"), str(run_b))
    shutil.move(str(models_a), str(models_b))
    shutil.rmtree(models_b / "tiny-t5")  # the backbone's options and tokenizer are in the checkpoint
    assert not models_a.exists() and not (root / "train").exists()
    return {"root": root, "video": video, "ckpt": run_b / "checkpoints" / "last.ckpt", "models_a": models_a,
            "models_b": models_b, "before": _chapters(before, video), "seen": seen}


@pytest.mark.slow
def test_moved_run_and_model_folders_predict_the_same(moved, caplog):
    stored = _stored(moved["ckpt"])
    text = json.dumps(stored, default=str)
    assert str(moved["models_a"]) not in text.replace(json.dumps(stored["model_dir_at_save"]), "")
    assert stored["hyper_parameters"]["backbone"] == f"{PREFIX}tiny-t5"
    assert stored["features"]["visual"]["config"]["model"] == f"{PREFIX}tiny-clip"
    assert stored["features"]["speech"]["config"]["model"] == f"{PREFIX}whisper-base-ct2"

    out = moved["root"] / "predict_after"
    with caplog.at_level(logging.INFO), recording() as seen:
        assert _stage(["stage=predict", f"video={moved['video']}", f"ckpt={moved['ckpt']}",
                       f"paths.model_dir={moved['models_b']}"], out) == EXIT_OK
    assert _chapters(out, moved["video"]) == moved["before"]
    _same_run(seen, moved["seen"])
    assert "fingerprint" not in caplog.text  # the same extractors: only their folder moved
    assert "moved since training" in caplog.text


@pytest.mark.slow
def test_old_checkpoint_with_absolute_paths_still_loads(moved, tmp_path, caplog):
    """A checkpoint written before model paths were stored relative: absolute paths, no `model_dir_at_save`.
    One path still exists (used as it is); one points into the vanished folder (found by name under model_dir)."""
    from videolang.predict import ChapterPredictor

    c = torch.load(moved["ckpt"], map_location="cpu", weights_only=True)
    models_a, models_b = moved["models_a"], moved["models_b"]
    feats = c["videolang"]["features"]
    feats["visual"]["config"]["model"] = feats["visual"]["model"] = str(models_b / "tiny-clip")
    feats["speech"]["config"]["model"] = feats["speech"]["model"] = str(models_a / "whisper-base-ct2")
    c["hyper_parameters"]["backbone"] = str(models_a / "tiny-t5")
    del c["videolang"]["model_dir_at_save"]
    old = tmp_path / "old.ckpt"
    torch.save(c, old)

    with caplog.at_level(logging.INFO), recording() as seen:
        predictor = ChapterPredictor.from_checkpoint(old, device="cpu", model_dir=models_b)
        prediction = predictor.predict_video(moved["video"])
    assert predictor.module.hparams.backbone == str(models_a / "tiny-t5")  # not needed: kept as stored
    assert f"using {models_b / 'whisper-base-ct2'}" in caplog.text
    _same_run(seen, moved["seen"])
    assert prediction.chapters == moved["before"]["chapters"]
    assert [list(e) for e in prediction.events] == [[e["start"], e["end"], e["title"]]
                                                    for e in moved["before"]["events"]]


@pytest.mark.slow
def test_missing_model_is_one_paragraph_naming_it(moved, tmp_path, caplog):
    empty = tmp_path / "no_models"
    empty.mkdir()
    with caplog.at_level(logging.ERROR):
        assert _stage(["stage=predict", f"video={moved['video']}", f"ckpt={moved['ckpt']}",
                       f"paths.model_dir={empty}"], tmp_path / "run") == EXIT_ERROR
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    message = errors[0]
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"predict failed: {moved['ckpt']}: ")
    assert "the 'visual' extractor's model (tiny-clip) is not found" in message
    assert f"paths.model_dir={empty}" in message and str(empty / "tiny-clip") in message
    assert str(moved["models_a"] / "tiny-clip") in message  # and where it was when the checkpoint was saved
    assert "model_dir:tiny-clip" in message


# ---------------------------------------------------------------- the path rules (no training)
def test_paths_stored_relative_to_model_dir_or_as_given(tmp_path):
    md = tmp_path / "models"
    (md / "tiny-clip").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    assert portable(str(md / "tiny-clip"), md) == "model_dir:tiny-clip"
    assert portable(str(md / "sub" / "w.pt"), md) == "model_dir:sub/w.pt"  # under it, even if gone
    for hub in ("t5-base", "openai/clip-vit-large-patch14", "large-v3"):
        assert portable(hub, md) == hub
    assert portable(str(tmp_path / "elsewhere"), md) == str(tmp_path / "elsewhere")
    assert portable(str(md), md) == str(md)
    tree = {"model": str(md / "tiny-clip"), "classes": ["knife", "bowl"], "n": 3, "dtype": "float16"}
    assert portable_tree(tree, md) == {**tree, "model": "model_dir:tiny-clip"}


def test_paths_resolved_against_the_current_model_dir(tmp_path, caplog):
    md = tmp_path / "models"
    (md / "tiny-clip").mkdir(parents=True)
    assert resolve("model_dir:tiny-clip", md) == str(md / "tiny-clip")
    assert resolve("t5-base", md) == "t5-base"
    with caplog.at_level(logging.WARNING):
        assert resolve("/gone/models/tiny-clip", md) == str(md / "tiny-clip")  # an old absolute path, moved
    assert "/gone/models/tiny-clip does not exist" in caplog.text
    assert candidates("/a/b/c/d/e/x", md)[0] == md / "c" / "d" / "e" / "x"  # the longest suffix first
    # not found: required -> error naming it; otherwise kept as stored
    assert resolve("model_dir:tiny-t5", md, required=False) == "model_dir:tiny-t5"
    with pytest.raises(BadInputError) as err:
        resolve("model_dir:tiny-t5", md, what="the T5 backbone", source="x.ckpt")
    assert "the T5 backbone (tiny-t5) is not found" in str(err.value) and str(md / "tiny-t5") in str(err.value)
    # in a tree only model keys are required; other paths are joined for their reader to report
    tree = resolve_tree({"model": "model_dir:tiny-clip", "boxes_dir": "model_dir:boxes", "classes": ["knife"]}, md)
    assert tree == {"model": str(md / "tiny-clip"), "boxes_dir": str(md / "boxes"), "classes": ["knife"]}
    with pytest.raises(BadInputError):
        resolve_tree({"checkpoint": "/gone/runs/cs/best.ckpt"}, md, what="the 'commonsense' extractor's model")


def test_where_a_loaded_checkpoint_looks_for_its_models(tmp_path):
    saved, given = tmp_path / "saved", tmp_path / "given"
    # paths.model_dir first, then the folder it was saved with (a checkpoint that did not move loads as before)
    assert search_dirs(given, saved) == [str(given), str(saved)]
    assert search_dirs(given, None) == [str(given)]
    # from Python without model_dir: the saved folder while it exists, then the project's models/
    assert search_dirs(None, saved) == [str(default_model_dir())]
    saved.mkdir()
    assert search_dirs(None, saved) == [str(saved), str(default_model_dir())]
    (saved / "tiny-clip").mkdir()
    assert resolve("model_dir:tiny-clip", search_dirs(given, saved)) == str(saved / "tiny-clip")
    with pytest.raises(BadInputError) as err:
        resolve("model_dir:tiny-t5", search_dirs(given, saved), what="the T5 backbone")
    assert str(given / "tiny-t5") in str(err.value) and str(saved / "tiny-t5") in str(err.value)


def test_commonsense_checkpoint_stores_its_backbone_relative(zoo):
    from videolang.commonsense.module import CommonsenseModule

    md = zoo["tiny-clip"].parent
    module = CommonsenseModule(backbone={"type": "hf", "name": str(md / "tiny-backbone")}, classes=["a", "b"],
                               dim=8, model_dir=md)
    ckpt = {"hyper_parameters": dict(module.hparams)}
    module.on_save_checkpoint(ckpt)
    assert ckpt["hyper_parameters"]["backbone"]["name"] == "model_dir:tiny-backbone"
    assert module.hparams.backbone["name"] == str(md / "tiny-backbone")  # the live module keeps its path
    # and a `model_dir:` name in a config resolves against model_dir
    again = CommonsenseModule(backbone={"type": "hf", "name": "model_dir:tiny-backbone"}, classes=["a", "b"],
                              dim=8, model_dir=md)
    assert again.roi.backbone.out_channels == module.roi.backbone.out_channels
