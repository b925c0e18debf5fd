"""Object regions per frame: box formats, the source-to-frame transform, cleaning and filtering with counts,
the packed store format, given-box files and their errors, and the `regions` extractor end to end
(given boxes and the tiny DETR) through the Encoder and stage=extract."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import compose_config
from tests.extract.media import ffmpeg, make_video
from videolang.commonsense.regions import (
    FrameRegions, FrameTransform, clean_boxes, filter_detections, load_classes, nearest_row, pack_regions,
    read_box_file, to_xyxy, unpack_regions,
)
from videolang.core.errors import BadInputError, ConfigError
from videolang.extract import Encoder, VideoItem
from videolang.extract.regions import RegionExtractor, orphan_box_files
from videolang.media.decode import FrameChunk, FrameSampling, make_decoder
from videolang.media.probe import MediaInfo, probe
from videolang.run import EXIT_ITEMS_FAILED, run_stage
from videolang.store import FeatureStore
from videolang.zoo import build_zoo
from videolang.zoo.tiny import TINY_DETR_CLASSES

CLASSES = ["person", "knife", "cup"]


def write_jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """4 s, 320x240, no audio: decoded to 224x224 (scaled to 299x224, 37 px cut on each side)."""
    return make_video(tmp_path_factory.mktemp("regions_video") / "clip.mp4", seconds=4, size=(320, 240), audio=False)


@pytest.fixture(scope="module")
def tiny_detr(tmp_path_factory) -> Path:
    return build_zoo(tmp_path_factory.mktemp("regions_zoo"), only=["tiny-detr"])["tiny-detr"]


def boxes_extractor(boxes_dir: Path, **kw) -> RegionExtractor:
    return RegionExtractor(source="boxes", boxes_dir=str(boxes_dir), classes=CLASSES,
                           **{"score_threshold": None, "nms_iou": None, **kw})


# ----- box formats and the transform

def test_box_formats_convert_to_xyxy():
    xyxy = np.array([[10, 20, 50, 80], [0, 0, 1, 1]], np.float32)
    xywh = np.array([[10, 20, 40, 60], [0, 0, 1, 1]], np.float32)
    yxyx = xyxy[:, [1, 0, 3, 2]]
    np.testing.assert_array_equal(to_xyxy(xywh, "xywh"), xyxy)
    np.testing.assert_array_equal(to_xyxy(yxyx, "yxyx"), xyxy)
    np.testing.assert_array_equal(to_xyxy(xyxy, "xyxy"), xyxy)
    assert to_xyxy([], "xyxy").shape == (0, 4) and to_xyxy(xyxy, "xyxy").dtype == np.float32
    with pytest.raises(ConfigError, match="unknown box format 'cxcywh'"):
        to_xyxy(xyxy, "cxcywh")


def test_transform_maps_source_pixels_onto_the_224_crop():
    t = FrameTransform.from_sampling(320, 240, FrameSampling(size=224, crop=True))
    # shorter side 240 -> 224; 320 -> round(298.67) = 299 wide; crop cuts (299 - 224) // 2 = 37 px on the left
    assert t.frame_size == (224, 224) and (t.left, t.top) == (37, 0)
    expected = [[100 * 299 / 320 - 37, 50 * 224 / 240, 200 * 299 / 320 - 37, 150 * 224 / 240]]
    np.testing.assert_allclose(t.apply([[100, 50, 200, 150]]), expected, rtol=1e-6)
    np.testing.assert_allclose(t.apply([[0, 0, 320, 240]]), [[-37, 0, 262, 224]], atol=1e-4)
    portrait = FrameTransform.from_sampling(240, 480, FrameSampling(size=224))
    assert (portrait.left, portrait.top) == (0, 112) and portrait.frame_size == (224, 224)
    uncropped = FrameTransform.from_sampling(320, 240, FrameSampling(size=224, crop=False))
    assert uncropped.frame_size == (299, 224) and (uncropped.left, uncropped.top) == (0, 0)


def test_transformed_box_lands_on_the_drawn_pixels(tmp_path):
    """A red square drawn at known source pixels is where the transform says, in the decoder's own frames."""
    path = tmp_path / "square.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:size=320x240:rate=10", "-t", "2", "-vf",
           "drawbox=x=160:y=40:w=80:h=120:color=red:t=fill", "-c:v", "libx264", "-pix_fmt", "yuv444p",
           "-qp", "0", str(path))
    sampling = FrameSampling(fps=1.0, size=224, crop=True)
    info = probe(path)
    frame = next(iter(make_decoder("pyav", sampling=sampling).frames(info))).frames[0]
    red = (frame[:, :, 0] > 128) & (frame[:, :, 1] < 100)
    ys, xs = np.nonzero(red)
    box = FrameTransform.from_sampling(info.width, info.height, sampling).apply([[160, 40, 240, 160]])[0]
    np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], box, atol=1.5)


