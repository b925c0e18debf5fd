"""The per-second extractor (pooling, reuse, masks) and the proxy-task module (checkpoints, NaN guard), fast."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.extract.media import make_video
from videolang.commonsense.module import CommonsenseModule, NonFiniteLossError
from videolang.commonsense.regions import FrameRegions
from videolang.core.errors import BadInputError, ConfigError
from videolang.extract import Encoder, VideoItem
from videolang.extract.commonsense import CommonsenseExtractor
from videolang.extract.regions import RegionExtractor
from videolang.media.decode import FrameChunk

CLASSES = ["knife", "onion", "board"]


def save_checkpoint(module: CommonsenseModule, path: Path) -> Path:
    """What Lightning's ModelCheckpoint writes, for a module that was never fitted."""
    ckpt = {"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}
    module.on_save_checkpoint(ckpt)
    torch.save(ckpt, path)
    return path


@pytest.fixture(scope="module")
def backbone_dir(zoo, tmp_path_factory) -> Path:
    """A private copy of the zoo's tiny backbone (one test moves it away)."""
    return Path(shutil.copytree(zoo["tiny-backbone"], tmp_path_factory.mktemp("bb") / "tiny-backbone"))


@pytest.fixture(scope="module")
def ckpt(backbone_dir, tmp_path_factory) -> Path:
    torch.manual_seed(0)
    module = CommonsenseModule(backbone={"type": "hf", "name": str(backbone_dir)}, classes=CLASSES, dim=16)
    module.dictionary.prior.fill_(1 / 3)
    module.dictionary.counts.fill_(1)
    return save_checkpoint(module, tmp_path_factory.mktemp("ckpt") / "cs.ckpt")


def test_checkpoint_rebuilds_without_the_backbone_folder(ckpt, backbone_dir, tmp_path):
    before = CommonsenseModule.from_checkpoint(ckpt)
    moved = tmp_path / "elsewhere"
    shutil.move(str(backbone_dir), moved)
    try:
        after = CommonsenseModule.from_checkpoint(ckpt)
    finally:
        shutil.move(str(moved), backbone_dir)
    images = torch.randint(0, 255, (1, 3, 224, 224), dtype=torch.uint8)
    boxes = [torch.tensor([[10.0, 20.0, 90.0, 120.0], [100.0, 30.0, 200.0, 200.0]])]
    assert torch.equal(before.region_features(images, boxes), after.region_features(images, boxes))
    assert after.classes == CLASSES


def test_foreign_files_are_not_commonsense_checkpoints(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(BadInputError, match="not a videolang checkpoint \\(torch.load"):
        CommonsenseModule.from_checkpoint(junk)
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(BadInputError, match="not a videolang checkpoint"):
        CommonsenseModule.from_checkpoint(other)
    with pytest.raises(BadInputError, match="not found"):
        CommonsenseModule.from_checkpoint(tmp_path / "missing.ckpt")


def test_a_commonsense_checkpoint_is_not_a_captioning_model_and_vice_versa(ckpt, tmp_path):
    from videolang.model.module import Vid2SeqModule

    with pytest.raises(BadInputError, match="not a videolang Vid2Seq checkpoint"):
        Vid2SeqModule.from_checkpoint(ckpt)
    foreign = torch.load(ckpt, weights_only=True)
    foreign["videolang"] = {"t5_config": {}, "tokenizer_files": {}}
    torch.save(foreign, tmp_path / "vid2seq.ckpt")
    with pytest.raises(BadInputError, match="not a videolang commonsense checkpoint"):
        CommonsenseModule.from_checkpoint(tmp_path / "vid2seq.ckpt")


def test_non_finite_loss_stops_training_naming_step_and_batch(ckpt):
    module = CommonsenseModule.from_checkpoint(ckpt).train()
    images = torch.zeros((2, 3, 224, 224))
    images[0, :, 0, 0] = float("nan")  # poisons every RoI pooled from this image's feature map
    batch = {"images": images, "boxes": [torch.tensor([[0.0, 0.0, 100.0, 100.0], [50.0, 50.0, 150.0, 150.0]])] * 2,
             "labels": torch.tensor([0, 1, 2, 0]), "counts": [2, 2], "video_id": ["vidA", "vidB"], "time": [3.0, 4.0]}
    with pytest.raises(NonFiniteLossError, match=r"global step 0.*batch 7 \(frames vidA@3.0s, vidB@4.0s\)"):
        module.training_step(batch, 7)


def frames_with(regions: list[FrameRegions]) -> FrameChunk:
    gen = torch.Generator().manual_seed(1)
    frames = torch.randint(0, 255, (len(regions), 224, 224, 3), dtype=torch.uint8, generator=gen)
    return FrameChunk(np.array([r.time for r in regions]), frames)


def region(t: float, labels: list[int], shift: float = 0.0) -> FrameRegions:
    boxes = np.array([[10 + 30 * i + shift, 20, 60 + 30 * i + shift, 120] for i in range(len(labels))], np.float32)
    return FrameRegions(t, boxes.reshape(-1, 4), np.array(labels, np.int64), np.ones(len(labels), np.float32))


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_extractor_pools_reuses_unchanged_label_sets_and_masks_empty_frames(ckpt, pooling):
    ext = CommonsenseExtractor(str(ckpt), pooling=pooling, batch_size=2)
    ext.key, ext.fingerprint = "commonsense", "fp"
    ext.load(torch.device("cpu"))
    regions = [region(0, [0, 1]), region(1, [1, 0], shift=5), region(2, []), region(3, [0, 1]),
               region(4, [0, 1, 2]), region(5, [2, 1, 0], shift=9)]
    chunks = [frames_with(regions[:3]), frames_with(regions[3:])]  # reuse must also work across chunks
    state = ext.begin(VideoItem("v", "v.mp4"), None)
    ext.link(state, {"regions": {"regions": regions}})
    for chunk in chunks:
        ext.update(state, chunk)
    rec = ext.finish(state)
    assert rec.array.shape == (6, 16) and rec.meta["mask"] == [1, 1, 0, 1, 1, 1]
    assert rec.meta["counts"] == {"frames": 6, "reused_frames": 2, "computed_frames": 3, "frames_without_regions": 1}
    assert np.array_equal(rec.array[1], rec.array[0]) and np.array_equal(rec.array[5], rec.array[4])
    assert not np.array_equal(rec.array[3], rec.array[0])  # same labels but not consecutive: recomputed
    assert not rec.array[2].any()
    # the stored vector is the pooled region features of that frame, computed directly
    images = chunks[1].frames[1:2].permute(0, 3, 1, 2)
    x = ext.module.region_features(images, [torch.as_tensor(regions[4].boxes)])
    expected = x.mean(0) if pooling == "mean" else ext.module.attention(x[None], torch.ones(1, len(x), dtype=torch.bool))[0]
    assert np.allclose(rec.array[4], expected.detach().numpy(), atol=1e-5)


def test_reuse_can_be_turned_off(ckpt):
    ext = CommonsenseExtractor(str(ckpt), reuse_unchanged=False)
    ext.key, ext.fingerprint = "commonsense", "fp"
    ext.load(torch.device("cpu"))
    regions = [region(0, [0, 1]), region(1, [1, 0], shift=5)]
    state = ext.begin(VideoItem("v", "v.mp4"), None)
    ext.link(state, {"regions": {"regions": regions}})
    ext.update(state, frames_with(regions))
    rec = ext.finish(state)
    assert rec.meta["counts"]["reused_frames"] == 0 and not np.array_equal(rec.array[0], rec.array[1])


def test_encoder_orders_requirements_and_folds_their_fingerprint(ckpt, tmp_path):
    boxes = tmp_path / "boxes"
    ext = CommonsenseExtractor(str(ckpt))
    enc = Encoder({"commonsense": ext, "regions": RegionExtractor(source="boxes", boxes_dir=str(boxes),
                                                                   classes=CLASSES, score_threshold=None,
                                                                   nms_iou=None)})
    assert list(enc.extractors) == ["regions", "commonsense"]
    assert enc.describe("commonsense")["requires"] == {"regions": enc.fingerprints["regions"]}
    other = Encoder({"commonsense": CommonsenseExtractor(str(ckpt)),
                     "regions": RegionExtractor(source="boxes", boxes_dir=str(boxes), classes=CLASSES[:2],
                                                score_threshold=None, nms_iou=None)})
    assert other.fingerprints["commonsense"] != enc.fingerprints["commonsense"]
    with pytest.raises(ConfigError, match="needs the 'regions' extractor"):
        Encoder({"commonsense": CommonsenseExtractor(str(ckpt))})
    with pytest.raises(ConfigError, match="unknown pooling"):
        CommonsenseExtractor(str(ckpt), pooling="max")


def test_encode_video_runs_regions_then_commonsense_and_a_missing_box_file_fails_both(ckpt, tmp_path):
    video = make_video(tmp_path / "clip.mp4", seconds=3, size=(160, 120))
    boxes = tmp_path / "boxes"
    boxes.mkdir()
    enc = Encoder({"regions": RegionExtractor(source="boxes", boxes_dir=str(boxes), classes=CLASSES,
                                              score_threshold=None, nms_iou=None),
                   "commonsense": CommonsenseExtractor(str(ckpt))})
    result = enc.try_encode(VideoItem("clip", str(video)))
    assert set(result.failures) == {"regions", "commonsense"} and "needs 'regions'" in result.failures["commonsense"]
    rows = [{"time": float(t), "boxes": [[20, 20, 80, 100], [90, 10, 150, 110]], "labels": ["knife", "onion"]}
            for t in range(3)]
    (boxes / "clip.boxes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = enc.encode(video)
    assert records["commonsense"].meta["mask"] == [1, 1, 1]
    assert records["commonsense"].meta["counts"]["reused_frames"] == 2
    # only commonsense asked for (regions already stored): regions computed for it but not returned
    only = enc.try_encode(VideoItem("clip", str(video), keys=("commonsense",)))
    assert set(only.records) == {"commonsense"} and not only.failures
