"""stage=extract over runs: one media file as videos=, files without an audio or video stream, re-runs that do
nothing (failures are not retried unless asked), and journals with a torn last line (issue 13, items 1, 6, 7, 8)."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from videolang.backbone.sources import StoreFeatures
from videolang.run import EXIT_ITEMS_FAILED, EXIT_OK, run_stage
from videolang.store import FeatureStore
from tests.bad_inputs.harness import snapshot
from tests.conftest import compose_config
from tests.extract.conftest import NO_SPEECH, extract_overrides

VISUAL_ONLY = (NO_SPEECH, "~extractor.extractors.audio", "~extractor.extractors.audio_mel")


def first_video(sample_corpus: Path) -> Path:
    return sorted((sample_corpus / "videos").glob("*.mp4"))[0]


def run(zoo, tmp_path: Path, store: Path, videos, *more: str, name: str = "run") -> tuple[int, dict]:
    cfg = compose_config(extract_overrides(zoo, store, videos, *more), tmp_path / name)
    code = run_stage(cfg)
    return code, json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())


def journal_bytes(store: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((store / "manifest").glob("*.jsonl"))}


def test_one_media_file_as_videos(zoo, sample_corpus, tmp_path):
    # regression (issue 13, item 1): videos=<one .mp4> died with a UnicodeDecodeError traceback
    video = first_video(sample_corpus)
    code, summary = run(zoo, tmp_path, tmp_path / "store", video, *VISUAL_ONLY)
    assert code == EXIT_OK and summary["videos"] == 1 and summary["done"] == 1
    assert FeatureStore(tmp_path / "store").video_ids("visual") == [video.stem]


def test_no_audio_and_no_video_streams_are_done_not_failed(zoo, sample_corpus, tmp_path, caplog):
    # regression (issue 13, item 6): a video without audio counted as failed, exit 3 forever, re-probed every run
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("video_only.mp4", "audio_only.m4a"):
        (folder / name).symlink_to(sample_corpus / "awkward" / name)
    root = tmp_path / "store"
    caplog.set_level(logging.INFO)
    code, summary = run(zoo, tmp_path, root, folder, name="first")  # every key of extractor=tiny, speech included
    assert code == EXIT_OK, summary["failures"]
    assert summary["failed"] == 0 and summary["done"] == 2
    assert summary["no_stream"] == {"no audio stream": {"videos": 1, "keys": ["audio", "audio_mel", "speech"]},
                                    "no video stream": {"videos": 1, "keys": ["visual"]}}
    assert "1 video(s) with no audio stream: audio, audio_mel, speech done, nothing to extract" in caplog.text

    store = FeatureStore(root)
    rows = {(r.video_id, r.key): r for r in store.manifest().itertuples()}
    assert {k: (r.status, r.reason if isinstance(r.reason, str) else None, r.n) for k, r in rows.items()} == {
        ("audio_only", "audio"): ("done", None, rows["audio_only", "audio"].n),
        ("audio_only", "audio_mel"): ("done", None, rows["audio_only", "audio_mel"].n),
        ("audio_only", "speech"): ("done", None, rows["audio_only", "speech"].n),
        ("audio_only", "visual"): ("done", "no video stream", 0),
        ("video_only", "audio"): ("done", "no audio stream", 0),
        ("video_only", "audio_mel"): ("done", "no audio stream", 0),
        ("video_only", "speech"): ("done", "no audio stream", 0),
        ("video_only", "visual"): ("done", None, rows["video_only", "visual"].n),
    }
    # no audio: an empty transcript (a video without audio has no speech), no audio embedding
    speech = store.read("video_only", "speech")
    assert speech.segments["text"] == [] and speech.meta["absent"] == "no audio stream"
    assert store.video_ids("audio") == ["audio_only"] and store.video_ids("visual") == ["video_only"]
    # what the data loader sees: the audio-only file has no frames (skipped, as before), the silent one no speech
    feats = StoreFeatures(root)
    assert feats.available() == {"video_only"} and feats.get("video_only").speech == []

    before = snapshot(root)
    code, summary = run(zoo, tmp_path, root, folder, name="second")
    assert code == EXIT_OK and summary["done"] == 0 and summary["skipped"] == 2
    assert snapshot(root) == before  # nothing re-probed, nothing appended, nothing rewritten

    # a store written by an older version recorded "no audio stream" as a failure: such keys are redone
    journal = next((root / "manifest").glob("*.jsonl"))
    old = json.loads(journal.read_text().splitlines()[-1])
    fp = {r.key: r.fingerprint for r in store.manifest().itertuples()}
    with open(journal, "a") as f:
        f.write(json.dumps(dict(old, video_id="video_only", key="audio", fingerprint=fp["audio"], status="failed",
                                reason="no audio stream", n=0,
                                file_stamp=None)) + "\n")
    code, summary = run(zoo, tmp_path, root, folder, name="third")
    assert code == EXIT_OK and summary["done"] == 1
    assert store.manifest().set_index(["video_id", "key"]).loc[("video_only", "audio"), "status"] == "done"


def test_rerun_does_not_retry_failures_unless_asked(zoo, sample_corpus, tmp_path, caplog):
    # regression (issue 13, item 7): every re-run re-probed failed keys and appended the same failures again
    folder = tmp_path / "videos"
    folder.mkdir()
    good = first_video(sample_corpus)
    (folder / good.name).symlink_to(good)
    broken = folder / "broken.mp4"
    broken.write_bytes(b"")
    root = tmp_path / "store"
    code, summary = run(zoo, tmp_path, root, folder, *VISUAL_ONLY, name="first")
    assert code == EXIT_ITEMS_FAILED and summary["failed"] == 1 and summary["failed_before"] == 0
    before, whole = journal_bytes(root), snapshot(root)

    caplog.set_level(logging.INFO)
    code, summary = run(zoo, tmp_path, root, folder, *VISUAL_ONLY, name="second")
    assert code == EXIT_ITEMS_FAILED  # the corpus still has a broken video: the exit code keeps saying so
    assert summary["done"] == 0 and summary["skipped"] == 1 and summary["failed"] == 1 and summary["failed_before"] == 1
    assert summary["failures"] == [{"video_id": "broken", "key": "visual", "reason": "empty file (0 bytes)",
                                    "path": str(broken), "retried": False, "run": str(tmp_path / "first" / "run")}]
    assert "1 skipped (failed before; retry_failed=true to retry)" in caplog.text
    assert snapshot(root) == whole  # did nothing, wrote nothing

    code, summary = run(zoo, tmp_path, root, folder, *VISUAL_ONLY, "retry_failed=true", name="retry")
    assert code == EXIT_ITEMS_FAILED and summary["failed"] == 1 and summary["failed_before"] == 0
    after = journal_bytes(root)
    (name, old), = before.items()
    assert after[name].startswith(old) and after[name][len(old):].count(b"\n") == 1  # one retried key, one line

    # other settings (another fingerprint): a new configuration, so the failure is redone
    code, summary = run(zoo, tmp_path, root, folder, *VISUAL_ONLY, "extractor.decode.fps=2", name="fps2")
    assert code == EXIT_ITEMS_FAILED and summary["done"] == 1 and summary["failed_before"] == 0

    # the file replaced by a good one: retried without asking
    broken.unlink()
    shutil.copy(good, broken)
    code, summary = run(zoo, tmp_path, root, folder, *VISUAL_ONLY, name="fixed")
    assert code == EXIT_OK and summary["done"] == 1 and summary["skipped"] == 1


def test_torn_journal_line_is_dropped_and_counted(zoo, sample_corpus, tmp_path, caplog):
    # regression (issue 13, item 8): a torn last journal line swallowed the next run's first row
    folder = tmp_path / "videos"
    folder.mkdir()
    videos = sorted((sample_corpus / "videos").glob("*.mp4"))[:2]
    (folder / videos[0].name).symlink_to(videos[0])
    root = tmp_path / "store"
    assert run(zoo, tmp_path, root, folder, *VISUAL_ONLY, name="first")[0] == EXIT_OK
    journal = next((root / "manifest").glob("*.jsonl"))
    with open(journal, "a") as f:
        f.write('{"video_id": "x", "key": "vis')  # killed mid-append
    (folder / videos[1].name).symlink_to(videos[1])
    caplog.set_level(logging.INFO)
    code, summary = run(zoo, tmp_path, root, folder, *VISUAL_ONLY, name="second")
    assert code == EXIT_OK and summary["done"] == 1 and summary["skipped"] == 1
    assert summary["torn_lines"] == {journal.name: 1}
    assert f"journal {journal.name}: 1 torn line dropped" in caplog.text
    assert sorted(FeatureStore(root).manifest()["video_id"]) == sorted(v.stem for v in videos)


def test_a_model_replaced_under_the_same_path_gets_a_new_fingerprint(zoo, sample_corpus, tmp_path):
    """Features name the model's files, not only its path: a tiny-clip rebuilt in place (make_zoo after the corpus
    changed) must not reuse the old model's features, and a moved copy of the same files must."""
    import torch
    from transformers import CLIPModel

    from videolang.extract.model_files import model_files_digest

    clip = tmp_path / "models" / "clip"
    shutil.copytree(zoo["tiny-clip"], clip)
    video = first_video(sample_corpus)
    model = ("~extractor.extractors.speech", "~extractor.extractors.audio", "~extractor.extractors.audio_mel",
             f"extractor.extractors.visual.model={clip}")
    store = tmp_path / "store"
    assert run(zoo, tmp_path, store, video, *model, name="first")[0] == EXIT_OK
    before = FeatureStore(store).fingerprints_of("visual")
    assert len(before) == 1

    weights = CLIPModel.from_pretrained(clip)
    with torch.no_grad():
        weights.vision_model.embeddings.patch_embedding.weight.mul_(-1.0)
    weights.save_pretrained(clip)
    code, summary = run(zoo, tmp_path, store, video, *model, name="replaced")
    assert code == EXIT_OK and summary["done"] == 1 and summary["skipped"] == 0, summary
    after = FeatureStore(store).fingerprints_of("visual")
    assert len(after) == 2, "the replaced model's features are a new configuration beside the old one"
    old, new = (FeatureStore(store).read(video.stem, "visual", fp).array for fp in before + sorted(set(after) - set(before)))
    assert not (old == new).all()

    moved = tmp_path / "elsewhere" / "clip"
    shutil.copytree(clip, moved)
    assert model_files_digest(moved) == model_files_digest(clip) != model_files_digest(zoo["tiny-clip"])
    assert model_files_digest("openai/clip-vit-large-patch14") is None  # a hub name: its name is its identity
