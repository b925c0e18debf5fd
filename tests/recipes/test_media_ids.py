"""Entries that share a video read its media's features (issue 23, item 5).

ViTT's dev / test videos annotated k times are k entries `<j>_<id>` of one media file `<id>` (videos.parquet's
`media_id`). Extraction lists one item per media id, and the data module looks every entry's features up by its
media id, so no entry is dropped when features come from a media folder (ids = file stems) and no video is decoded
more than once. The end-to-end ViTT run (test_recipes_end_to_end.py) counts the decodes of a real extraction.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from videolang.backbone.sources import MemoryFeatures, VideoFeatures
from videolang.builder.media_ids import media_durations, media_ids
from videolang.commonsense.data import CommonsenseDataModule
from videolang.datamodule import Vid2SeqDataModule
from videolang.extract.sources import list_videos

MEDIA = "dQw4w9WgXcQ"
ENTRIES = [f"{k}_{MEDIA}" for k in range(3)]


def write_dataset(root: Path, media_dir: Path) -> Path:
    """A built dataset's videos.parquet and test task file: one video annotated three times, one annotated once."""
    dataset = root / "built" / "vitt"
    (dataset / "tasks").mkdir(parents=True)
    media_dir.mkdir(parents=True, exist_ok=True)
    for name in (MEDIA, "Ytr1FmTp0aQ"):
        (media_dir / f"{name}.mp4").write_bytes(b"")
    rows = [(v, MEDIA, 30.0, [[0.0, 10.0 + k], [10.0 + k, 30.0]]) for k, v in enumerate(ENTRIES)]
    rows.append(("Ytr1FmTp0aQ", "Ytr1FmTp0aQ", 20.0, [[0.0, 20.0]]))
    pq.write_table(pa.table({"video_id": [r[0] for r in rows], "media_id": [r[1] for r in rows],
                             "split": ["test"] * len(rows), "duration": [r[2] for r in rows],
                             "video_path": [str(media_dir / f"{r[1]}.mp4") for r in rows]}), dataset / "videos.parquet")
    dense = {v: {"duration": d, "timestamps": ts, "sentences": [f"step {i}" for i in range(len(ts))]}
             for v, _, d, ts in rows}
    (dataset / "tasks" / "dense_captioning_test.json").write_text(json.dumps(dense))
    return dataset


def features(*ids: str) -> MemoryFeatures:
    return MemoryFeatures({v: VideoFeatures(np.full((30, 8), i + 1, np.float32), np.arange(30.0), [], 30.0)
                           for i, v in enumerate(ids)})


def test_extraction_lists_each_media_once(tmp_path):
    dataset = write_dataset(tmp_path, tmp_path / "videos")
    items = list_videos(dataset / "videos.parquet")
    assert [it.video_id for it in items] == ["Ytr1FmTp0aQ", MEDIA]
    # the common-sense proxy task reads each media's regions once too
    frames = CommonsenseDataModule(dataset, tmp_path / "features").videos("test")
    assert frames == [(MEDIA, str(tmp_path / "videos" / f"{MEDIA}.mp4")),
                      ("Ytr1FmTp0aQ", str(tmp_path / "videos" / "Ytr1FmTp0aQ.mp4"))]
    assert media_ids(dataset) == {"test": {v: MEDIA for v in ENTRIES}}
    assert media_durations(dataset) == {MEDIA: 30.0, "Ytr1FmTp0aQ": 20.0}


@pytest.mark.parametrize("stored", ["media", "entries"])
def test_every_entry_reads_its_media_features(tmp_path, tiny_t5, stored):
    """Features under the media id (extraction now, a media folder) or under each entry id (a store made per
    entry before): every entry is kept and reads the same frames."""
    dataset = write_dataset(tmp_path, tmp_path / "videos")
    source = features(MEDIA, "Ytr1FmTp0aQ") if stored == "media" else features(*ENTRIES, "Ytr1FmTp0aQ")
    dm = Vid2SeqDataModule(dataset, tokenizer=str(tiny_t5), task="dense_captioning", features=source,
                           max_input_tokens=64, max_output_tokens=32, num_time_tokens=20)
    dm.setup("test")
    ds = dm.datasets["test"]
    assert [e.key for _, e in ds.entries] == [*ENTRIES, "Ytr1FmTp0aQ"] and not dm.failures
    frames = [ds[i]["frames"] for i in range(3)]
    if stored == "media":
        assert dm.summary()["shared_media"] == {"test": 3}
        assert all(np.array_equal(f, frames[0]) for f in frames)
    else:
        assert "shared_media" not in dm.summary()
        assert [float(f[0, 0]) for f in frames] == [1.0, 2.0, 3.0]


def test_an_entry_whose_media_has_no_features_is_named(tmp_path, tiny_t5):
    dataset = write_dataset(tmp_path, tmp_path / "videos")
    dm = Vid2SeqDataModule(dataset, tokenizer=str(tiny_t5), task="dense_captioning", features=features("Ytr1FmTp0aQ"),
                           max_input_tokens=64, max_output_tokens=32, num_time_tokens=20)
    dm.setup("test")
    assert [e.key for _, e in dm.datasets["test"].entries] == ["Ytr1FmTp0aQ"]
    rows = dm.failures.as_rows()
    assert len(rows) == 3 and all(f"(media {MEDIA!r})" in r["reason"] for r in rows)
