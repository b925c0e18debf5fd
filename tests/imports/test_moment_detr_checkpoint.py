"""Moment-DETR's released checkpoints (jayleicn/moment_detr's and VidChapters'): a tiny state dict with exactly their
key names and shapes imports through stage=import_checkpoint source=moment_detr, every tensor lands, and the imported
model computes what their forward computes (videolang.model.moment_detr.released)."""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.conftest import compose_config
from tests.fixtures.shared import built_once
from tests.imports.moment_detr_reference import MomentDETR as TheirMomentDETR
from tests.imports.moment_detr_reference import VidChaptersMomentDETR
from videolang.core.errors import BadInputError
from videolang.model.loading import load_module
from videolang.model.moment_detr.module import MomentDETRModule, l2_normalize
from videolang.model.moment_detr.released import import_moment_detr, our_key
from videolang.run import run_stage

TXT, VID = 32, 16  # the tiny CLIP's text width; clip features before the 2 temporal-endpoint dims

# every key of their MomentDETR.state_dict() with hidden 8, 2 + 2 layers, n_input_proj 2, contrastive_align_loss on
THEIR_KEYS = (
    [f"transformer.encoder.layers.{i}.{p}" for i in range(2) for p in (
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
        "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias",
        "norm2.weight", "norm2.bias")]
    + [f"transformer.decoder.layers.{i}.{p}" for i in range(2) for p in (
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
        "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias", "multihead_attn.out_proj.weight",
        "multihead_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
        "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias")]
    + ["transformer.decoder.norm.weight", "transformer.decoder.norm.bias",
       "txt_position_embed.position_embeddings.weight", "txt_position_embed.LayerNorm.weight",
       "txt_position_embed.LayerNorm.bias"]
    + [f"span_embed.layers.{k}.{p}" for k in range(3) for p in ("weight", "bias")]
    + ["class_embed.weight", "class_embed.bias", "query_embed.weight"]
    + [f"input_{s}_proj.{i}.{p}" for s in ("txt", "vid") for i in range(2)
       for p in ("LayerNorm.weight", "LayerNorm.bias", "net.1.weight", "net.1.bias")]
    + [f"contrastive_align_projection_{s}.{p}" for s in ("query", "txt", "vid") for p in ("weight", "bias")]
    + ["saliency_proj.weight", "saliency_proj.bias"])
UNUSED = {"txt_position_embed.position_embeddings.weight", "txt_position_embed.LayerNorm.weight",
          "txt_position_embed.LayerNorm.bias"} | {k for k in THEIR_KEYS if k.startswith("contrastive")}


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """The zoo's tiny CLIP (text width 32, projection 32 -> 64), built once per run."""
    from videolang.zoo import build_zoo

    return built_once(tmp_path_factory, "tiny_clip_imports", lambda out: build_zoo(out, only=["tiny-clip"]) and None
                      )[0] / "tiny-clip"


def their_opt(vidchapters: bool = False, **changes) -> argparse.Namespace:
    """`BaseOptions.parse()`'s Namespace as train.py saves it (v_feat_dim after `+= 2` for the TEF)."""
    opt = dict(dset_name="chapters" if vidchapters else "hl", ctx_mode="video_tef", v_feat_dim=VID + 2,
               t_feat_dim=TXT, hidden_dim=8, nheads=2, enc_layers=2, dec_layers=2, dim_feedforward=12,
               input_dropout=0.5, dropout=0.1, use_txt_pos=False, num_queries=5, pre_norm=False, n_input_proj=2,
               contrastive_hdim=4, contrastive_align_loss=True, position_embedding="sine", span_loss_type="l1",
               max_q_l=32, max_v_l=20, clip_length=2, max_windows=5, no_norm_vfeat=False, no_norm_tfeat=False,
               aux_loss=True, lw_saliency=1.0, saliency_margin=0.2, eos_coef=0.1, span_loss_coef=10,
               giou_loss_coef=1, label_loss_coef=4, set_cost_span=10, set_cost_giou=1, set_cost_class=4,
               grad_clip=0.1, device=torch.device("cpu"), train_log_txt_formatter="{time_str} [Epoch] {epoch:03d}\n",
               v_feat_dirs=["features/clip_features"], results_dir="results/hl-video_tef-exp")
    if vidchapters:
        opt.update(downsample=True, use_speech=False, freeze_speech=False, max_speech_l=512, clip_length=3,
                   max_v_l=1200, v_feat_dirs_eval=[])
    return argparse.Namespace(**{**opt, **changes})