# ----- cleaning and filtering

def test_clean_clips_and_counts_and_drops_zero_area_and_non_finite():
    boxes = [[-10, 5, 50, 60],      # reaches left of the frame: clipped, kept
             [10, 10, 20, 20],      # fine
             [230, 10, 260, 40],    # wholly right of a 224 frame: nothing left -> zero_area
             [30, 30, 30, 50],      # zero width
             [40, 40, 20, 60],      # inverted
             [np.nan, 0, 5, 5]]     # not a number
    counts: dict[str, int] = {}
    b, lab, sc = clean_boxes(boxes, [0, 1, 2, 0, 1, 2], [0.9] * 6, 224, 224, counts)
    np.testing.assert_array_equal(b, [[0, 5, 50, 60], [10, 10, 20, 20]])
    assert lab.tolist() == [0, 1] and sc.dtype == np.float32 and b.dtype == np.float32
    assert counts == {"non_finite": 1, "clipped": 1, "zero_area": 3}


def test_filter_applies_score_threshold_nms_and_cap_with_counts():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60], [80, 80, 90, 90]], np.float32)
    scores = np.array([0.9, 0.8, 0.85, 0.5, 0.75], np.float32)
    labels = np.array([1, 1, 2, 1, 0])
    counts: dict[str, int] = {}
    b, s, lab = filter_detections(boxes, scores, labels, counts=counts)  # iPerceive: 0.7, NMS 0.3 per class, 100
    # 0.5 is below the threshold; box 1 overlaps box 0 (same class) and goes; box 2 (other class) stays
    assert s.tolist() == pytest.approx([0.9, 0.85, 0.75]) and lab.tolist() == [1, 2, 0]
    assert counts == {"below_score": 1, "nms": 1}
    _, s, lab = filter_detections(boxes, scores, labels, class_agnostic=True)
    assert lab.tolist() == [1, 0], "class-agnostic NMS also removes the other class's overlapping box"
    counts = {}
    _, s, _ = filter_detections(boxes, scores, labels, score_threshold=0.0, nms_iou=None, max_boxes=2, counts=counts)
    assert s.tolist() == pytest.approx([0.9, 0.85]) and counts == {"below_score": 0, "capped": 3}
    b, s, lab = filter_detections(np.zeros((0, 4)), [], [], counts=counts)
    assert b.shape == (0, 4) and len(s) == len(lab) == 0


# ----- the packed store format

def test_pack_unpack_round_trip_with_an_empty_frame():
    frames = [FrameRegions(0.0, [[1, 2, 3, 4], [5, 6, 7, 8]], [2, 0], [0.9, 0.8]),
              FrameRegions.empty(1.0),
              FrameRegions(2.0, [[10, 10, 20, 20]], [1], [1.0])]
    packed = pack_regions(frames)
    assert packed.shape == (3, 2, 6) and packed.dtype == np.float32
    assert packed[1, :, 5].tolist() == [-1, -1] and packed[2, 1, 5] == -1
    back = unpack_regions(packed, [0.0, 1.0, 2.0])
    assert [len(f) for f in back] == [2, 0, 1]
    for a, b in zip(frames, back, strict=True):
        assert a.time == b.time
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.scores, b.scores)
        assert b.labels.dtype == np.int64 and b.boxes.dtype == np.float32
    assert pack_regions([FrameRegions.empty(0.0)]).shape == (1, 1, 6), "K is at least 1"
    assert pack_regions([]).shape == (0, 1, 6)
    with pytest.raises(ValueError, match="timestamps"):
        unpack_regions(packed, [0.0, 1.0])


