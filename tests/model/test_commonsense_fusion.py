"""The common-sense stream as a model input: alignment, both fusions, masking, checkpoints, store, predict."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from videolang.backbone.losses import label_smoothed_ce
from videolang.backbone.sources import StoreFeatures
from videolang.backbone.streams import RowStream, align_to_frames
from videolang.backbone.visual import uniform_indices
from videolang.core.errors import ConfigError
from videolang.datamodule import Vid2SeqDataModule
from videolang.datamodule.synthetic import synthetic_corpus
from videolang.store import FeatureRecord, FeatureStore

from tests.fixtures.model import write_synthetic_dataset

VDIM, CDIM, MAX_FRAMES = 6, 4, 8
EMPTY, MISSING = "syn0002", "syn0003"     # all-zero common-sense mask / no common-sense rows at all


def corpus(offset: float = 0.7, seed: int = 0, missing: tuple[str, ...] = ()):
    """Synthetic videos (16-150 frames at 1 fps) whose common-sense rows sit `offset` s after the frames.

    With offset 0.7 the nearest row of frame i is row i-1 (row 0 for frame 0): alignment by index
    and alignment by time differ. About a third of the rows have mask 0 (zero rows); EMPTY has none.
    """
    anns, feats = synthetic_corpus(6, VDIM, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for vid, f in feats.videos.items():
        if vid in missing:
            continue
        mask = (rng.random(len(f.timestamps)) > 0.35).astype(np.int64) if vid != EMPTY \
            else np.zeros(len(f.timestamps), np.int64)
        rows = rng.normal(size=(len(f.timestamps), CDIM)).astype(np.float32) * mask[:, None]
        f.commonsense = RowStream(rows, f.timestamps + offset, mask)
    return anns, feats


def datamodule(tiny_t5, fusion: str | None, use_speech: bool = True, missing: tuple[str, ...] = (), **kw):
    anns, feats = corpus(missing=missing)
    cs = {"enabled": fusion is not None, "fusion": fusion or "concat"}
    dm = Vid2SeqDataModule(tokenizer=str(tiny_t5), task="dense_captioning", max_frames=MAX_FRAMES,
                           max_input_tokens=64, max_output_tokens=32, batch_size=6, use_speech=use_speech,
                           annotations={"train": anns, "val": anns, "test": anns}, features=feats,
                           commonsense=cs, **kw)
    dm.setup("fit")
    return dm, feats


def full_batch(dm, part: str = "train") -> dict:
    ds = dm.datasets[part]
    return dm.collator()([ds[i] for i in range(len(ds))])


def module_for(tiny_t5, dm, fusion: str | None, use_speech: bool = True, layers: int = 0):
    from videolang.model.module import Vid2SeqModule

    return Vid2SeqModule(backbone=str(tiny_t5), visual_layers=1, visual_heads=2, max_frames=MAX_FRAMES,
                         use_speech=use_speech, task="dense_captioning", max_input_tokens=64, max_output_tokens=32,
                         generation={"num_beams": 2}, dropout=0.0,
                         commonsense={"enabled": fusion is not None, "fusion": fusion or "concat", "layers": layers},
                         **dm.inferred_model_options())


# ------------------------------------------------------------------------ alignment
def test_nearest_timestamp_alignment_and_tolerance():
    stream = RowStream(np.arange(4, dtype=np.float32)[:, None] + 1, [0.0, 2.0, 4.0, 6.0], [1, 1, 0, 1])
    rows, mask = align_to_frames(stream, [0.0, 0.9, 1.1, 3.0, 4.2, 6.4, 7.9, 9.0])
    # nearest row (the earlier on a tie at 3.0), row 2 has no regions, 9.0 is farther than the 2 s grid step
    assert rows[:, 0].tolist() == [1, 1, 2, 2, 0, 4, 4, 0]
    assert mask.tolist() == [1, 1, 1, 1, 0, 1, 1, 0]
    # a video without any row: zeros, all masked
    rows, mask = align_to_frames(RowStream.empty(3), np.arange(5.0))
    assert rows.shape == (5, 3) and not rows.any() and not mask.any()
    # the mask comes from the record's meta; without it, the non-zero rows count
    rec = FeatureRecord("commonsense", np.array([[1, 0], [0, 0], [2, 2]], np.float32), [0, 1, 2], 1.0, "m", "fp",
                        meta={"mask": [1, 0, 0]})
    assert RowStream.from_record(rec).mask.tolist() == [1, 0, 0]
    rec.meta = {}
    assert RowStream.from_record(rec).mask.tolist() == [1, 0, 1]


@pytest.mark.parametrize("fusion", ["concat", "stream"])
def test_batch_aligns_by_time_and_subsamples_the_same_frames(tiny_t5, fusion):
    dm, feats = datamodule(tiny_t5, fusion)
    assert dm.inferred_model_options() == {"visual_dim": VDIM, "commonsense_dim": CDIM}
    batch = full_batch(dm)
    width = VDIM + CDIM if fusion == "concat" else VDIM
    assert batch["frames"].shape[-1] == width
    assert ("commonsense" in batch) == (fusion == "stream")
    for r, vid in enumerate(batch["meta"]["video_id"]):
        f = feats.get(vid)
        idx = uniform_indices(len(f.frames), MAX_FRAMES)
        n = len(idx)
        assert len(f.frames) > MAX_FRAMES and n == MAX_FRAMES  # every synthetic video is subsampled
        nearest = np.maximum(idx - 1, 0)                       # offset 0.7 s: the previous row is nearest
        want_rows = f.commonsense.rows[nearest] * f.commonsense.mask[nearest][:, None]
        got_frames = batch["frames"][r, :n].numpy()
        np.testing.assert_allclose(got_frames[:, :VDIM], f.frames[idx], rtol=1e-6)
        if fusion == "concat":
            np.testing.assert_allclose(got_frames[:, VDIM:], want_rows, rtol=1e-6)
        else:
            np.testing.assert_allclose(batch["commonsense"][r, :n].numpy(), want_rows, rtol=1e-6)
            assert batch["commonsense_mask"][r, :n].tolist() == f.commonsense.mask[nearest].tolist()
        if vid == EMPTY:  # no regions anywhere: zero rows, all masked
            rows = got_frames[:, VDIM:] if fusion == "concat" else batch["commonsense"][r].numpy()
            assert not rows.any() and not batch.get("commonsense_mask", torch.zeros(6, 1))[r].any()


def test_titles_items_pick_the_chapter_frames_rows(tiny_t5):
    """Chapter titles (one item per chapter): the chapter's frames carry their own aligned rows."""
    anns, feats = corpus()
    dm = Vid2SeqDataModule(tokenizer=str(tiny_t5), task="chapter_captioning", max_frames=MAX_FRAMES,
                           max_input_tokens=32, max_output_tokens=16, features=feats,
                           annotations={"train": anns, "val": anns}, commonsense={"enabled": True})
    dm.setup("fit")
    item = dm.datasets["train"][1]
    vid, k = item["key"].split("#")
    f, (start, end) = feats.get(vid), anns[vid]["timestamps"][int(k)]
    inside = np.flatnonzero((f.timestamps >= start) & (f.timestamps < end))
    idx = inside[uniform_indices(len(inside), MAX_FRAMES)]
    np.testing.assert_allclose(item["frames"][:, :VDIM], f.frames[idx], rtol=1e-6)
    np.testing.assert_allclose(item["frames"][:, VDIM:], align_to_frames(f.commonsense, f.timestamps)[0][idx])