def save_theirs(model: nn.Module, opt: argparse.Namespace, out: Path, prefix: str = "", **extra) -> Path:
    torch.save({"model": {prefix + k: v for k, v in model.state_dict().items()},
                "optimizer": {"state": {}, "param_groups": []}, "epoch": 7, "opt": opt, **extra}, out)
    return out


def random_inputs(batch: int = 2, frames: int = 9, tokens: int = 6) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    vid_mask = torch.ones(batch, frames)
    vid_mask[0, 6:] = 0
    txt_mask = torch.ones(batch, tokens)
    txt_mask[1, 4:] = 0
    return {"src_txt": torch.randn(batch, tokens, TXT, generator=g), "src_txt_mask": txt_mask,
            "src_vid": torch.randn(batch, frames, VID + 2, generator=g) * vid_mask[..., None], "src_vid_mask": vid_mask}


def assert_same(got: dict, expected: dict) -> None:
    for name in ("pred_logits", "pred_spans", "saliency_scores"):
        assert torch.allclose(got[name], expected[name], atol=1e-5), (name, (got[name] - expected[name]).abs().max())
    for ours, theirs in zip(got["aux"], expected["aux_outputs"], strict=True):
        assert torch.allclose(ours["pred_spans"], theirs["pred_spans"], atol=1e-5)


