"""Tiny stand-ins of the published datasets, in their exact released layouts (file names, JSON structure, ids).

Each writer puts a dataset's annotation files where its `conf/data/<name>.yaml` reads them
(`<data_dir>/raw/<name>/...`) and its media as `<id>.mp4` in the config's `media_dirs` folder, using a few
short clips of the sample corpus (`clips`: [(path, duration)], real H.264/AAC with narration). Times are
spread over each clip's real duration so every segment lies inside the video. Layouts, from the sources:

- VidChapters-7M (antoyang/VidChapters, preproc/chapters_to_dvc.py reads them): `chapters.pkl`
  `{vid: {"chapters": [{"label", "time"}], "duration"}}` and the split lists `train.json` / `val.json` /
  `test.json` (JSON lists of YouTube ids);
- YouCook2 (youcook2.eecs.umich.edu): `youcookii_annotations_trainval.json`
  `{"database": {vid: {"duration", "subset", "recipe_type", "video_url", "annotations": [{"segment", "id",
  "sentence"}]}}}`, ids without a prefix;
- ViTT (google-research-datasets/Video-Timeline-Tags-ViTT): `ViTT-annotations.json`, JSON Lines
  `{"id": <4-character YouTube-8M id>, "annotations": [{"timestamp": ms, "tag"}]}`, one line per annotation set
  (dev / test videos 2-3 lines), `train_id.txt` / `dev_id.txt` / `test_id.txt`, and VidChapters'
  `id_mapping.json` {ViTT id: YouTube id}; no durations (read from the media);
- ActivityNet Captions: `train.json`, `val_1.json`, `val_2.json`
  `{"v_<id>": {"duration", "timestamps": [[s, e]], "sentences"}}` (val_1 and val_2: the same videos, two
  annotators), media `v_<id>.mp4`.
"""
from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

Clip = tuple[Path, float]

WORDS = ["add the onions", "stir the sauce", "open the box", "tighten the bolt", "water the plant",
         "cut the bread", "mix the dough", "paint the wall"]


