"""Moment-DETR's released checkpoints (jayleicn/moment_detr, and VidChapters' chapter-grounding one) as ordinary
videolang Moment-DETR checkpoints.

Their `train.py` saves `torch.save({"model": state_dict, "optimizer": ..., "epoch": ..., "opt": argparse.Namespace})`
(`opt` after `BaseOptions.parse`: `v_feat_dim` already includes the 2 temporal-endpoint dims, `device` a
`torch.device`). VidChapters' copy (antoyang/VidChapters `moment_detr/`) trains inside `nn.DataParallel`
(keys prefixed `module.`), holds the frozen OpenAI CLIP ViT-L/14 as `clip_model` (its best / latest checkpoints
keep those weights; its periodic copies drop them) and encodes the query itself (`text_projection`
"vidchapters" here). The key mapping:

| theirs | ours (`MomentDETRModule`) |
|---|---|
| `input_{txt,vid}_proj.<i>.LayerNorm.*`, `.net.1.*` | `net.input_{txt,vid}_proj.<i>.layer_norm.*`, `.net.1.*` |
| `transformer.encoder.layers.<i>.{self_attn, linear1, linear2, norm1, norm2}.*` | `net.transformer.encoder.<i>.<same>` |
| `transformer.decoder.layers.<i>.multihead_attn.*` | `net.transformer.decoder.<i>.cross_attn.*` |
| `transformer.decoder.layers.<i>.{self_attn, linear1, linear2, norm1, norm2, norm3}.*` | `net.transformer.decoder.<i>.<same>` |
| `transformer.decoder.norm.*` | `net.transformer.decoder_norm.*` |
| `query_embed`, `span_embed.layers.<k>`, `class_embed`, `saliency_proj` | `net.<same>` |
| `txt_position_embed.position_embeddings`, `.LayerNorm` (`use_txt_pos`) | `net.txt_position_embed.position_embeddings`, `.layer_norm` |

Unused (listed in the report): `txt_position_embed.*` without `use_txt_pos` (the reference always builds it),
`contrastive_align_projection_*` (a training loss only), `clip_model.*` (the text tower comes from the text
encoder option; the image tower is the feature extractor's). A parameter of ours that the file does not set, a
shape that differs from what `opt` builds, and an architecture we do not have (`pre_norm`, `span_loss_type=ce`,
learned positions, VidChapters' `use_speech` BERT branch, a video-free `ctx_mode`) are errors naming the file.
"""
from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import Any

import torch

from videolang.core.checkpoints import map_released, released_model_state
from videolang.core.errors import BadInputError, ConfigError
from videolang.model.moment_detr.module import MomentDETRModule
from videolang.model.moment_detr.text import text_width

log = logging.getLogger(__name__)

# config.py defaults, for an `opt` that lacks a field (VidChapters' own defaults where its config.py differs)
OPT_DEFAULTS = {"hidden_dim": 256, "nheads": 8, "enc_layers": 2, "dec_layers": 2, "dim_feedforward": 1024,
                "dropout": 0.1, "input_dropout": 0.5, "num_queries": 10, "n_input_proj": 2, "use_txt_pos": False,
                "pre_norm": False, "position_embedding": "sine", "span_loss_type": "l1", "ctx_mode": "video_tef",
                "max_q_l": 32, "max_v_l": 75, "clip_length": 2, "max_windows": 5, "no_norm_vfeat": False,
                "no_norm_tfeat": False, "aux_loss": True, "contrastive_align_loss": False, "span_loss_coef": 10.0,
                "giou_loss_coef": 1.0, "label_loss_coef": 4.0, "eos_coef": 0.1, "set_cost_span": 10.0,
                "set_cost_giou": 1.0, "set_cost_class": 4.0, "lw_saliency": 1.0, "saliency_margin": 0.2,
                "grad_clip": 0.1, "lr": 1e-4, "wd": 1e-4, "v_feat_dim": None, "t_feat_dim": None,
                "use_speech": False, "downsample": False, "dset_name": None}