def test_their_checkpoint_imports_and_computes_their_forward(tmp_path, tiny_clip):
    torch.manual_seed(0)
    opt = their_opt()
    theirs = TheirMomentDETR(opt).eval()
    assert list(theirs.state_dict()) == THEIR_KEYS  # the transcription has the reference's key names
    with torch.no_grad():  # no tensor left at its init value: a tensor that did not land shows
        for p in theirs.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = save_theirs(theirs, opt, tmp_path / "model_best.ckpt")
    cfg = compose_config(["stage=import_checkpoint", "source=moment_detr", f"path={path}",
                          f"stage.text_encoder={tiny_clip}", f"paths.model_dir={tiny_clip.parent}"], tmp_path)
    assert run_stage(cfg) == 0
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    assert set(summary["unused"]) == UNUSED and summary["mapped"] == len(THEIR_KEYS) - len(UNUSED)
    assert summary["flavour"] == "moment_detr" and summary["features_fps"] == 0.5
    ours = load_module(summary["checkpoint"], model_dir=tiny_clip.parent)  # what predict / test / the predictor use
    assert isinstance(ours, MomentDETRModule) and ours.training is False
    hp = ours.hparams
    assert (hp.visual_dim, hp.hidden_dim, hp.nheads, hp.dim_feedforward, hp.num_queries, hp.max_frames,
            hp.text_projection, hp.normalize_text) == (VID, 8, 2, 12, 5, 20, None, True)
    own = ours.state_dict()
    for key, value in theirs.state_dict().items():  # every tensor landed where the mapping says
        if key not in UNUSED:
            assert torch.equal(own[our_key(key)], value), key
    inputs = random_inputs()
    with torch.no_grad():
        expected = theirs(**inputs)
        assert_same(ours.net(**inputs), expected)
        fresh = MomentDETRModule(**{k: v for k, v in hp.items()}, model_dir=tiny_clip.parent).eval()
        fresh.net.load_state_dict({k[4:]: v for k, v in own.items() if k.startswith("net.")})
        assert_same(fresh.net(**inputs), expected)
        # model.init_from: a fine-tuning starts from the imported weights, every tensor of them
        tuned = MomentDETRModule(**{**hp, "init_from": summary["checkpoint"]}, model_dir=tiny_clip.parent)
        tuned.setup("fit")
        assert tuned.init_report["loaded"] == len(own) and not tuned.init_report["skipped"]
        assert_same(tuned.eval().net(**inputs), expected)
    # the whole query path: the CLIP's last_hidden_state, L2-normalised (what jayleicn's features hold)
    batch = {"frames": inputs["src_vid"][:, :, :VID], "frame_mask": inputs["src_vid_mask"],
             "meta": {"query": ["the first step", "mixing it"]}}
    got = ours.inputs(batch)
    from transformers import AutoModel, AutoTokenizer
    clip, tok = AutoModel.from_pretrained(str(tiny_clip)).text_model.eval(), AutoTokenizer.from_pretrained(str(tiny_clip))
    ids = tok(batch["meta"]["query"], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = clip(**ids).last_hidden_state
    assert torch.allclose(got["src_txt"][0, :int(ids.attention_mask[0].sum())],
                          l2_normalize(hidden[0, :int(ids.attention_mask[0].sum())]), atol=1e-5)


def test_vidchapters_checkpoint_encodes_the_query_as_theirs(tmp_path, tiny_clip):
    """VidChapters' file: `module.` keys, the frozen CLIP inside (`clip_model.*`, unused), the query tokens times the
    CLIP's text projection as their encode_text computes it, no text normalisation, 77 query tokens."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer, CLIPModel

    square = tmp_path / "clip-square"  # their quirk needs a square projection (ViT-L/14: 768 x 768)
    config = AutoConfig.from_pretrained(str(tiny_clip))
    config.projection_dim = TXT
    torch.manual_seed(1)
    CLIPModel(config).save_pretrained(square)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_clip / name, square / name)
    hf, tok = AutoModel.from_pretrained(str(square)).eval(), AutoTokenizer.from_pretrained(str(square))

    class OpenAIClipAdapter(nn.Module):
        """OpenAI CLIP's attribute names over the HF tower: the transformer + ln_final as HF computes them, and
        `text_projection` in OpenAI's (width x embed) layout, the HF weight transposed."""
        dtype = torch.float32

        def __init__(self):
            super().__init__()
            self.text_projection = nn.Parameter(hf.text_projection.weight.detach().T.clone())
            self.positional_embedding = torch.zeros(())
            self.ln_final = nn.Identity()

        def token_embedding(self, text):
            self._text = text
            return torch.zeros(*text.shape, TXT)

        def transformer(self, x):  # LND in, LND out
            mask = (self._text != 0).long()
            mask[:, 0] = 1
            return hf.text_model(input_ids=self._text, attention_mask=mask).last_hidden_state.permute(1, 0, 2)

    opt = their_opt(vidchapters=True, contrastive_align_loss=False)
    theirs = VidChaptersMomentDETR(opt, OpenAIClipAdapter()).eval()
    with torch.no_grad():  # their CLIP is frozen: only the Moment-DETR side moved in training
        for name, p in theirs.named_parameters():
            if not name.startswith("clip_model."):
                p.add_(torch.randn_like(p) * 0.1)
    path = save_theirs(theirs, opt, tmp_path / "vidchapters_moment_detr.pth", prefix="module.")
    ours, report = import_moment_detr(path, str(square), tmp_path)
    assert report["flavour"] == "vidchapters" and report["features_fps"] == pytest.approx(1 / 3)
    assert set(report["unused"]) == {"clip_model.text_projection"} | {k for k in UNUSED if k.startswith("txt_")}
    assert (ours.hparams.text_projection, ours.hparams.normalize_text, ours.hparams.max_q_l,
            ours.hparams.max_frames) == ("vidchapters", False, 77, 1200)
    queries = ["the first step", "mixing it all together now"]
    ids = tok(queries, padding="max_length", max_length=77, return_tensors="pt")
    tokens = ids.input_ids * ids.attention_mask  # clip.tokenize pads with 0
    inputs = random_inputs(tokens=1)
    frames = l2_normalize(torch.randn(2, 9, VID))
    n = inputs["src_vid_mask"].sum(1, keepdim=True)
    start = torch.arange(9)[None] / n
    src_vid = torch.cat([frames, torch.stack([start, start + 1 / n], -1)], -1) * inputs["src_vid_mask"][..., None]
    with torch.no_grad():
        expected = theirs(tokens, src_vid, inputs["src_vid_mask"])
        batch = {"frames": frames * inputs["src_vid_mask"][..., None], "frame_mask": inputs["src_vid_mask"],
                 "meta": {"query": queries}}
        got = ours.net(**ours.inputs(batch))
    assert_same(got, expected)


@pytest.mark.parametrize("case", ["vid2seq", "width", "pre_norm"])
def test_bad_moment_detr_checkpoints_are_named(tmp_path, tiny_clip, case):
    path = tmp_path / "bad.ckpt"
    if case == "vid2seq":  # a VidChapters Vid2Seq checkpoint given as moment_detr
        torch.save({"model": {"t5_model.shared.weight": torch.zeros(3, 2)}, "args": argparse.Namespace()}, path)
        problem = "use source=vidchapters"
    else:
        opt = their_opt(t_feat_dim=TXT * 2) if case == "width" else their_opt(pre_norm=True)
        save_theirs(TheirMomentDETR(opt), opt, path)
        problem = "reads 64-d token features (t_feat_dim) but the text encoder" if case == "width" else "pre_norm=True"
    with pytest.raises(BadInputError) as err:
        import_moment_detr(path, str(tiny_clip), tmp_path)
    assert str(path) in str(err.value) and problem in str(err.value), err.value
