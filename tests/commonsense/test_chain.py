"""The common-sense module end to end on the sample corpus: regions -> proxy task -> per-second features."""
from __future__ import annotations

import json

import numpy as np
import pytest

from videolang.commonsense.module import CommonsenseModule
from videolang.commonsense.regions import unpack_regions
from videolang.store import FeatureStore

# the chain (tests/commonsense/conftest.py) is built once, on one worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("commonsense_chain")]


def region_statistics(feature_dir, num_classes: int, min_objects: int = 2) -> dict:
    """From the stored regions alone (no model): the frames, and over the frames with >= `min_objects` boxes
    (what the proxy task trains and validates on) the boxes' classes, the context targets of every ordered
    pair (i, j), i != j (box j's class) and the co-occurrence table (class of i, class of j)."""
    store = FeatureStore(feature_dir)
    frames = few = 0
    box_counts = np.zeros(num_classes, np.int64)
    target_counts = np.zeros(num_classes, np.int64)
    cooccurrence = np.zeros((num_classes, num_classes), np.int64)
    for vid in sorted(store.video_ids("regions")):
        rec = store.read(vid, "regions")
        for f in unpack_regions(rec.array, rec.timestamps):
            frames += 1
            labels = np.asarray(f.labels, dtype=np.int64)
            if len(labels) < min_objects:
                few += 1
                continue
            np.add.at(box_counts, labels, 1)
            np.add.at(target_counts, labels, len(labels) - 1)  # each box is the context j of n - 1 pairs
            i, j = np.nonzero(~np.eye(len(labels), dtype=bool))
            np.add.at(cooccurrence, (labels[i], labels[j]), 1)
    return {"frames": frames, "few": few, "boxes": box_counts, "targets": target_counts,
            "cooccurrence": cooccurrence}


def test_proxy_task_learns_more_than_the_class_prior(commonsense_chain):
    train = commonsense_chain["train"]
    val = train["val"]  # validation reads the training frames themselves (ALL_SPLITS): one data set throughout
    out = commonsense_chain["root"] / "train_commonsense"
    classes = json.loads((out / "classes.json").read_text())
    assert classes == json.loads((commonsense_chain["sample"] / "object_classes.json").read_text())
    stats = region_statistics(commonsense_chain["feature_dir"], len(classes))
    boxes, targets = stats["boxes"], stats["targets"]
    assert val["val/boxes"] == boxes.sum() > 0 and val["val/pairs"] == targets.sum() > boxes.sum()
    frames = train["data"]["frames"]["train"]
    assert frames == {"frames": stats["frames"], "fewer_than_2_objects": stats["few"]} and 0 < stats["few"]

    # the baselines that need no image, computed here from the regions alone (percent)
    prior = boxes / boxes.sum()                          # P(c) over the training boxes
    majority_box = 100.0 * boxes.max() / boxes.sum()
    majority_context = 100.0 * targets.max() / targets.sum()  # the best constant answer for these very pairs
    expected_context = 100.0 * float(prior @ (targets / targets.sum()))  # answering at random from P(c)
    cooccurrence = 100.0 * stats["cooccurrence"].max(axis=1).sum() / targets.sum()
    assert majority_context > 100.0 / len(classes) and majority_context >= expected_context
    # the model's own baselines say the same
    assert val["val/prior_acc"] == pytest.approx(majority_box, abs=1e-3)
    assert val["val/context_prior_acc"] == pytest.approx(100.0 * targets[prior.argmax()] / targets.sum(), abs=1e-3)
    assert val["val/context_cooccurrence_acc"] == pytest.approx(cooccurrence, abs=1e-3)
    # what the test is about: the trained predictors beat every class-prior answer on the same data
    assert val["val/self_acc"] > majority_box + 10.0, (val, majority_box)
    assert val["val/context_acc"] > majority_context + 5.0, (val, majority_context, expected_context)
    # stage=test after fit: the same frames, the same (best = last) model, the same numbers
    assert train["test"]["test/context_acc"] == pytest.approx(val["val/context_acc"])
    assert train["test"]["test/self_acc"] == pytest.approx(val["val/self_acc"])

    from safetensors.torch import load_file

    saved = load_file(out / "confounder.safetensors")
    assert saved["Z"].shape == (len(classes), 64)
    np.testing.assert_array_equal(saved["counts"].numpy(), boxes)
    np.testing.assert_allclose(saved["prior"].numpy(), prior, rtol=1e-6)
    np.testing.assert_array_equal(saved["cooccurrence"].numpy(), stats["cooccurrence"])
    module = CommonsenseModule.from_checkpoint(commonsense_chain["ckpt"])
    np.testing.assert_array_equal(module.dictionary.Z.numpy(), saved["Z"].numpy())
    assert not np.allclose(module.dictionary.Z.numpy()[boxes > 0], 0)  # class means of real features


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
