"""The feature store: round trips, validity checks, fingerprints that never mix, crash debris, the manifest."""
from __future__ import annotations

import os

import numpy as np
import pytest

from videolang.core.errors import BadInputError, ConfigError
from videolang.core.io import atomic_path
from videolang.store import FeatureRecord, FeatureStore, empty_transcript, fingerprint_of
from videolang.store.store import temp_owner_stem


def visual(fp="aaa", n=5, dim=8):
    return FeatureRecord("visual", np.random.rand(n, dim).astype(np.float16), np.arange(n, dtype=float), 1.0, "clip", fp)


def speech(fp="sss"):
    seg = empty_transcript("en")
    seg.update(text=["Hello there."], start=[0.5], end=[1.2], words=[[{"word": "Hello", "start": 0.5, "end": 0.8}]])
    return FeatureRecord("speech", None, [0.5], None, "whisper", fp, segments=seg)


def test_round_trip_arrays_and_transcripts(tmp_path):
    store = FeatureStore(tmp_path)
    rec = visual()
    store.write("vid 1/ü", rec)  # an id that is not a safe file name
    store.write("vid 1/ü", speech())
    back = store.read("vid 1/ü", "visual")
    assert np.array_equal(back.array, rec.array) and back.array.dtype == np.float16
    assert back.timestamps.tolist() == [0, 1, 2, 3, 4] and back.fps == 1.0 and back.model == "clip"
    assert back.fingerprint == "aaa"
    s = store.read("vid 1/ü", "speech")
    assert s.segments["text"] == ["Hello there."] and s.segments["language"] == "en" and s.array is None
    assert store.video_ids("visual") == ["vid 1/ü"] and store.keys() == ["speech", "visual"]
    assert store.read("vid 1/ü", "visual", mmap=True).array.shape == (5, 8)


def test_validity_check_catches_corruption(tmp_path):
    store = FeatureStore(tmp_path)
    store.write("v", visual())
    assert store.is_valid("v", "visual", "aaa")
    assert not store.is_valid("v", "visual", "other")  # another configuration's features are not these
    npy = store.array_path("v", "visual")
    npy.write_bytes(npy.read_bytes()[:-10])  # truncated array
    assert not store.is_valid("v", "visual", "aaa")
    with pytest.raises(BadInputError, match="does not match its sidecar"):
        store.read("v", "visual")
    store.write("v", visual())
    store.sidecar_path("v", "visual").write_text("{not json")
    assert not store.is_valid("v", "visual", "aaa")
    store.sidecar_path("v", "visual").unlink()  # an array without its sidecar is not done
    assert not store.is_valid("v", "visual", "aaa")


def test_fingerprints_never_mix(tmp_path):
    store = FeatureStore(tmp_path)
    store.write("v", visual("fp1"))
    assert store.read("v", "visual").fingerprint == "fp1"  # only one configuration: chosen
    store.write("v", visual("fp2", dim=4))
    with pytest.raises(ConfigError, match="2 configurations"):
        store.read("v", "visual")
    assert FeatureStore(tmp_path, {"visual": "fp2"}).read("v", "visual").array.shape == (5, 4)
    assert store.read("v", "visual", fingerprint="fp1").array.shape == (5, 8)
    with pytest.raises(BadInputError, match="no 'audio' features"):
        store.read("v", "audio")


def test_fingerprint_is_stable_and_sensitive():
    assert fingerprint_of({"a": 1, "b": [1, 2]}) == fingerprint_of({"b": [1, 2], "a": 1})
    assert fingerprint_of({"a": 1}) != fingerprint_of({"a": 2})


def test_temp_files_of_owned_videos_are_cleaned(tmp_path):
    store = FeatureStore(tmp_path)
    store.write("mine", visual())
    folder = store.key_dir("visual")
    for stem in ("mine", "theirs", "a.b.c"):
        with pytest.raises(KeyboardInterrupt):  # a write killed half-way leaves its temporary file
            with atomic_path(folder / f"{stem}.npy", suffix=".tmp.npy") as tmp:
                tmp.write_bytes(b"partial")
                os.link(tmp, folder / f".keep-{stem}")
                raise KeyboardInterrupt
        os.rename(folder / f".keep-{stem}", tmp)
    assert sorted(temp_owner_stem(p.name) for p in folder.iterdir() if temp_owner_stem(p.name)) == ["a.b.c", "mine", "theirs"]
    assert store.remove_temp_files([("visual", "aaa")], {"mine", "a.b.c"}) == 2
    left = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert len(left) == 1 and left[0].startswith(".theirs.npy.")  # another writer's file is not ours to touch
    assert store.is_valid("mine", "visual", "aaa")


def test_manifest_merges_journals_latest_wins_and_ignores_torn_lines(tmp_path):
    store = FeatureStore(tmp_path)
    row = dict(key="visual", fingerprint="f", model="m", n=1, path="x", seconds=0.1, run="r")
    store.journal("shard0of2-rank0of1").append([dict(row, video_id="a", status="failed", reason="boom",
                                                     finished_at="2024-01-01T00:00:00.000")])
    store.journal("shard1of2-rank0of1").append([dict(row, video_id="b", status="done", finished_at="2024-01-01T00:00:01.000")])
    store.journal("shard0of2-rank0of1").append([dict(row, video_id="a", status="done", finished_at="2024-01-02T00:00:00.000")])
    with open(tmp_path / "manifest" / "shard1of2-rank0of1.jsonl", "a") as f:
        f.write('{"video_id": "c", "key": "vis')  # a writer killed mid-line
    df = store.manifest()
    assert df[["video_id", "status"]].values.tolist() == [["a", "done"], ["b", "done"]]
    path = store.write_manifest()
    import pandas as pd

    assert pd.read_parquet(path).shape[0] == 2


def test_append_after_a_torn_line_starts_a_fresh_line(tmp_path):
    # regression (issue 13, item 8): a torn last line swallowed the next run's first row
    store = FeatureStore(tmp_path)
    row = dict(key="visual", fingerprint="f", model="m", n=1, path="x", seconds=0.1, run="r", status="done")
    journal = store.journal("shard0of1-rank0of1")
    journal.append([dict(row, video_id="a", finished_at="2024-01-01T00:00:00.000")])
    with open(journal.path, "a") as f:
        f.write('{"video_id": "b", "key": "vis')  # a writer killed mid-line
    journal.append([dict(row, video_id="c", finished_at="2024-01-01T00:00:02.000")])
    journal.append([dict(row, video_id="d", finished_at="2024-01-01T00:00:03.000")])
    df = store.manifest()
    assert df["video_id"].tolist() == ["a", "c", "d"]  # the row after the torn line survives
    assert df.attrs["torn_lines"] == {"shard0of1-rank0of1.jsonl": 1} == store.torn_lines
    assert journal.path.read_text().count("\n") == 4  # the torn line is alone on its line, nothing else lost


def test_journal_rows_with_non_utf8_paths_are_written(tmp_path):
    store = FeatureStore(tmp_path)
    odd = os.fsdecode(b"/videos/caf\xe9.mp4")
    store.journal("w").append([dict(video_id="caf\\xe9", key="visual", fingerprint="f", status="failed",
                                    reason="file not found", path=odd, finished_at="t", run="r")])
    assert store.manifest()["video_id"].tolist() == ["caf\\xe9"]
