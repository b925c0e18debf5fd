"""The common-sense module end to end on the sample corpus: regions -> proxy task -> per-second features."""
from __future__ import annotations

import json

import numpy as np
import pytest

from videolang.commonsense.module import CommonsenseModule
from videolang.store import FeatureStore

pytestmark = pytest.mark.slow


def test_proxy_task_trains_and_reports_against_the_prior(commonsense_chain):
    train = commonsense_chain["train"]
    val = train["val"]
    for name in ("val/self_acc", "val/context_acc", "val/prior_acc", "val/context_prior_acc",
                 "val/context_cooccurrence_acc"):
        assert name in val and 0.0 <= val[name] <= 100.0
    assert val["val/pairs"] > val["val/boxes"] > 0
    frames = train["data"]["frames"]["train"]
    assert frames["fewer_than_2_objects"] > 0 and frames["frames"] > frames["fewer_than_2_objects"]
    out = commonsense_chain["root"] / "train_commonsense"
    from safetensors.torch import load_file

    saved = load_file(out / "confounder.safetensors")
    classes = json.loads((out / "classes.json").read_text())
    assert classes == json.loads((commonsense_chain["sample"] / "object_classes.json").read_text())
    assert saved["Z"].shape == (len(classes), 64) and abs(float(saved["prior"].sum()) - 1.0) < 1e-5
    module = CommonsenseModule.from_checkpoint(commonsense_chain["ckpt"])
    assert np.allclose(module.dictionary.Z.numpy(), saved["Z"].numpy())
    assert "test" in train and "test/context_acc" in train["test"]


def test_per_second_features_follow_the_visual_grid_with_masks_and_reuse(commonsense_chain):
    store = FeatureStore(commonsense_chain["feature_dir"])
    features = commonsense_chain["features"]
    counts = features["counts"]["commonsense"]
    assert counts["reused_frames"] > 0 and counts["computed_frames"] > 0
    assert counts["frames"] == counts["reused_frames"] + counts["computed_frames"] + counts["frames_without_regions"]
    vid = sorted(store.video_ids("commonsense"))[0]
    rec, visual, regions = (store.read(vid, k) for k in ("commonsense", "visual", "regions"))
    assert rec.array.shape == (len(visual), 64) and np.allclose(rec.timestamps, visual.timestamps)
    mask = np.asarray(rec.meta["mask"])
    has_boxes = (regions.array[:, :, 5] >= 0).any(axis=1)
    assert (mask == has_boxes).all()
    assert np.all(rec.array[mask == 0] == 0) and np.all(np.abs(rec.array[mask == 1]).sum(axis=1) > 0)
    desc = json.loads((store.key_dir("commonsense") / "extractor.json").read_text())
    assert desc["requires"] == {"regions": regions.fingerprint}


def test_rerun_skips_and_missing_commonsense_recomputes_regions_without_rewriting(commonsense_chain, tmp_path):
    from tests.commonsense.conftest import run_into

    c = commonsense_chain
    store = FeatureStore(c["feature_dir"])
    vid = sorted(store.video_ids("commonsense"))[0]
    regions_sidecar = store.sidecar_path(vid, "regions")
    before = regions_sidecar.stat().st_mtime_ns
    store.sidecar_path(vid, "commonsense").unlink()
    summary = run_into(["stage=extract", "extractor=tiny_commonsense", f"videos={c['sample'] / 'videos'}",
                        f"extractor.extractors.commonsense.checkpoint={c['ckpt']}", *c["no_audio"], *c["common"]],
                       tmp_path / "again")
    assert summary["done"] == 1 and summary["failed"] == 0
    assert regions_sidecar.stat().st_mtime_ns == before
    assert store.read(vid, "commonsense").array.shape[1] == 64