# ----- given-box files

def test_box_file_rows_are_read_in_their_format_and_sorted(tmp_path):
    path = write_jsonl(tmp_path / "v.boxes.jsonl", [
        {"time": 2.0, "boxes": [[10, 20, 30, 40]], "labels": ["cup"], "scores": [0.5]},
        {"time": 0.0, "boxes": [[10, 20, 30, 40], [0, 0, 5, 5]], "labels": ["person", 1]},
        "",
    ])
    rows = read_box_file(path, CLASSES, "xywh")
    assert [r.time for r in rows] == [0.0, 2.0] and [r.line for r in rows] == [2, 1]
    np.testing.assert_array_equal(rows[0].boxes, [[10, 20, 40, 60], [0, 0, 5, 5]])
    assert rows[0].labels.tolist() == [0, 1] and rows[0].scores.tolist() == [1.0, 1.0]
    assert rows[1].scores.tolist() == [0.5]
    as_json = tmp_path / "v.boxes.json"
    as_json.write_text(json.dumps({"frames": [{"time": 1.0, "boxes": [[1, 2, 3, 4]], "labels": ["knife"]}]}))
    assert read_box_file(as_json, CLASSES)[0].labels.tolist() == [1]
    as_json.write_text(json.dumps([{"time": 1.0, "boxes": [[2, 1, 4, 3]], "labels": ["knife"]}]))
    np.testing.assert_array_equal(read_box_file(as_json, CLASSES, "yxyx")[0].boxes, [[1, 2, 3, 4]])


def test_box_file_errors_name_the_file_and_line(tmp_path):
    good = {"time": 0.0, "boxes": [[0, 0, 1, 1]], "labels": ["cup"]}
    cases = {
        "unknown class 'spoon' in {path} line 2; known: person, knife, cup":
            [good, {"time": 1.0, "boxes": [[0, 0, 1, 1]], "labels": ["spoon"]}],
        "malformed JSON in {path} line 2": [good, '{"time": 1.0, "boxes": ['],
        "1 boxes but 2 labels in {path} line 1": [{"time": 0.0, "boxes": [[0, 0, 1, 1]], "labels": ["cup", "cup"]}],
        "box 0 must be 4 numbers (xyxy), got [0, 0, 1] in {path} line 1":
            [{"time": 0.0, "boxes": [[0, 0, 1]], "labels": ["cup"]}],
        "missing time in {path} line 1": [{"boxes": [], "labels": []}],
        "lines 1 and 2 both have time 0.0": [good, good],
    }
    for i, (message, rows) in enumerate(cases.items()):
        path = write_jsonl(tmp_path / f"case{i}.boxes.jsonl", rows)
        with pytest.raises(BadInputError) as err:
            read_box_file(path, CLASSES)
        assert message.format(path=path) in err.value.problem and err.value.path == str(path)
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([good, {"time": 3.0, "boxes": [[0, 0, 1, 1]], "labels": ["x"]}]))
    with pytest.raises(BadInputError, match=r"unknown class 'x' in .*rows.json row 2"):
        read_box_file(path, CLASSES)


def test_class_vocabularies_from_lists_and_files(tmp_path):
    path = tmp_path / "classes.json"
    path.write_text(json.dumps(CLASSES))
    assert load_classes(path) == load_classes(str(path)) == load_classes(CLASSES) == CLASSES
    path.write_text(json.dumps({"classes": CLASSES}))
    assert load_classes(path) == CLASSES
    with pytest.raises(ConfigError, match="repeats"):
        load_classes(["cup", "cup"])
    with pytest.raises(ConfigError, match="not found"):
        load_classes(tmp_path / "missing.json")


