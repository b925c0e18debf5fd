"""stage=predict and the predictors on a frame folder (a video dumped as numbered PNGs at a stated rate): the
folder goes through extract's own Encoder (its features equal stage=extract's for the same folder, and the
video's own), chapters and windows come out (answers: tests/test_tvqa_recipe.py), its rate comes from the
call, the config or the checkpoint's record, and a folder without any rate is a usage error naming the
folder and the option.

Frame folders are never taken from the encoding cache (it keys files): these tests are about encoding them."""
from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from videolang.core.errors import ConfigError
from videolang.run import EXIT_ERROR, EXIT_OK, EXIT_USAGE, run_stage
from videolang.store import FeatureStore

from tests.bad_inputs.harness import run_in_process
from tests.extract.conftest import NO_SPEECH, extract_overrides

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("encoding_cache")]  # media files only: folders are encoded
FPS = 3  # TVQA's frames_hq rate


def dump_frames(video: Path, folder: Path, fps: float) -> int:
    """`video`'s frames as `00001.png ...` at `fps`: image k is the frame on screen at (k - 1) / fps (lossless)."""
    with av.open(str(video)) as container:
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    times = np.asarray([t for t, _ in frames])
    folder.mkdir(parents=True)
    count = int(np.floor(times[-1] * fps + 1e-6)) + 1
    for k in range(count):
        on_screen = int(np.searchsorted(times, k / fps + 1e-6, side="right")) - 1
        Image.fromarray(frames[on_screen][1]).save(folder / f"{k + 1:05d}.png")
    return count


@pytest.fixture(scope="module")
def frame_dump(trained_on_sample, sample_corpus, tmp_path_factory) -> dict:
    """The first training video of the sample checkpoints as a 3 fps PNG folder named by its id."""
    video = trained_on_sample["videos"][0]
    folder = tmp_path_factory.mktemp("frames_hq") / video["id"]
    count = dump_frames(sample_corpus / video["files"]["video"], folder, FPS)
    return {"folder": folder, "count": count, "video": video}


def _predict(make_cfg, trained, video: Path, *extra: str):
    cfg = make_cfg("stage=predict", f"video={video}", f"ckpt={trained['ckpt']}",
                   f"paths.model_dir={trained['model_dir']}", "stage.device=cpu", *extra)
    return run_stage(cfg), Path(cfg.paths.output_dir)


def test_a_frame_folder_encodes_as_stage_extract_does(trained_on_sample, sample_features, frame_dump, zoo, tmp_path,
                                                       capfd):
    from videolang.predict import ChapterPredictor

    folder = frame_dump["folder"]
    store = tmp_path / "store"
    args = extract_overrides(zoo, store, folder, NO_SPEECH, "~extractor.extractors.audio",
                             "~extractor.extractors.audio_mel", f"extractor.frames.fps={FPS}", "stage.num_workers=0",
                             f"paths.log_dir={tmp_path / 'logs'}")
    outcome = run_in_process(args, capfd)
    assert outcome.code == 0, outcome.output[-3000:]
    extracted = FeatureStore(store).read(folder.name, "visual")
    (described,) = [json.loads(p.read_text()) for p in (store / "visual").glob("*/extractor.json")]
    assert described["frames"] == {"fps": FPS, "extensions": ["jpg", "jpeg", "png"]}  # what training will record

    predictor = ChapterPredictor.from_checkpoint(trained_on_sample["ckpt"], device="cpu",
                                                 model_dir=trained_on_sample["model_dir"])
    assert predictor.encoder.fingerprints["visual"] == extracted.fingerprint  # the checkpoint's extractor, rebuilt
    with pytest.raises(ConfigError, match="no frame rate is stated") as err:  # the checkpoint recorded none
        predictor.encode_video(folder)
    assert str(folder) in str(err.value) and "frames_fps=" in str(err.value)
    feats, notes = predictor.encode_video(folder, frames_fps=FPS)
    duration = frame_dump["count"] / FPS
    assert feats.duration == pytest.approx(duration)
    assert feats.timestamps.tolist() == extracted.timestamps.tolist() == list(range(int(np.ceil(duration))))
    np.testing.assert_allclose(feats.frames, np.asarray(extracted.array, np.float32), rtol=2e-3, atol=5e-3)
    assert "no speech in this video: no audio stream" in notes  # a folder has no audio: frames alone
    # the PNG dump of a training video encodes as the video itself did (same images at the same times)
    video = FeatureStore(sample_features["feature_dir"]).read(frame_dump["video"]["id"], "visual")
    n = min(len(video.array), len(feats.frames))
    a, b = np.asarray(video.array[:n], np.float32), feats.frames[:n]
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert n >= len(video.array) - 1 and cosine.min() > 0.999, cosine.min()


