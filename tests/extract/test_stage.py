"""stage=extract end to end on the sample corpus: features for good videos, reasons for awkward ones,
skip / redo on re-runs, fingerprints that never mix, sharding, kill-and-resume, DDP."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from videolang.extract import encode_video, list_videos, shard
from videolang.run import EXIT_ITEMS_FAILED, run_stage
from videolang.store import FeatureStore
from tests.conftest import compose_config
from tests.extract.conftest import NO_SPEECH, extract_overrides
from tests.fixtures.shared import built_once

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["audio", "audio_mel", "speech", "visual"]


def good_ids(manifest) -> list[str]:
    return sorted(v["id"] for v in manifest["videos"])


def awkward_ids(manifest) -> list[str]:
    return sorted(a["id"] for a in manifest["awkward"])


@pytest.fixture(scope="session")
def extracted(zoo, sample_corpus, tmp_path_factory):
    """One full run (tiny visual/audio models, real Whisper-base) over the sample corpus, once per test run
    (shared by the xdist workers; read-only: a test that changes the store copies it)."""
    def build(out: Path) -> dict:
        cfg = compose_config(extract_overrides(zoo, out / "store", sample_corpus), out)
        code = run_stage(cfg)
        return {"code": code, "summary": json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())}

    root, built = built_once(tmp_path_factory, "extract_stage_run", build)
    cfg = compose_config(extract_overrides(zoo, root / "store", sample_corpus), root)
    return built["code"], built["summary"], root / "store", cfg


def test_every_good_video_gets_every_key(extracted, sample_manifest):
    code, summary, root, cfg = extracted
    store = FeatureStore(root)
    for vid in good_ids(sample_manifest):
        duration = next(v["duration"] for v in sample_manifest["videos"] if v["id"] == vid)
        rec = store.read(vid, "visual")
        assert rec.array.dtype == np.float16 and rec.array.shape[0] == len(rec.timestamps)
        assert rec.timestamps[0] == 0 and rec.fps == 1.0 and abs(len(rec) - duration) <= 1
        audio = store.read(vid, "audio")
        assert abs(len(audio) - duration) <= 1 and audio.fps == 1.0
        assert store.read(vid, "audio_mel").array.shape[1] == 128
        speech = store.read(vid, "speech")
        assert speech.segments["text"] and speech.segments["language"] == "en"
    assert code == EXIT_ITEMS_FAILED  # the awkward files failed, and the exit code says so


NO_STREAM = {"video_only", "audio_only"}  # a missing stream is a property of the file, not a failure


def test_every_awkward_file_is_a_failure_with_a_reason(extracted, sample_manifest):
    code, summary, root, cfg = extracted
    failures = {}
    for f in summary["failures"]:
        failures.setdefault(f["video_id"], {})[f["key"]] = f["reason"]
    broken = sorted(set(awkward_ids(sample_manifest)) - NO_STREAM)
    assert sorted(failures) == broken
    assert summary["failed"] == len(broken) and summary["done"] == len(good_ids(sample_manifest)) + len(NO_STREAM)
    assert failures["zero_bytes"]["visual"] == "empty file (0 bytes)"
    assert "truncated" in failures["truncated_data"]["visual"]
    assert "corrupt or truncated" in failures["truncated_no_moov"]["visual"]
    assert summary["no_stream"] == {"no audio stream": {"videos": 1, "keys": ["audio", "audio_mel", "speech"]},
                                    "no video stream": {"videos": 1, "keys": ["visual"]}}
    store = FeatureStore(root)
    assert store.read("audio_only", "speech").segments is not None  # what could be made was made
    assert store.read("video_only", "visual").array.shape[1] > 0
    assert store.read("video_only", "speech").segments["text"] == []  # no audio: an empty transcript
    manifest = store.manifest()
    assert set(manifest["status"]) == {"done", "failed"}
    assert (manifest[manifest["status"] == "failed"]["reason"].str.len() > 0).all()
    absent = manifest[(manifest["status"] == "done") & manifest["reason"].notna()]
    assert sorted(zip(absent["video_id"], absent["key"], absent["reason"])) == [
        ("audio_only", "visual", "no video stream"), ("video_only", "audio", "no audio stream"),
        ("video_only", "audio_mel", "no audio stream"), ("video_only", "speech", "no audio stream")]
    assert (root / "manifest.parquet").exists()


def test_encode_video_is_the_same_path(extracted, sample_manifest, sample_corpus):
    code, summary, root, cfg = extracted
    vid = good_ids(sample_manifest)[0]
    records = encode_video(sample_corpus / "videos" / f"{vid}.mp4", cfg)
    store = FeatureStore(root)
    for key, rec in records.items():
        stored = store.read(vid, key)
        assert rec.fingerprint == stored.fingerprint
        assert np.array_equal(rec.timestamps, stored.timestamps)
        if rec.array is not None:
            assert np.array_equal(rec.array, stored.array), key
        else:
            assert rec.segments["text"] == stored.segments["text"]


def test_rerun_skips_finished_and_redoes_corrupt(extracted, sample_manifest, sample_corpus, tmp_path, zoo):
    _, _, root, _ = extracted
    store_dir = tmp_path / "store"
    shutil.copytree(root, store_dir)
    store = FeatureStore(store_dir)
    first, second = good_ids(sample_manifest)[:2]
    npy = store.array_path(first, "visual")
    npy.write_bytes(npy.read_bytes()[:200])           # corrupt array
    store.sidecar_path(second, "audio").unlink()      # lost sidecar
    untouched = store.sidecar_path(second, "visual")
    before = untouched.stat().st_mtime_ns
    cfg = compose_config(extract_overrides(zoo, store_dir, sample_corpus), tmp_path)
    assert run_stage(cfg) == EXIT_ITEMS_FAILED
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["done"] == 2 and summary["skipped"] == len(good_ids(sample_manifest)) - 2 + len(NO_STREAM)
    assert summary["failed_before"] == summary["failed"] == len(awkward_ids(sample_manifest)) - len(NO_STREAM)
    assert store.is_valid(first, "visual", store.resolve_fingerprint("visual"))
    assert store.is_valid(second, "audio", store.resolve_fingerprint("audio"))
    assert untouched.stat().st_mtime_ns == before  # finished features are never rewritten


def test_changing_the_model_config_does_not_mix(tmp_path, extract_cfg, sample_corpus, sample_manifest):
    vid = good_ids(sample_manifest)[0]
    listing = tmp_path / "list.txt"
    listing.write_text(f"{sample_corpus / 'videos' / vid}.mp4\n")
    assert run_stage(extract_cfg(listing, NO_SPEECH)) == 0
    assert run_stage(extract_cfg(listing, NO_SPEECH, "extractor.decode.fps=2")) == 0
    store = FeatureStore(tmp_path / "store")
    fps = store.fingerprints_of("visual")
    assert len(fps) == 2 and len(store.fingerprints_of("audio")) == 1  # only the visual features changed
    lengths = sorted(len(store.read(vid, "visual", fingerprint=fp)) for fp in fps)
    assert lengths[1] in (2 * lengths[0] - 1, 2 * lengths[0])


def test_shards_are_disjoint_and_cover_everything(tmp_path, extract_cfg, sample_corpus, sample_manifest):
    items = list_videos(sample_corpus)
    parts = [shard(items, i, 3) for i in range(3)]
    ids = [it.video_id for p in parts for it in p]
    assert sorted(ids) == sorted(it.video_id for it in items) and len(set(ids)) == len(ids)
    videos = tmp_path / "videos"
    shutil.copytree(sample_corpus / "videos", videos)
    for i in range(2):
        assert run_stage(extract_cfg(videos, NO_SPEECH, "~extractor.extractors.audio", "~extractor.extractors.audio_mel",
                                     f"shard={i}", "num_shards=2")) == 0
    store = FeatureStore(tmp_path / "store")
    journals = sorted(p.name for p in (tmp_path / "store" / "manifest").glob("*.jsonl"))
    assert journals == ["shard0of2-rank0of1.jsonl", "shard1of2-rank0of1.jsonl"]  # one writer per file
    assert store.video_ids("visual") == good_ids(sample_manifest)
    assert sorted(store.manifest()["video_id"]) == good_ids(sample_manifest)


def _complete(root: Path, ids: list[str]) -> int:
    """Videos stored under every one of KEYS. Always all of KEYS: a key the stage has not registered yet
    is not done, so the count never drops when a later key appears."""
    store = FeatureStore(root)
    if not all(store.fingerprints_of(k) for k in KEYS):
        return 0
    return sum(all(store.sidecar_path(v, k).exists() for k in KEYS) for v in ids)


@pytest.mark.slow
def test_kill_mid_run_then_resume(zoo, sample_corpus, sample_manifest, tmp_path):
    """SIGKILL the stage after the first video lands; a re-run completes everything, nothing duplicated or corrupt."""
    videos = tmp_path / "videos"
    videos.mkdir()
    ids = []
    # the good sample videos: the kill comes once the first one is stored, while the others are still in work
    for vid in good_ids(sample_manifest):
        (videos / f"{vid}.mp4").symlink_to(sample_corpus / "videos" / f"{vid}.mp4")
        ids.append(vid)
    (videos / "zero_bytes.mp4").write_bytes(b"")
    root = tmp_path / "store"
    args = [sys.executable, "-m", "videolang.run", *extract_overrides(zoo, root, videos),
            f"paths.log_dir={tmp_path / 'logs'}", "stage.num_workers=2"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 240
    while _complete(root, ids) == 0 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    ended_by_itself = proc.poll()
    os.killpg(proc.pid, signal.SIGKILL)
    _, stderr = proc.communicate()
    at_kill = _complete(root, ids)
    assert ended_by_itself is None, \
        f"the stage ended before the kill (exit {ended_by_itself}): {stderr.decode(errors='replace')[-3000:]}"
    assert 1 <= at_kill < len(ids), f"the kill should land mid-run ({at_kill} of {len(ids)} complete)"

    store = FeatureStore(root)
    for key in store.keys():  # whatever is there after a kill is either complete or not claimed at all
        for vid in store.video_ids(key):
            assert store.is_valid(vid, key, store.resolve_fingerprint(key)), (vid, key)

    rerun = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == EXIT_ITEMS_FAILED, rerun.stderr[-3000:]  # zero_bytes.mp4 still fails
    assert _complete(root, ids) == len(ids)
    leftovers = [p for p in root.rglob(".*") if p.is_file()]
    assert not leftovers, leftovers  # no temporary files
    for key in KEYS:
        folder = store.key_dir(key)
        sidecars = sorted(p.stem for p in folder.glob("*.json") if p.name != "extractor.json")
        assert sidecars == sorted(ids)  # exactly one record per video and key
        if key != "speech":
            assert sorted(p.stem for p in folder.glob("*.npy")) == sorted(ids)
        for vid in ids:
            assert store.is_valid(vid, key, folder.name)
    manifest = store.manifest()
    assert not manifest.duplicated(["video_id", "key", "fingerprint"]).any()
    done = manifest[manifest["status"] == "done"]
    assert sorted(set(done["video_id"])) == sorted(ids)
    assert manifest[manifest["video_id"] == "zero_bytes"]["reason"].eq("empty file (0 bytes)").all()
    report = json.loads(next((tmp_path / "logs" / "extract").glob("*/summary.json")).read_text())
    assert report["done"] + report["skipped"] == len(ids) and report["failed"] == 1


@pytest.mark.slow
def test_ddp_two_processes_split_the_work(tmp_path, extract_cfg, sample_corpus, sample_manifest):
    cfg = extract_cfg(sample_corpus / "videos", NO_SPEECH, "trainer=ddp_sim")
    assert run_stage(cfg) == 0
    store = FeatureStore(tmp_path / "store")
    assert store.video_ids("visual") == good_ids(sample_manifest)
    journals = sorted((tmp_path / "store" / "manifest").glob("*.jsonl"))
    assert [p.name for p in journals] == ["shard0of1-rank0of2.jsonl", "shard0of1-rank1of2.jsonl"]
    owners = {}
    for path in journals:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            assert owners.setdefault(row["video_id"], path.name) == path.name  # one writer per video
    assert sorted(owners) == good_ids(sample_manifest)