def _media(clips: list[Clip], folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for (path, _), name in zip(clips, names):
        shutil.copyfile(path, folder / f"{name}.mp4")


def _spans(duration: float, n: int, gap: float = 0.0) -> list[list[float]]:
    """n consecutive segments over [0, duration), `gap` seconds between them, times rounded to 0.01."""
    step = duration / n
    return [[round(i * step, 2), round((i + 1) * step - (gap if i < n - 1 else 0.0), 2)] for i in range(n)]


def _sentences(k: int, n: int) -> list[str]:
    return [WORDS[(k + i) % len(WORDS)] for i in range(n)]


# ---------------------------------------------------------------------------------------------- VidChapters
VIDCHAPTERS = {"train": ["aK3-jL0q9Zs", "Q9x_4bT2mNc"], "val": ["zR7pW1eY5uH"], "test": ["_mB8vC3dF6g"]}


def write_vidchapters(data_dir: Path, clips: list[Clip]) -> dict[str, list[str]]:
    """chapters.pkl + the split lists, as released (AllChapters/); {split: ids}."""
    raw = data_dir / "raw" / "vidchapters"
    raw.mkdir(parents=True, exist_ok=True)
    ids = [v for split in ("train", "val", "test") for v in VIDCHAPTERS[split]]
    chapters = {}
    for k, (vid, (_, duration)) in enumerate(zip(ids, clips)):
        starts = [s for s, _ in _spans(duration, 3)]
        chapters[vid] = {"chapters": [{"label": t.capitalize(), "time": s} for s, t in zip(starts, _sentences(k, 3))],
                         "duration": duration}
    with open(raw / "chapters.pkl", "wb") as f:
        pickle.dump(chapters, f)
    for split, vids in VIDCHAPTERS.items():
        (raw / f"{split}.json").write_text(json.dumps(vids))
    _media(clips, raw / "videos", ids)
    return VIDCHAPTERS


# ------------------------------------------------------------------------------------------------- YouCook2
YOUCOOK2 = {"training": ["GLd3aX16zBg", "0O4bxhpFX9o"], "validation": ["-AwyG1JcMp8", "xHr8X2Wpmno"]}


def write_youcook2(data_dir: Path, clips: list[Clip]) -> dict[str, list[str]]:
    """youcookii_annotations_trainval.json (training + validation subsets); {subset: ids}."""
    raw = data_dir / "raw" / "youcook2"
    raw.mkdir(parents=True, exist_ok=True)
    ids = YOUCOOK2["training"] + YOUCOOK2["validation"]
    database = {}
    for k, (vid, (_, duration)) in enumerate(zip(ids, clips)):
        subset = "training" if vid in YOUCOOK2["training"] else "validation"
        spans = _spans(duration, 2, gap=0.5)  # recipe steps leave gaps
        database[vid] = {"duration": duration, "subset": subset, "recipe_type": str(101 + k),
                         "video_url": f"https://www.youtube.com/watch?v={vid}",
                         "annotations": [{"segment": s, "id": i, "sentence": t}
                                         for i, (s, t) in enumerate(zip(spans, _sentences(k, 2)))]}
    (raw / "youcookii_annotations_trainval.json").write_text(json.dumps({"database": database}))
    _media(clips, raw / "videos", ids)
    return YOUCOOK2


# ----------------------------------------------------------------------------------------------------- ViTT
# ViTT id -> (split list, annotation sets, YouTube id). "Zz0q" is annotated 4 times: in the release, in no
# split of the paper (left out as more_than_max_annotations).
VITT = {"FmTp": ("train", 1, "Ytr1FmTp0aQ"), "Gk3x": ("train", 1, "Ytr2Gk3x0bR"),
        "Xq7Z": ("dev", 2, "Ydev1Xq7Z0c"), "Rb9k": ("test", 3, "Ytst1Rb9k0d"), "Zz0q": ("dev", 4, "Yfour4Zz0qe")}


def write_vitt(data_dir: Path, clips: list[Clip]) -> dict[str, tuple[str, int, str]]:
    """ViTT-annotations.json (JSON Lines), the split id lists and id_mapping.json; media named by YouTube id
    (the 4-times annotated video has none: it is left out before its media is looked for)."""
    raw = data_dir / "raw" / "vitt"
    raw.mkdir(parents=True, exist_ok=True)
    lines, durations = [], dict(zip(list(VITT)[:4], (d for _, d in clips)))
    for k, (vitt_id, (_, sets, _)) in enumerate(VITT.items()):
        duration = durations.get(vitt_id, 60.0)
        for j in range(sets):  # each annotator tags the video differently (starts in ms, ints as released)
            n = 2 + (j % 2)
            starts = [int(s * 1000) + 260 * (j + 1) for s, _ in _spans(duration, n)]
            lines.append(json.dumps({"id": vitt_id, "annotations": [{"timestamp": ms, "tag": t} for ms, t
                                                                    in zip(starts, _sentences(k + j, n))]}))
    (raw / "ViTT-annotations.json").write_text("\n".join(lines) + "\n")
    for split in ("train", "dev", "test"):
        (raw / f"{split}_id.txt").write_text("".join(f"{v}\n" for v, (s, _, _) in VITT.items() if s == split))
    (raw / "id_mapping.json").write_text(json.dumps({v: yt for v, (_, _, yt) in VITT.items()}))
    _media(clips, raw / "videos", [yt for _, _, yt in list(VITT.values())[:4]])
    return VITT


# -------------------------------------------------------------------------------------- ActivityNet Captions
ACTIVITYNET = {"train": ["v_QOlSCBRmfWY", "v_ehGHCYKzyZ8"], "val": ["v_uqiMw7tQ1Cc", "v_bXdq2zI1Ms0"]}


def write_activitynet(data_dir: Path, clips: list[Clip]) -> dict[str, list[str]]:
    """train.json, val_1.json and val_2.json (the same val videos annotated twice, overlapping events)."""
    raw = data_dir / "raw" / "activitynet"
    raw.mkdir(parents=True, exist_ok=True)
    ids = ACTIVITYNET["train"] + ACTIVITYNET["val"]
    duration_of = {vid: d for vid, (_, d) in zip(ids, clips)}
    for name, vids, annotator in (("train", ACTIVITYNET["train"], 0), ("val_1", ACTIVITYNET["val"], 1),
                                  ("val_2", ACTIVITYNET["val"], 2)):
        content = {}
        for k, vid in enumerate(vids):
            d = duration_of[vid]
            spans = [[0.0, round(0.6 * d, 2)], [round(0.4 * d, 2), d]] if annotator != 2 else _spans(d, 3)
            content[vid] = {"duration": d, "timestamps": spans,
                            "sentences": [f"A person {t}." for t in _sentences(k + annotator, len(spans))]}
        (raw / f"{name}.json").write_text(json.dumps(content))
    _media(clips, raw / "videos", ids)
    return ACTIVITYNET