@pytest.fixture(scope="module")
def recorded_rate(trained_on_sample, tmp_path_factory) -> dict:
    """The chapters checkpoint as if its training features were extracted from 3 fps frame folders: the store's
    extractor.json `frames` (stage=extract writes it, test above), kept in the checkpoint's feature descriptions."""
    ckpt = torch.load(trained_on_sample["ckpt"], map_location="cpu", weights_only=True)
    ckpt["videolang"]["features"]["visual"]["frames"] = {"fps": FPS, "extensions": ["png"]}
    path = tmp_path_factory.mktemp("recorded") / "recorded.ckpt"
    torch.save(ckpt, path)
    return {**trained_on_sample, "ckpt": path}


def test_stage_predict_on_a_frame_folder_chapters_and_windows(make_cfg, recorded_rate, grounding_ckpt, frame_dump):
    """(VideoQA on frame folders, with the rate its training extraction recorded: tests/test_tvqa_recipe.py.)"""
    from videolang.predict import GroundingPredictor

    folder, duration = frame_dump["folder"], frame_dump["count"] / FPS
    # chapters: no rate given, the checkpoint's recorded one is used
    code, out = _predict(make_cfg, recorded_rate, folder)
    assert code == EXIT_OK
    doc = json.loads((out / f"{folder.name}.chapters.json").read_text())  # named by the folder
    chapters = doc["chapters"]
    assert doc["duration"] == pytest.approx(duration) and chapters, doc
    assert chapters[0]["start"] == 0.0 and chapters[-1]["end"] == pytest.approx(duration)
    assert all(a["end"] == b["start"] > a["start"] for a, b in zip(chapters, chapters[1:]))
    assert (out / f"{folder.name}.youtube.txt").read_text().startswith("0:00 ")
    assert any("no audio stream" in n for n in json.loads((out / "summary.json").read_text())["notes"])

    # grounding through the API: the call's rate, windows inside the folder's duration
    predictor = GroundingPredictor.from_checkpoint(grounding_ckpt["ckpt"], device="cpu",
                                                   model_dir=grounding_ckpt["model_dir"])
    title = frame_dump["video"]["chapters"][0]["title"]
    result = predictor.predict_video(folder, [title], frames_fps=FPS)
    assert result.duration == pytest.approx(duration) and result.moment_detr_rows()[0]["vid"] == folder.name
    windows = result.queries[0]["windows"]
    assert windows and all(0 <= s < e <= duration + 1e-6 for s, e, _ in windows), windows


def test_a_folder_without_a_rate_or_frames_is_refused_before_loading(make_cfg, trained_on_sample, frame_dump,
                                                                     tmp_path, caplog):
    folder = frame_dump["folder"]
    # no rate anywhere (the option, extractor.frames.fps, the checkpoint): a usage error naming folder and option
    assert _predict(make_cfg, trained_on_sample, folder)[0] == EXIT_USAGE
    assert f"{folder}: a frame folder, and no frame rate is stated" in caplog.text and "frames_fps=" in caplog.text
    assert _predict(make_cfg, trained_on_sample, folder, "frames_fps=-3")[0] == EXIT_USAGE
    assert "frames_fps=-3 must be a number > 0" in caplog.text
    empty = tmp_path / "empty_clip"
    empty.mkdir()
    assert _predict(make_cfg, trained_on_sample, empty, f"frames_fps={FPS}")[0] == EXIT_ERROR
    assert f"{empty}: is a folder, not a media file, and holds no frames" in caplog.text


def test_batch_predict_lists_frame_folders(make_cfg, trained_on_sample, frame_dump, tmp_path, caplog):
    from omegaconf import open_dict

    folder = frame_dump["folder"]
    listing = tmp_path / "videos.txt"
    listing.write_text(f"{folder}\n")

    def batch(run: str, *extra: str):
        cfg = make_cfg("stage=predict", f"videos={listing}", f"ckpt={trained_on_sample['ckpt']}",
                       f"paths.model_dir={trained_on_sample['model_dir']}", f"stage.out_dir={tmp_path / 'out'}",
                       "stage.device=cpu", "stage.progress=false", *extra)
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / run)
        return run_stage(cfg), tmp_path / run

    code, _ = batch("no_rate")
    assert code == EXIT_USAGE and f"{folder}: a frame folder, and no frame rate is stated" in caplog.text
    code, run = batch("first", f"extractor.frames.fps={FPS}")  # frames_fps's default
    assert code == EXIT_OK
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["done"], summary["failed"], summary["frames_only"]) == (1, 0, 1)
    assert summary["settings"]["frames_fps"] == FPS
    doc = json.loads((tmp_path / "out" / f"{folder.name}.chapters.json").read_text())
    assert doc["duration"] == pytest.approx(frame_dump["count"] / FPS) and doc["chapters"]
    code, run = batch("again", f"frames_fps={FPS}")  # done: skipped without loading the model
    assert code == EXIT_OK and json.loads((run / "summary.json").read_text())["skipped"] == 1