VIDCHAPTERS_DEFAULTS = {"max_v_l": 150, "clip_length": 1, "v_feat_dim": 768, "dset_name": "chapters"}
CLIP_CONTEXT = 77  # clip.tokenize's context length: VidChapters' query tokens are cut there, not at max_q_l
MARKER = "transformer.decoder.norm.weight"
RENAMES = ((r"^(input_(?:txt|vid)_proj\.\d+\.)LayerNorm\.", r"net.\1layer_norm."),
           (r"^(input_(?:txt|vid)_proj\.\d+\.net\.1\.)", r"net.\1"),
           (r"^transformer\.encoder\.layers\.(\d+)\.", r"net.transformer.encoder.\1."),
           (r"^transformer\.decoder\.layers\.(\d+)\.multihead_attn\.", r"net.transformer.decoder.\1.cross_attn."),
           (r"^transformer\.decoder\.layers\.(\d+)\.", r"net.transformer.decoder.\1."),
           (r"^transformer\.decoder\.norm\.", r"net.transformer.decoder_norm."),
           (r"^((?:query_embed|span_embed\.layers\.\d+|class_embed|saliency_proj)\.)", r"net.\1"),
           (r"^txt_position_embed\.position_embeddings\.", r"net.txt_position_embed.position_embeddings."),
           (r"^txt_position_embed\.LayerNorm\.", r"net.txt_position_embed.layer_norm."))


def our_key(key: str) -> str | None:
    """Our parameter name for one of their keys (None: not a parameter of our network)."""
    for pattern, target in RENAMES:
        if re.match(pattern, key):
            return re.sub(pattern, target, key)
    return None


def read_moment_detr_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], bool]:
    """(their model state dict without `module.`, their `opt` as a dict with defaults, whether it is VidChapters')."""
    state, ckpt = released_model_state(path, "Moment-DETR", (argparse.Namespace,))
    if MARKER not in state:
        hint = "a VidChapters Vid2Seq checkpoint: use source=vidchapters" if "t5_model.shared.weight" in state \
            else f"its first keys: {', '.join(list(state)[:3])}"
        raise BadInputError(f"not a Moment-DETR checkpoint: its state dict has no {MARKER} ({hint})", path)
    opt = ckpt.get("opt")
    if isinstance(opt, argparse.Namespace):
        opt = vars(opt)
    if not isinstance(opt, dict):
        raise BadInputError(f"its 'opt' is {type(opt).__name__}, not the options Namespace train.py saves: the "
                            "architecture cannot be rebuilt", path)
    vidchapters = any(k.startswith("clip_model.") for k in state) or "downsample" in opt
    defaults = {**OPT_DEFAULTS, **(VIDCHAPTERS_DEFAULTS if vidchapters else {})}
    return state, {**defaults, **{k: v for k, v in opt.items() if k in defaults}}, vidchapters


def _check_architecture(state: dict[str, torch.Tensor], opt: dict[str, Any], path: str | Path) -> None:
    problems = [f"{name}={opt[name]!r} (ours: {ok})" for name, ok, good in (
        ("pre_norm", "post-norm only", not opt["pre_norm"]),
        ("span_loss_type", "l1 (center, width) regression only", opt["span_loss_type"] == "l1"),
        ("position_embedding", "sine only", opt["position_embedding"] in ("sine", "v2")),
        ("ctx_mode", "clip features needed", "video" in str(opt["ctx_mode"])),
        ("use_speech", "no speech branch", not opt["use_speech"])) if not good]
    if any(k.startswith("bert") for k in state):
        problems.append("bert.* weights (VidChapters' speech branch; ours has none)")
    if problems:
        raise BadInputError(f"its architecture is not one model=moment_detr has: {'; '.join(problems)}", path)


def moment_detr_options(state: dict[str, torch.Tensor], opt: dict[str, Any], vidchapters: bool, path: str | Path
                        ) -> dict[str, Any]:
    """Our `MomentDETRModule` options from their `opt` (sizes checked against the weights' shapes)."""
    _check_architecture(state, opt, path)
    use_tef = "tef" in str(opt["ctx_mode"])
    vid_in = int(state["input_vid_proj.0.net.1.weight"].shape[1])
    if opt["v_feat_dim"] is not None and int(opt["v_feat_dim"]) != vid_in:
        raise BadInputError(f"opt.v_feat_dim={opt['v_feat_dim']} but input_vid_proj.0.net.1.weight reads {vid_in}-d "
                            "clips", path)
    if use_tef and vid_in <= 2:
        raise BadInputError(f"input_vid_proj reads {vid_in}-d clips: nothing left beside the temporal endpoints", path)
    return {
        "visual_dim": vid_in - (2 if use_tef else 0), "use_tef": use_tef,
        "hidden_dim": int(state["query_embed.weight"].shape[1]), "nheads": int(opt["nheads"]),
        "enc_layers": len({k.split(".")[3] for k in state if k.startswith("transformer.encoder.layers.")}),
        "dec_layers": len({k.split(".")[3] for k in state if k.startswith("transformer.decoder.layers.")}),
        "dim_feedforward": int(state["transformer.encoder.layers.0.linear1.weight"].shape[0])
        if "transformer.encoder.layers.0.linear1.weight" in state else int(opt["dim_feedforward"]),
        "dropout": float(opt["dropout"]), "input_dropout": float(opt["input_dropout"]),
        "num_queries": int(state["query_embed.weight"].shape[0]),
        "n_input_proj": len({k.split(".")[1] for k in state if k.startswith("input_vid_proj.")}),
        "use_txt_pos": bool(opt["use_txt_pos"]),
        # VidChapters' query is clip.tokenize'd to 77 tokens (its max_q_l sizes only the unused text positions)
        "max_q_l": CLIP_CONTEXT if vidchapters and not opt["use_txt_pos"] else int(opt["max_q_l"]),
        "max_frames": int(opt["max_v_l"]), "max_windows": int(opt["max_windows"]),
        "normalize_video": not opt["no_norm_vfeat"],
        "normalize_text": False if vidchapters else not opt["no_norm_tfeat"],  # theirs: encode_text, no norm
        "text_projection": "vidchapters" if vidchapters else None,
        "aux_loss": bool(opt["aux_loss"]), "span_loss_coef": float(opt["span_loss_coef"]),
        "giou_loss_coef": float(opt["giou_loss_coef"]), "label_loss_coef": float(opt["label_loss_coef"]),
        "eos_coef": float(opt["eos_coef"]), "set_cost_span": float(opt["set_cost_span"]),
        "set_cost_giou": float(opt["set_cost_giou"]), "set_cost_class": float(opt["set_cost_class"]),
        "saliency_loss_coef": float(opt["lw_saliency"]), "saliency_margin": float(opt["saliency_margin"]),
        "grad_clip": float(opt["grad_clip"]) if float(opt["grad_clip"]) > 0 else 0.0}