# ---------------------------------------------------------------------- the model
@pytest.mark.parametrize("fusion", ["concat", "stream"])
@pytest.mark.parametrize("use_speech", [True, False])
def test_both_fusions_train_a_step_and_decode(tiny_t5, fusion, use_speech):
    torch.manual_seed(0)
    dm, _ = datamodule(tiny_t5, fusion, use_speech=use_speech)
    m = module_for(tiny_t5, dm, fusion, use_speech)
    assert (m.net.commonsense is not None) == (fusion == "stream")
    assert m.net.visual.input_dim == (VDIM + CDIM if fusion == "concat" else VDIM)
    batch = full_batch(dm)  # six videos of different lengths, one with an all-zero mask
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    loss = label_smoothed_ce(m.net(batch), batch["labels"])
    loss.backward()
    assert torch.isfinite(loss)
    stream_params = m.net.commonsense if fusion == "stream" else m.net.visual.proj
    before = [p.detach().clone() for p in stream_params.parameters()]
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, stream_params.parameters()))
    out = m.eval().decode_batch(batch, max_new_tokens=6)
    assert [o["key"] for o in out] == batch["meta"]["key"] and all("events" in o for o in out)


def test_stream_masks_frames_without_regions(tiny_t5):
    torch.manual_seed(0)
    dm, _ = datamodule(tiny_t5, "stream")
    m = module_for(tiny_t5, dm, "stream", layers=1).eval()
    batch = full_batch(dm)
    hidden, mask = m.net.encode(batch["input_ids"], batch["attention_mask"], batch["frames"], batch["frame_mask"],
                                batch["commonsense"], batch["commonsense_mask"])
    text, frames = batch["input_ids"].shape[1], batch["frames"].shape[1]
    cs_mask = batch["commonsense_mask"]
    assert torch.equal(mask[:, text + frames:], cs_mask)      # masked rows are out of cross-attention
    assert (cs_mask == 0).any() and (cs_mask == 1).any()
    changed = batch["commonsense"].clone()
    changed[cs_mask == 0] = 100 * torch.randn(int((cs_mask == 0).sum()), CDIM)
    hidden2, mask2 = m.net.encode(batch["input_ids"], batch["attention_mask"], batch["frames"], batch["frame_mask"],
                                  changed, cs_mask)
    real = mask.bool()
    assert torch.equal(mask, mask2)
    torch.testing.assert_close(hidden[real], hidden2[real], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fusion", ["concat", "stream"])
def test_all_zero_mask_gives_finite_outputs(tiny_t5, fusion):
    anns, feats = corpus()
    dm = Vid2SeqDataModule(tokenizer=str(tiny_t5), task="dense_captioning", max_frames=MAX_FRAMES,
                           max_input_tokens=64, max_output_tokens=32, use_speech=False, features=feats,
                           annotations={"train": {EMPTY: anns[EMPTY]}, "val": {EMPTY: anns[EMPTY]}},
                           commonsense={"enabled": True, "fusion": fusion})
    dm.setup("fit")
    m = module_for(tiny_t5, dm, fusion, use_speech=False, layers=1)
    batch = full_batch(dm)
    assert not batch["frames"][..., VDIM:].any() if fusion == "concat" else not batch["commonsense_mask"].any()
    logits = m.net(batch)
    assert torch.isfinite(logits).all() and torch.isfinite(label_smoothed_ce(logits, batch["labels"]))
    # nothing at all to attend to in the stream and no frames either: still finite
    batch["frame_mask"].zero_()
    assert torch.isfinite(m.net(batch)).all()
    assert len(m.eval().decode_batch(batch, max_new_tokens=4)) == 1


# ------------------------------------------------------------- data: store, skip, off
@pytest.fixture(scope="module")
def cs_store(tmp_path_factory):
    """A built dataset + store with visual, speech, commonsense (requires regions) and regions keys;
    MISSING has no common-sense rows."""
    root = tmp_path_factory.mktemp("cs_store")
    splits = write_synthetic_dataset(root / "data", root / "features", name="cs")
    store = FeatureStore(root / "features")
    rng = np.random.default_rng(3)
    vids = sorted(v for s in splits.values() for v in s)
    store.write_extractor_info("regions", "fpr", {"key": "regions", "model": "fake", "fingerprint": "fpr",
                                                  "class": "tests.model.helpers.FakeRegions", "config": {},
                                                  "input": {"backend": "pyav", "fps": 1.0}})
    store.write_extractor_info("commonsense", "fpc", {"key": "commonsense", "model": "fake", "fingerprint": "fpc",
                                                      "class": "tests.model.helpers.FakeCommonsense", "config": {},
                                                      "input": {}, "requires": {"regions": "fpr"}})
    for vid in vids:
        ts = store.read(vid, "visual").timestamps
        store.write(vid, FeatureRecord("regions", rng.normal(size=(len(ts), 3)).astype(np.float32), ts, 1.0,
                                       "fake", "fpr"))
        if vid == MISSING:
            continue
        mask = (rng.random(len(ts)) > 0.3).astype(int)
        rows = rng.normal(size=(len(ts), CDIM)).astype(np.float32) * mask[:, None]
        store.write(vid, FeatureRecord("commonsense", rows, ts + 0.2, 1.0, "fake", "fpc",
                                       meta={"mask": mask.tolist(), "regions": int(mask.sum())}))
    # a second regions configuration: only the fingerprint recorded by `requires` says which one was used
    store.write_extractor_info("regions", "fpr2", {"key": "regions", "model": "other", "fingerprint": "fpr2"})
    return {"data_dir": root / "data", "feature_dir": root / "features", "splits": splits}


def test_store_describe_includes_the_required_keys(cs_store):
    info = StoreFeatures(cs_store["feature_dir"], commonsense_key="commonsense").describe()
    assert set(info) == {"visual", "speech", "commonsense", "regions"}
    assert info["commonsense"]["fingerprint"] == "fpc" and info["regions"]["fingerprint"] == "fpr"
    assert info["regions"]["class"].endswith("FakeRegions")
    assert set(StoreFeatures(cs_store["feature_dir"]).describe()) == {"visual", "speech"}


def test_missing_commonsense_features_are_counted_and_skipped(tiny_t5, cs_store):
    dm = Vid2SeqDataModule(cs_store["data_dir"] / "built" / "cs", cs_store["feature_dir"], tokenizer=str(tiny_t5),
                           task="dense_captioning", max_frames=MAX_FRAMES, max_input_tokens=64,
                           max_output_tokens=32, commonsense={"enabled": True, "fusion": "stream"})
    dm.setup("fit")
    assert MISSING not in dm.datasets["train"].video_ids
    assert [(r["item"], r["reason"]) for r in dm.failures.as_rows()] == \
        [(f"train/{MISSING}", "no 'commonsense' features in the store")]
    assert dm.inferred_model_options() == {"visual_dim": 16, "commonsense_dim": CDIM}
    assert set(dm.feature_info()) == {"visual", "speech", "commonsense", "regions"}
    batch = full_batch(dm)
    assert batch["commonsense"].shape[-1] == CDIM and batch["commonsense_mask"].any()
    # in-memory features: the same rule
    mem, _ = datamodule(tiny_t5, "concat", missing=(MISSING,))
    assert [r["item"] for r in mem.failures.as_rows()] == [f"train/{MISSING}", f"val/{MISSING}"]


def test_switch_off_reads_no_commonsense_features(tiny_t5, cs_store, synthetic_dataset, monkeypatch):
    read_keys = []
    original = FeatureStore.read
    monkeypatch.setattr(FeatureStore, "read", lambda self, vid, key, *a, **k: (read_keys.append(key),
                                                                                original(self, vid, key, *a, **k))[1])
    for data in (cs_store, synthetic_dataset):  # a store with the key, and one without it
        name = "cs" if data is cs_store else "synthetic"
        dm = Vid2SeqDataModule(data["data_dir"] / "built" / name, data["feature_dir"], tokenizer=str(tiny_t5),
                               task="dense_captioning", max_frames=MAX_FRAMES, max_input_tokens=64,
                               max_output_tokens=32, commonsense={"enabled": False, "fusion": "stream"})
        dm.setup("fit")
        batch = full_batch(dm)
        assert "commonsense" not in batch and batch["frames"].shape[-1] == 16
        assert not dm.failures and dm.inferred_model_options() == {"visual_dim": 16}
        assert set(dm.feature_info()) == {"visual", "speech"}
    assert set(read_keys) == {"visual", "speech"}


def test_stage_train_with_the_switch_on(train_cfg, cs_store):
    """The config wiring: model.commonsense reaches the data module through stage.datamodule, and
    model.commonsense_dim (null) is filled from `inferred_model_options`."""
    from omegaconf import open_dict

    from videolang.run import run_stage

    cfg = train_cfg("task=dense_captioning", "debug=fdr", "stage.datamodule.eval_batch_size=64",
                    "model.commonsense.enabled=true", "model.commonsense.fusion=stream", "stage.dataset=cs")
    with open_dict(cfg):
        cfg.paths.data_dir, cfg.paths.feature_dir = str(cs_store["data_dir"]), str(cs_store["feature_dir"])
    assert run_stage(cfg) == 3  # trained and tested; one video skipped (no common-sense rows)
    out = Path(cfg.paths.output_dir)
    summary = json.loads((out / "summary.json").read_text())
    assert [r["item"] for r in summary["skipped_videos"]] == [f"train/{MISSING}"]
    assert "test/soda_c" in summary["test"]
    options = json.loads((out / "model_options.json").read_text())
    assert options["commonsense_dim"] == CDIM and options["commonsense"]["fusion"] == "stream"


# -------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_with_the_switch_on(tiny_t5, tmp_path):
    import lightning as L

    from videolang.model.module import Vid2SeqModule

    torch.manual_seed(0)
    dm, _ = datamodule(tiny_t5, "stream")
    m = module_for(tiny_t5, dm, "stream", layers=1)
    m.feature_info = {"commonsense": {"requires": {"regions": "fpr"}}}
    trainer = L.Trainer(accelerator="cpu", max_steps=1, limit_val_batches=0, logger=False, default_root_dir=tmp_path,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(m, dm)
    trainer.save_checkpoint(tmp_path / "cs.ckpt")
    back = Vid2SeqModule.from_checkpoint(tmp_path / "cs.ckpt")
    assert back.commonsense == m.commonsense and back.commonsense.fusion == "stream"
    assert back.hparams.commonsense_dim == CDIM and back.feature_info == m.feature_info
    batch = full_batch(dm)
    m.eval()
    with torch.no_grad():
        torch.testing.assert_close(back.net(batch), m.net(batch))


def test_checkpoint_made_before_the_switch_still_loads(tiny_t5, tmp_path):
    from videolang.model.module import Vid2SeqModule

    dm, _ = datamodule(tiny_t5, None)
    m = module_for(tiny_t5, dm, None)
    ckpt = {"hyper_parameters": {k: v for k, v in dict(m.hparams).items()
                                 if k not in ("commonsense", "commonsense_dim")},
            "state_dict": m.state_dict()}
    m.on_save_checkpoint(ckpt)
    torch.save(ckpt, tmp_path / "old.ckpt")
    back = Vid2SeqModule.from_checkpoint(tmp_path / "old.ckpt")
    assert not back.commonsense.enabled and back.net.commonsense is None and back.net.visual.input_dim == VDIM
    batch = full_batch(dm)
    assert "commonsense" not in batch
    assert torch.isfinite(back.net(batch)).all()


def test_bad_switch_values_are_refused(tiny_t5):
    from videolang.model.module import Vid2SeqModule

    with pytest.raises(ValueError, match="fusion"):
        Vid2SeqModule(backbone=str(tiny_t5), visual_dim=VDIM, commonsense={"enabled": True, "fusion": "sum"})
    with pytest.raises(ValueError, match="commonsense_dim"):
        Vid2SeqModule(backbone=str(tiny_t5), visual_dim=VDIM, commonsense={"enabled": True})
    with pytest.raises(ValueError, match="commonsense_dim"):
        Vid2SeqModule(backbone=str(tiny_t5), visual_dim=VDIM, commonsense={"enabled": True, "dim": 4})


# ---------------------------------------------------------------------- predict
def _described(cls: str, **extra) -> dict:
    return {"class": f"tests.model.helpers.{cls}", "config": {}, "input": {"backend": "pyav", "fps": 1.0},
            "fingerprint": "x", **extra}


def test_predict_encoder_includes_commonsense_and_its_requirements(tiny_t5):
    from videolang.predict.chapters import build_encoder

    dm, _ = datamodule(tiny_t5, "concat")
    m = module_for(tiny_t5, dm, "concat")
    m.feature_info = {"visual": _described("FakeFrames"), "speech": _described("FakeFrames"),
                      "commonsense": _described("FakeCommonsense", input={}, requires={"regions": "x"}),
                      "regions": _described("FakeRegions"), "audio": _described("FakeFrames")}
    assert set(build_encoder(m).extractors) == {"visual", "speech", "commonsense", "regions"}
    cfg = {"extractors": {k: {"_target_": f"tests.model.helpers.{c}"} for k, c in
                          [("visual", "FakeFrames"), ("commonsense", "FakeCommonsense"), ("regions", "FakeRegions"),
                           ("audio", "FakeFrames")]}, "decode": {"backend": "pyav", "fps": 1.0}}
    assert set(build_encoder(m, cfg).extractors) == {"visual", "commonsense", "regions"}
    del m.feature_info["regions"]
    with pytest.raises(ConfigError, match="regions"):
        build_encoder(m)
    off = module_for(tiny_t5, datamodule(tiny_t5, None)[0], None)
    off.feature_info = {"visual": _described("FakeFrames"), "commonsense": _described("FakeCommonsense")}
    assert set(build_encoder(off).extractors) == {"visual"}


@pytest.mark.parametrize("fusion", ["concat", "stream"])
def test_predict_fuses_the_rows_like_training(tiny_t5, fusion):
    from videolang.datamodule.vid2seq import build_item
    from videolang.predict.chapters import ChapterPredictor

    dm, feats = datamodule(tiny_t5, fusion)
    predictor = ChapterPredictor(module_for(tiny_t5, dm, fusion), device="cpu")
    f = feats.get("syn0000")
    records = {"visual": FeatureRecord("visual", f.frames, f.timestamps, 1.0, "m", "x"),
               "commonsense": FeatureRecord("commonsense", f.commonsense.rows, f.commonsense.timestamps, 1.0, "m",
                                            "y", meta={"mask": f.commonsense.mask.tolist()})}
    got, notes = predictor.features_from_records(records, {}, f.duration)
    seen = []
    decode = predictor.module.decode_batch
    predictor.module.decode_batch = lambda batch, **kw: (seen.append(batch), decode(batch, **kw))[1]
    predictor.predict_features(got, "syn0000", max_new_tokens=4)
    item = build_item("syn0000", "syn0000", f, f.duration, [], dm.builder, "events", MAX_FRAMES, True,
                      commonsense=fusion)
    name = "frames" if fusion == "concat" else "commonsense"
    np.testing.assert_allclose(seen[0][name][0].numpy(), item[name], rtol=1e-6)
    # a video whose common-sense extraction failed: predicted with every row masked, and said so
    got, notes = predictor.features_from_records({"visual": records["visual"]}, {"commonsense": "no regions"},
                                                 f.duration)
    assert any("no common-sense features (no regions)" in n for n in notes)
    predictor.predict_features(got, "syn0000", max_new_tokens=4)
    if fusion == "concat":
        assert not seen[1]["frames"][0, :, VDIM:].any()
    else:
        assert not seen[1]["commonsense_mask"].any()