def test_nearest_row_within_tolerance():
    times = np.array([0.0, 1.1, 3.0])
    assert [nearest_row(times, t, 0.5) for t in (0.0, 1.0, 2.0, 3.0, 4.0)] == [0, 1, None, 2, None]
    assert nearest_row(np.array([]), 0.0, 0.5) is None


# ----- the extractor

def test_update_appends_one_region_per_frame_in_order(tmp_path):
    write_jsonl(tmp_path / "b" / "v.boxes.jsonl", [{"time": 1.0, "boxes": [[0, 0, 100, 100]], "labels": ["cup"]}])
    ext = boxes_extractor(tmp_path / "b")
    info = MediaInfo(path="v.mp4", size_bytes=1, has_video=True, has_audio=False, video_duration=5.0,
                     width=224, height=224)
    state = ext.begin(VideoItem("v", "v.mp4"), info)
    frames = torch.zeros((5, 224, 224, 3), dtype=torch.uint8)
    ext.update(state, FrameChunk(np.arange(3.0), frames[:3]))
    assert [r.time for r in state["regions"]] == [0.0, 1.0, 2.0]
    ext.update(state, FrameChunk(np.arange(3.0, 5.0), frames[3:]))
    assert [r.time for r in state["regions"]] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [len(r) for r in state["regions"]] == [0, 1, 0, 0, 0]
    assert all(isinstance(r, FrameRegions) for r in state["regions"])


def test_given_boxes_end_to_end_through_the_encoder(clip, tmp_path):
    rows = [{"time": 0.0, "boxes": [[0, 0, 320, 240], [100, 50, 100, 100]], "labels": ["person", "knife"]},  # xywh
            {"time": 1.1, "boxes": [[0, 0, 30, 30]], "labels": ["cup"], "scores": [0.4]},   # frame 1: inside the cut
            {"time": 3.0, "boxes": [], "labels": []},
            {"time": 9.0, "boxes": [[1, 1, 5, 5]], "labels": ["cup"]}]                      # after the video
    write_jsonl(tmp_path / "boxes" / "clip.boxes.jsonl", rows)
    ext = boxes_extractor(tmp_path / "boxes", box_format="xywh")
    assert "batch_size" not in ext.config and "autocast" not in ext.config, "runtime options stay unhashed"
    rec = Encoder({"regions": ext}).load("cpu").encode(clip)["regions"]

    assert rec.key == "regions" and rec.array.dtype == np.float32 and rec.array.shape == (4, 2, 6)
    assert rec.timestamps.tolist() == [0, 1, 2, 3] and rec.fps == 1.0
    frames = unpack_regions(rec.array, rec.timestamps)
    assert [len(f) for f in frames] == [2, 0, 0, 0]
    np.testing.assert_allclose(frames[0].boxes, [[0, 0, 224, 224],
                                                 [100 * 299 / 320 - 37, 50 * 224 / 240, 200 * 299 / 320 - 37, 140]],
                               rtol=1e-5)
    assert frames[0].labels.tolist() == [0, 1] and frames[0].scores.tolist() == [1.0, 1.0]
    meta = rec.meta
    assert meta["classes"] == CLASSES and meta["frame_size"] == [224, 224] and meta["source_size"] == [320, 240]
    assert meta["box_format"] == "xyxy" and meta["input_box_format"] == "xywh" and meta["source"] == "boxes"
    assert meta["duration"] == pytest.approx(4.0, abs=0.1)
    assert meta["box_file"] == str(tmp_path / "boxes" / "clip.boxes.jsonl")
    # the full-frame box is clipped by the crop; the 30x30 box at the left edge lies in the cut-off strip
    assert meta["counts"] == {"frames": 4, "boxes": 2, "frames_without_regions": 3, "non_finite": 0, "clipped": 1,
                              "zero_area": 1, "below_score": 0, "nms": 0, "capped": 0, "rows": 4,
                              "unmatched_rows": 1}
    json.dumps(meta)  # the sidecar must be able to hold it