def map_state_dict(state: dict[str, torch.Tensor], module: MomentDETRModule, path: str | Path
                   ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(our network's tensors, their unused keys); every parameter of our network must be set."""
    own = module.state_dict()
    return map_released(state, own, lambda key, tensor: (our_key(key), tensor),
                        [k for k in own if k.startswith("net.")], path)


def import_moment_detr(path: str | Path, text_encoder: str, model_dir: str | Path,
                       overrides: dict[str, Any] | None = None) -> tuple[MomentDETRModule, dict[str, Any]]:
    """A `MomentDETRModule` holding their weights, and the import report. `text_encoder`: the frozen text
    encoder whose token features the checkpoint was trained on (not in their file: their queries were CLIP
    ViT-B/32 features on disk for jayleicn's, VidChapters' own frozen CLIP ViT-L/14); its width must be
    their `t_feat_dim`. `overrides`: any other `MomentDETRModule` option (e.g. `max_frames`)."""
    state, opt, vidchapters = read_moment_detr_checkpoint(path)
    options = moment_detr_options(state, opt, vidchapters, path)
    txt_in = int(state["input_txt_proj.0.net.1.weight"].shape[1])
    if opt["t_feat_dim"] is not None and int(opt["t_feat_dim"]) != txt_in:
        raise BadInputError(f"opt.t_feat_dim={opt['t_feat_dim']} but input_txt_proj.0.net.1.weight reads {txt_in}-d "
                            "tokens", path)
    try:
        width = text_width(str(text_encoder), options["text_projection"])
    except (OSError, ValueError) as e:
        raise ConfigError(f"the text encoder {text_encoder!r} (stage.text_encoder) for {path}: {e}") from None
    if width != txt_in:
        expected = "VidChapters' CLIP ViT-L/14 (768)" if vidchapters else \
            "the CLIP its query features came from (QVHighlights' released features: ViT-B/32, 512)"
        raise BadInputError(f"its query projection reads {txt_in}-d token features (t_feat_dim) but the text encoder "
                            f"{text_encoder} gives {width}-d ones: set stage.text_encoder to {expected}", path)
    options.update(overrides or {})
    try:
        module = MomentDETRModule(text_encoder=str(text_encoder), **options, model_dir=str(model_dir))
    except ValueError as e:
        raise ConfigError(f"the imported model cannot be built: {e}") from None
    mapped, unused = map_state_dict(state, module, path)
    module.load_state_dict({**module.state_dict(), **mapped}, strict=True)
    clip_s = float(opt["clip_length"])
    report = {"mapped": len(mapped), "unused": unused, "source": str(path), "text_encoder": str(text_encoder),
              "flavour": "vidchapters" if vidchapters else "moment_detr", "clip_length": clip_s,
              "features_fps": 1.0 / clip_s if clip_s > 0 else None,
              "opt": {k: opt[k] for k in sorted(OPT_DEFAULTS) if isinstance(opt[k], (int, float, str, bool))}}
    if opt["contrastive_align_loss"]:
        log.info("%s: trained with contrastive_align_loss: its projections are a training loss only (unused)", path)
    return module.eval(), report
