"""VidChapters' Vid2Seq checkpoints: a tiny state dict with exactly their key names and shapes imports, and the
imported model computes what their forward pass computes (stage=import_checkpoint, videolang.model.vidchapters)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import compose_config
from tests.imports.vidchapters_reference import Vid2Seq as TheirVid2Seq
from videolang.backbone.sequences import Segment, load_tokenizer
from videolang.backbone.sources import VideoFeatures
from videolang.core.errors import BadInputError
from videolang.model.module import Vid2SeqModule
from videolang.model.vidchapters import import_vidchapters
from videolang.predict.chapters import ChapterPredictor, build_encoder
from videolang.run import run_stage
from videolang.store import FeatureRecord, FeatureStore

FRAMES, BINS = 10, 100


def their_checkpoint(tiny_t5: Path, out: Path, num_bins_arg: int = BINS, **extra) -> tuple[Path, torch.nn.Module]:
    """torch.save({"model", "optimizer", "epoch", "args"}) of their Vid2Seq at tiny size: the zoo's tiny T5 (64 wide,
    vocabulary resized to the tokenizer + 100 <time=i> rows), a 1-block ViT over 768-d frames, proj_v2t."""
    from transformers import T5ForConditionalGeneration

    torch.manual_seed(0)
    text_rows = len(load_tokenizer(str(tiny_t5), 0))
    t5 = T5ForConditionalGeneration.from_pretrained(str(tiny_t5))
    t5.resize_token_embeddings(text_rows)
    t5.resize_token_embeddings(text_rows + BINS)
    t5.model_dim = t5.config.d_model
    theirs = TheirVid2Seq(t5, num_features=FRAMES, embed_dim=768, depth=1, heads=12, mlp_dim=64).eval()
    with torch.no_grad():  # distinct time-token rows, so a wrong row mapping shows
        t5.shared.weight[text_rows:] = torch.randn(BINS, t5.config.d_model)
    args = argparse.Namespace(model_name="/cache/t5-base", max_feats=FRAMES, features_dim=768, embedding_dim=768,
                              mlp_dim=64, depth=1, heads=12, num_bins=num_bins_arg, use_video=True, use_speech=True,
                              max_input_tokens=64, max_output_tokens=32, num_beams=2, length_penalty=1.0,
                              repetition_penalty=1.0, label_smoothing=0.1, combine_datasets=["chapters"], lr=3e-4)
    torch.save({"model": theirs.state_dict(), "optimizer": {"state": {}, "param_groups": []}, "epoch": 3,
                "args": args, **extra}, out)
    return out, theirs


def test_their_checkpoint_imports_and_computes_their_forward(tmp_path, tiny_t5, model_dir):
    path, theirs = their_checkpoint(tiny_t5, tmp_path / "vid2seq_chapters.pth")
    keys = list(theirs.state_dict())
    assert "visual_encoder.blocks.0.attn.qkv.weight" in keys and "proj_v2t.weight" in keys
    cfg = compose_config(["stage=import_checkpoint", f"path={path}", f"stage.backbone={tiny_t5}",
                          f"paths.model_dir={model_dir}"], tmp_path)
    assert run_stage(cfg) == 0
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert summary["unused"] == [] and summary["mapped"] == len(keys) and summary["time_tokens"] == BINS
    ours = Vid2SeqModule.from_checkpoint(summary["checkpoint"], model_dir=model_dir)
    assert ours.hparams.visual_arch == "vidchapters" and ours.hparams.visual_padding == "attend"
    assert ours.hparams.max_frames == FRAMES and ours.hparams.generation["num_beams"] == 2
    # their dataset's `_get_text`: sentences capitalised, ending with '.'
    assert ours.builder.text_ids("we start HERE") == ours.builder.text_ids("We start here.") == \
        ours.tokenizer("We start here.", add_special_tokens=False)["input_ids"]
    # the same inputs: speech with time tokens (theirs: row text_rows + i; ours: our <time_i>), a 6-frame video
    # (their loader zero-pads it to max_feats; our batch pads it and masks the padding) and a 10-frame one
    text_rows = len(load_tokenizer(str(tiny_t5), 0))
    to_ours = torch.arange(text_rows + BINS)
    to_ours[text_rows:] = torch.as_tensor(ours.builder.time_ids)
    their_in = torch.tensor([[text_rows + 3, text_rows + 9, 45, 46, 1, 0], [text_rows, text_rows + 99, 7, 8, 9, 1]])
    their_out = torch.tensor([[text_rows + 1, text_rows + 50, 60, 61, 1], [text_rows + 2, text_rows + 98, 70, 71, 1]])
    frames = torch.randn(2, FRAMES, 768, generator=torch.Generator().manual_seed(1))
    frames[0, 6:] = 0
    batch = {"input_ids": to_ours[their_in], "attention_mask": (their_in != 0).long(), "frames": frames,
             "frame_mask": torch.tensor([[1] * 6 + [0] * (FRAMES - 6), [1] * FRAMES]), "labels": to_ours[their_out]}
    with torch.no_grad():
        expected = theirs(frames, {"input_ids": their_in, "attention_mask": their_in != 0},
                          {"input_ids": their_out, "attention_mask": their_out != 0})
        got = ours.net(batch)[..., to_ours]  # our vocabulary columns in their order
    assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()
    # stage=predict rebuilds the features the checkpoint records (extractor=default's visual: CLIP ViT-L/14, 1 fps,
    # what VidChapters released) and decodes a video's features with it
    assert summary["features"] == {"visual": "openai/clip-vit-large-patch14"}
    encoder = build_encoder(ours)
    assert encoder.fingerprints["visual"] == ours.feature_info["visual"]["fingerprint"]
    assert encoder.sampling.fps == 1.0 and encoder.sampling.size == 224
    feats = VideoFeatures(torch.randn(14, 768).numpy(), np.arange(14.0),
                          [Segment(0.0, 5.0, "we start"), Segment(6.0, 12.0, "then we stop")], 14.0)
    prediction = ChapterPredictor(ours, encoder, device="cpu").predict_features(feats, "clip.mp4")
    assert prediction.duration == 14.0 and isinstance(prediction.chapters, list)
    # stage=test runs it on a built split (768-d features of two videos)
    store, tasks = FeatureStore(tmp_path / "features"), tmp_path / "data" / "built" / "tiny" / "tasks"
    tasks.mkdir(parents=True)
    refs = {f"vid{i}": {"duration": 12.0, "timestamps": [[0.0, 6.0], [6.0, 12.0]], "sentences": ["intro", "end"]}
            for i in range(2)}
    (tasks / "dense_captioning_test.json").write_text(json.dumps(refs))
    for vid in refs:
        store.write(vid, FeatureRecord("visual", np.random.default_rng(0).normal(size=(12, 768)).astype(np.float16),
                                       np.arange(12.0), 1.0, "imported:npy", "npy-0"))
    cfg = compose_config(["stage=test", f"ckpt={summary['checkpoint']}", "stage.dataset=tiny",
                          f"paths.data_dir={tmp_path / 'data'}", f"paths.feature_dir={tmp_path / 'features'}",
                          f"paths.model_dir={model_dir}", "stage.datamodule.num_workers=0",
                          "+trainer.enable_progress_bar=false"], tmp_path / "test")
    assert run_stage(cfg) == 0
    out = Path(cfg.paths.output_dir)
    assert sorted(json.loads((out / "predictions_test.json").read_text())["results"]) == ["vid0", "vid1"]
    assert json.loads((out / "metrics.json").read_text())["compat"]["items"] == 2
    # the imported checkpoint starts a fine-tuning like any other (model.init_from)
    fresh = Vid2SeqModule(**ours.hparams, t5_config=ours.net.t5.config.to_dict(), tokenizer=ours.tokenizer,
                          model_dir=model_dir)
    report = fresh.init_weights_from(summary["checkpoint"])
    assert report["loaded"] == len(fresh.state_dict()) and not report["skipped"] and not report["missing"]


@pytest.mark.parametrize("case", ["needs_code", "other_model", "time_tokens"])
def test_bad_checkpoints_are_named(tmp_path, tiny_t5, model_dir, case):
    path = tmp_path / "bad.pth"
    if case == "needs_code":
        torch.save({"model": {}, "args": argparse.Namespace(), "schedule": Path("x")}, path)
        problem = "needs pathlib"
    elif case == "other_model":  # a Moment-DETR checkpoint's keys
        torch.save({"model": {"transformer.encoder.layers.0.linear1.weight": torch.zeros(2, 2)}, "epoch": 1}, path)
        problem = "not a VidChapters Vid2Seq checkpoint"
    else:
        their_checkpoint(tiny_t5, path, num_bins_arg=50)
        problem = "mismatched time-token count"
    with pytest.raises(BadInputError) as err:
        import_vidchapters(path, str(tiny_t5), model_dir, {"task": "chapter_generation"})
    assert str(path) in str(err.value) and problem in str(err.value), err.value