def test_missing_box_file_is_a_per_video_failure(clip, tmp_path):
    (tmp_path / "boxes").mkdir()
    enc = Encoder({"regions": boxes_extractor(tmp_path / "boxes")}).load("cpu")
    result = enc.try_encode(VideoItem("clip", str(clip)))
    assert not result.records
    assert "no box file for video 'clip'" in result.failures["regions"]
    assert str(tmp_path / "boxes" / "clip.boxes.jsonl") in result.failures["regions"]
    write_jsonl(tmp_path / "boxes" / "clip.boxes.jsonl", [{"time": 0.0, "boxes": [[0, 0, 9, 9]], "labels": ["dog"]}])
    reason = enc.try_encode(VideoItem("clip", str(clip))).failures["regions"]
    assert "unknown class 'dog'" in reason and "clip.boxes.jsonl line 1" in reason


def test_detector_end_to_end_with_the_tiny_detr(clip, tiny_detr):
    ext = RegionExtractor(model=str(tiny_detr), batch_size=3)
    enc = Encoder({"regions": ext}).load("cpu")
    assert ext.classes == TINY_DETR_CLASSES, "class index = the model's label id, placeholders kept"
    rec = enc.encode(clip)["regions"]
    assert rec.array.dtype == np.float32 and rec.array.ndim == 3 and rec.array.shape[0] == 4
    assert rec.array.shape == (4, 1, 6)  # no region kept (below): K is at least 1
    assert rec.model == str(tiny_detr) and rec.meta["source"] == "detector"
    assert rec.meta["classes"] == TINY_DETR_CLASSES and rec.meta["frame_size"] == [224, 224]
    # the untrained tiny DETR scores every query about 0.12: at the default threshold (0.7) each of its 10 queries
    # of each frame is dropped and counted as below the score, and no frame keeps a region
    assert rec.meta["counts"] == {"frames": 4, "boxes": 0, "frames_without_regions": 4, "non_finite": 0,
                                  "clipped": 0, "zero_area": 0, "below_score": 4 * 10, "nms": 0, "capped": 0}
    assert [len(f) for f in unpack_regions(rec.array, rec.timestamps)] == [0] * 4

    # with no threshold and no NMS every query is a region, up to max_boxes
    ext = RegionExtractor(model=str(tiny_detr), score_threshold=0.0, nms_iou=None, max_boxes=7)
    rec = Encoder({"regions": ext}).load("cpu").encode(clip)["regions"]
    frames = unpack_regions(rec.array, rec.timestamps)
    assert rec.array.shape == (4, 7, 6) and [len(f) for f in frames] == [7] * 4
    assert rec.meta["counts"]["capped"] == 4 * (10 - 7)  # the tiny DETR has 10 queries
    assert rec.meta["counts"]["boxes"] == 4 * 7 and rec.meta["counts"]["below_score"] == 0
    assert all(0 < f.scores.min() < 0.7 for f in frames)  # what the default threshold dropped above
    for f in frames:
        assert ((f.boxes >= 0) & (f.boxes <= 224)).all()
        assert (f.boxes[:, 2] > f.boxes[:, 0]).all() and (f.boxes[:, 3] > f.boxes[:, 1]).all()
        assert ((f.labels >= 0) & (f.labels < len(TINY_DETR_CLASSES))).all()
        assert (np.diff(f.scores) <= 0).all(), "best first"


def test_orphan_box_files_are_listed(tmp_path):
    for name in ("a.boxes.jsonl", "b.boxes.json", "ghost.boxes.jsonl", "a.info.json", "notes.txt"):
        (tmp_path / name).write_text("[]")
    assert orphan_box_files(tmp_path, "{stem}.boxes.jsonl", ["a", "b"]) == [tmp_path / "ghost.boxes.jsonl"]
    assert orphan_box_files(tmp_path, "{stem}.boxes.jsonl", ["a"]) == [tmp_path / "b.boxes.json",
                                                                       tmp_path / "ghost.boxes.jsonl"]
    assert orphan_box_files(tmp_path / "missing", "{stem}.boxes.jsonl", []) == []
    ext = RegionExtractor(source="boxes", boxes_dir=str(tmp_path), classes=CLASSES)
    ext.key = "regions"
    assert ext.check_items([VideoItem("a", "a.mp4"), VideoItem("b", "b.mp4")]) == [
        f"regions: box file {tmp_path / 'ghost.boxes.jsonl'} has no video in this run"]
    assert RegionExtractor().check_items([]) == []


