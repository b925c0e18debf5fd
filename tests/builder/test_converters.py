"""Converters on small files in the true published formats (and the real YouCook2 sample)."""
from __future__ import annotations

import json

import pytest

from tests.builder.conftest import DATA, SHARED_YOUCOOK2, read_table
from videolang.builder.converters.tvqa import parse_ts
from videolang.builder.converters.youcook2 import YouCook2
from videolang.builder.srt import parse_srt
from videolang.core.errors import ConfigError


def _dense(out, split):
    return json.loads((out / "tasks" / f"dense_captioning_{split}.json").read_text())


@pytest.mark.skipif(not SHARED_YOUCOOK2.exists(), reason="shared/data/youcook2_val_sample.json not present")
def test_youcook2_pdvc_file_round_trips(build):
    summary, out, code = build("data=youcook2", f"data.reader.path={SHARED_YOUCOOK2}")
    assert code == 0, summary
    source = json.loads(SHARED_YOUCOOK2.read_text())
    dense = _dense(out, "val")
    assert set(dense) == {k[2:] for k in source}  # the v_ prefix is dropped
    for key, entry in source.items():
        got = dense[key[2:]]
        assert got["duration"] == entry["duration"]
        assert got["timestamps"] == [[float(s), float(e)] for s, e in entry["timestamps"]]
        assert got["sentences"] == entry["sentences"]
    grounding = (out / "tasks" / "grounding_val.jsonl").read_text().splitlines()
    assert len(grounding) == sum(len(e["sentences"]) for e in source.values())
    assert not (out / "tasks" / "dense_captioning_train.json").exists()  # splits come from the source


def test_youcook2_original_annotations_match_the_pdvc_layout(build):
    _, out, code = build("data=youcook2", f"data.reader.path={DATA / 'youcookii_annotations_trainval.json'}")
    assert code == 0
    train, val = _dense(out, "train"), _dense(out, "val")
    assert list(train) == ["GLd3aX16zBg"]
    assert train["GLd3aX16zBg"]["timestamps"][0] == [90.0, 102.0]
    assert train["GLd3aX16zBg"]["sentences"][0] == "spread margarine on two slices of white bread"
    if SHARED_YOUCOOK2.exists():
        pdvc = json.loads(SHARED_YOUCOOK2.read_text())
        for vid, entry in val.items():
            ref = pdvc["v_" + vid]
            assert entry["sentences"] == ref["sentences"] and entry["duration"] == ref["duration"]
    videos = read_table(out / "videos.parquet")
    assert {v["split"] for v in videos} == {"train", "val"}


def test_youcook2_dvc_file_needs_a_split(tmp_path):
    f = tmp_path / "annotations.json"
    f.write_text(json.dumps({"v_abc": {"duration": 10, "timestamps": [[0, 5]], "sentences": ["x"]}}))
    with pytest.raises(ConfigError, match="split"):
        YouCook2(str(f)).records()
    records, failures = YouCook2(str(f), split="test").records()
    assert records[0].video_id == "abc" and records[0].split == "test" and not failures


def test_activitynet_val_1_and_val_2_stay_separate_reference_sets(build):
    folder = DATA / "activitynet"
    _, out, code = build("data=activitynet", *(f"data.reader.files.{s}={folder / (s + '.json')}"
                                               for s in ("train", "val_1", "val_2")))
    assert code == 0
    v1, v2 = _dense(out, "val_1"), _dense(out, "val_2")
    assert set(v1) == set(v2) == {"v_uqiMw7tQ1Cc", "v_bXdq2zI1Ms0"}
    assert v1["v_uqiMw7tQ1Cc"]["sentences"] != v2["v_uqiMw7tQ1Cc"]["sentences"]
    # published annotations are kept as they are: a window past the duration stays, sentences keep their spaces
    assert v2["v_bXdq2zI1Ms0"]["timestamps"][-1] == [40.12, 74.0]
    assert _dense(out, "train")["v_QOlSCBRmfWY"]["sentences"][1].startswith("The girl")


def test_vitt_tags_become_segments_in_seconds(build):
    folder = DATA / "vitt"
    _, out, code = build("data=vitt", f"data.reader.annotations={folder / 'ViTT-annotations.json'}",
                         f"data.reader.split_ids.train={folder / 'train_id.txt'}",
                         f"data.reader.split_ids.val={folder / 'dev_id.txt'}",
                         f"data.reader.split_ids.test={folder / 'test_id.txt'}",
                         f"data.reader.durations={folder / 'durations.json'}")
    assert code == 0
    train, val = _dense(out, "train"), _dense(out, "val")
    assert train["FmTp"]["timestamps"] == [[0.26, 16.0], [16.0, 23.99], [23.99, 55.53], [55.53, 114.1], [114.1, 130.5]]
    assert train["FmTp"]["sentences"][0] == "Opening"
    assert set(val) == {"0_Ab12", "1_Ab12"}  # twice annotated: two entries, one media file
    videos = {v["video_id"]: v for v in read_table(out / "videos.parquet")}
    assert videos["1_Ab12"]["media_id"] == "Ab12" and videos["1_Ab12"]["file_stem"] == "Ab12"
    report = json.loads((out / "report.json").read_text())
    assert report["rejected"] == {"missing_duration": 1, "more_than_max_annotations": 4}