def test_stage_stores_regions_and_warns_about_orphan_box_files(clip, tmp_path, caplog):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "clip.mp4").symlink_to(clip)
    (videos / "nobox.mp4").symlink_to(clip)
    write_jsonl(tmp_path / "boxes" / "clip.boxes.jsonl",
                [{"time": 2.0, "boxes": [[100, 50, 200, 150]], "labels": ["knife"], "scores": [0.9]}])
    write_jsonl(tmp_path / "boxes" / "ghost.boxes.jsonl", [])
    (tmp_path / "object_classes.json").write_text(json.dumps(CLASSES))  # where regions_boxes looks
    cfg = compose_config([
        "stage=extract", f"videos={videos}", f"stage.store={tmp_path / 'store'}", "stage.progress=false",
        "stage.num_workers=1", *[f"~extractor.extractors.{k}" for k in ("visual", "audio", "audio_mel", "speech")],
        "+extractor@extractor.extractors.regions=regions_boxes", f"paths.sample_dir={tmp_path}",
        f"extractor.extractors.regions.boxes_dir={tmp_path / 'boxes'}",
    ], tmp_path)
    caplog.set_level("WARNING", logger="videolang")
    assert run_stage(cfg) == EXIT_ITEMS_FAILED  # one video done, one failed (no box file)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    ghost = f"regions: box file {tmp_path / 'boxes' / 'ghost.boxes.jsonl'} has no video in this run"
    assert summary["warnings"] == [ghost] and ghost in caplog.text
    assert summary["done"] == 1 and summary["failed"] == 1
    assert summary["failures"][0]["video_id"] == "nobox" and "no box file" in summary["failures"][0]["reason"]

    rec = FeatureStore(tmp_path / "store").read("clip", "regions")
    assert rec.array.shape == (4, 1, 6) and rec.array.dtype == np.float32 and rec.fps == 1.0
    frames = unpack_regions(rec.array, rec.timestamps)
    assert [len(f) for f in frames] == [0, 0, 1, 0] and frames[2].labels.tolist() == [1]
    assert rec.meta["classes"] == CLASSES and rec.meta["counts"]["frames_without_regions"] == 3


@pytest.mark.parametrize("option", ["regions_detr", "regions_tiny_detr", "regions_boxes"])
def test_region_configs_instantiate(option, tmp_path, tiny_detr):
    import hydra.utils

    (tmp_path / "object_classes.json").write_text(json.dumps(CLASSES))
    cfg = compose_config(["stage=extract", f"+extractor@extractor.extractors.regions={option}",
                          f"paths.sample_dir={tmp_path}", f"paths.model_dir={tiny_detr.parent}"], tmp_path)
    ext = hydra.utils.instantiate(cfg.extractor.extractors.regions)
    assert isinstance(ext, RegionExtractor) and ext.input == "frames"
    if option == "regions_boxes":
        assert ext.classes == CLASSES and ext.config["boxes_dir"] == str(tmp_path / "metadata")
    else:
        assert ext.config["score_threshold"] == 0.7 and ext.config["nms_iou"] == 0.3 and ext.config["max_boxes"] == 100
        assert ext.config["model"] == ("facebook/detr-resnet-50" if option == "regions_detr" else str(tiny_detr))


def test_bad_region_configs_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown regions source"):
        RegionExtractor(source="magic")
    with pytest.raises(ConfigError, match="needs boxes_dir"):
        RegionExtractor(source="boxes", classes=CLASSES)
    with pytest.raises(ConfigError, match="needs classes"):
        RegionExtractor(source="boxes", boxes_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="box_format"):
        RegionExtractor(source="boxes", boxes_dir=str(tmp_path), classes=CLASSES, box_format="cxcywh")