def test_tvqa_questions_and_subtitles(build):
    folder = DATA / "tvqa"
    summary, out, code = build("data=tvqa", f"data.reader.files.train={folder / 'tvqa_train.jsonl'}",
                               f"data.reader.files.val={folder / 'tvqa_val.jsonl'}",
                               f"data.reader.files.test={folder / 'tvqa_test_public.jsonl'}",
                               f"data.reader.subtitles_dir={folder / 'tvqa_subtitles'}")
    assert code == 3  # one clip has no subtitle file: recorded, the rest is built
    assert summary["failed"] == 1
    rows = [json.loads(x) for x in (out / "tasks" / "videoqa_train.jsonl").read_text().splitlines()]
    assert [r["qid"] for r in rows] == [7, 8, 9]
    assert rows[0]["answers"][4] == "A beer bottle" and rows[0]["answer_idx"] == 4 and rows[0]["ts"] == [1.21, 8.49]
    assert rows[1]["ts"] is None  # "NaN-NaN"
    test = [json.loads(x) for x in (out / "tasks" / "videoqa_test.jsonl").read_text().splitlines()]
    assert test[0]["answer_idx"] is None
    subs = read_table(out / "subtitles.parquet")
    clip = [s for s in subs if s["video_id"] == "met_s06e22_seg01_clip_02"]
    assert [s["text"] for s in clip] == ["(Robin:) So, Zoey...", "(Ted:) What about her?"]
    videos = {v["video_id"]: v for v in read_table(out / "videos.parquet")}
    assert videos["met_s06e22_seg01_clip_02"]["duration"] == pytest.approx(62.9)
    assert not (out / "tasks" / "dense_captioning_train.json").exists()


def test_tvqa_clip_duration_from_its_frame_folder(build, tmp_path):
    """A clip whose frame folder is found lasts its frame periods / frames_fps (last number - first + 1: a gap
    holds a frame); a durations file wins; clips without a folder keep the subtitle / ts estimate."""
    from PIL import Image

    folder = DATA / "tvqa"
    frames = tmp_path / "frames_hq" / "castle_frames" / "castle_s01e01_seg01_clip_00"
    frames.mkdir(parents=True)
    for n in (4, 5, 100, 213):  # 210 frame periods at 3 fps: 70 s
        Image.new("RGB", (8, 6)).save(frames / f"{n:05d}.jpg")
    reader = [f"data.reader.files.train={folder / 'tvqa_train.jsonl'}",
              f"data.reader.files.val={folder / 'tvqa_val.jsonl'}",
              f"data.reader.files.test={folder / 'tvqa_test_public.jsonl'}",
              f"data.reader.subtitles_dir={folder / 'tvqa_subtitles'}", f"data.media_dirs=[{frames.parent}]"]
    _, out, _ = build("data=tvqa", *reader)
    videos = {v["video_id"]: v for v in read_table(out / "videos.parquet")}
    castle = videos["castle_s01e01_seg01_clip_00"]
    assert castle["duration"] == pytest.approx(70.0) and castle["video_path"] == str(frames.resolve())
    assert videos["met_s06e22_seg01_clip_02"]["duration"] == pytest.approx(62.9)  # no folder: the estimate
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"castle_s01e01_seg01_clip_00": 80.5}))
    _, out, _ = build("data=tvqa", *reader, f"data.reader.durations={durations}", f"stage.out_dir={tmp_path / 'b2'}")
    assert {v["video_id"]: v["duration"] for v in read_table(out / "videos.parquet")}[castle["video_id"]] == 80.5


def test_srt_and_ts_parsing_edge_cases():
    assert parse_srt("") == []
    assert parse_srt("garbage\n\n1\nno time here\n") == []
    cues = parse_srt("00:00:01.5 --> 00:00:02,25\nno index line\n\n\n3\n00:00:05,000 --> 00:00:04,000\nbackwards\n")
    assert cues == [{"index": 0, "start": 1.5, "end": 2.25, "text": "no index line"}]
    assert parse_ts("76.01-84.2") == [76.01, 84.2]
    assert parse_ts("NaN-NaN") is None and parse_ts("x") is None and parse_ts("5-1") is None
