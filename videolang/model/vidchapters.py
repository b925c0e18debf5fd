"""VidChapters' released Vid2Seq checkpoints as ordinary videolang checkpoints.

Their `dvc.py` / `vc.py` save `torch.save({"model": state_dict, "optimizer": ..., "epoch": ...,
"args": argparse.Namespace})`, the model being `model/vid2seq.py`'s `Vid2Seq` (antoyang/VidChapters):

| their key | ours |
|---|---|
| `t5_model.<T5 parameter>` | `net.t5.<same>` (Hugging Face T5 names) |
| `t5_model.shared / encoder.embed_tokens / decoder.embed_tokens / lm_head` rows `0 .. n-1` | the same rows (the same T5 vocabulary) |
| the same, rows `n + i` (`<time=i>`, i < num_bins) | the row of our `<time_i>` token |
| `visual_encoder.pos_embed`, `visual_encoder.blocks.<k>.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}`, `visual_encoder.norm` | `net.visual.<same>` (`model.visual_arch=vidchapters`) |
| `proj_v2t` (T5 width != 768) | `net.visual.proj_v2t` |

Every key is mapped or listed as unused in the import report; a parameter of ours that the checkpoint
does not set is an error. The file is read with `torch.load(weights_only=True)` with
`argparse.Namespace` (their `args`) allowed and nothing else. The T5 architecture comes from the
weights' shapes on top of the backbone's config (`args.model_name`: `t5-base`), the tokenizer from the
backbone with our time tokens appended, the rest of the options from `args`; the imported model sees its
frames as theirs did (`visual_padding=attend`). What differs from their pipeline is listed in
docs/import.md.
"""
from __future__ import annotations

import argparse
import io
import logging
import re
from pathlib import Path
from typing import Any

import lightning as L
import torch

from videolang.backbone.sequences import add_time_tokens, load_tokenizer
from videolang.core.checkpoints import map_released, released_model_state
from videolang.core.errors import BadInputError, ConfigError
from videolang.core.io import atomic_write_bytes
from videolang.core.time_tokens import TimeTokenCodec
from videolang.model.module import Vid2SeqModule

log = logging.getLogger(__name__)

# args.py defaults, for checkpoints whose `args` lack a field
ARGS_DEFAULTS = {"model_name": "t5-base", "max_feats": 100, "features_dim": 768, "embedding_dim": 768,
                 "mlp_dim": 2048, "depth": 12, "heads": 12, "num_bins": 100, "use_video": True, "use_speech": True,
                 "max_input_tokens": 1000, "max_output_tokens": 256, "num_beams": 4, "length_penalty": 1.0,
                 "repetition_penalty": 1.0, "label_smoothing": 0.1, "visual_encoder_dropout": 0.1}
VOCAB_KEYS = ("shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight")


def read_vidchapters_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(their model state dict, their args as a dict) of a VidChapters checkpoint, loaded safely."""
    state, ckpt = released_model_state(path, "VidChapters", (argparse.Namespace,))
    if "t5_model.shared.weight" not in state:
        hint = "a Moment-DETR checkpoint: use source=moment_detr" if "transformer.decoder.norm.weight" in state \
            else f"a checkpoint of another model? its first keys: {', '.join(list(state)[:3])}"
        raise BadInputError(f"not a VidChapters Vid2Seq checkpoint: its state dict has no t5_model.shared.weight "
                            f"({hint})", path)
    args = ckpt.get("args")
    args = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
    return state, {**ARGS_DEFAULTS, **{k: v for k, v in args.items() if k in ARGS_DEFAULTS}}


def _count(state: dict[str, torch.Tensor], prefix: str) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return max(found) + 1 if found else 0


def t5_config(state: dict[str, torch.Tensor], base: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The backbone's T5 config with every size read from their weights' shapes."""
    try:
        shared = state["t5_model.shared.weight"]
        q = state["t5_model.encoder.block.0.layer.0.SelfAttention.q.weight"]
        bias = state["t5_model.encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
    except KeyError as e:
        raise BadInputError(f"not a VidChapters Vid2Seq checkpoint: no {e.args[0]}", path) from None
    gated = "t5_model.encoder.block.0.layer.1.DenseReluDense.wi_0.weight" in state
    wi = state["t5_model.encoder.block.0.layer.1.DenseReluDense." + ("wi_0" if gated else "wi") + ".weight"]
    heads = int(bias.shape[1])
    config = {**base, "vocab_size": int(shared.shape[0]), "d_model": int(shared.shape[1]), "d_ff": int(wi.shape[0]),
              "num_heads": heads, "d_kv": int(q.shape[0]) // heads, "relative_attention_num_buckets": int(bias.shape[0]),
              "num_layers": _count(state, "t5_model.encoder.block."),
              "num_decoder_layers": _count(state, "t5_model.decoder.block.")}
    if gated and not str(base.get("feed_forward_proj", "")).startswith("gated"):
        config["feed_forward_proj"] = "gated-gelu"
    elif not gated and str(base.get("feed_forward_proj", "")).startswith("gated"):
        config["feed_forward_proj"] = "relu"
    return config


def vocabulary_rows(tokenizer: Any, num_bins: int, their_rows: int, path: str | Path) -> torch.Tensor:
    """For each of our vocabulary rows, the row of theirs it is (time tokens moved to ours)."""
    ours, text = len(tokenizer), their_rows - num_bins
    if ours != their_rows:
        raise BadInputError(f"its vocabulary has {their_rows} rows ({text} text + {num_bins} time tokens) but "
                            f"the backbone's tokenizer with {num_bins} time tokens has {ours}: another T5 vocabulary "
                            "(set stage.backbone to the T5 it was trained from) or another time-token count", path)
    time_ids = add_time_tokens(tokenizer, TimeTokenCodec(num_bins))
    if len(set(time_ids)) != num_bins or sorted(set(range(ours)) - set(time_ids)) != list(range(text)):
        raise BadInputError(f"the backbone's tokenizer does not keep the T5 vocabulary in rows 0..{text - 1}", path)
    source = torch.arange(ours)
    source[torch.as_tensor(time_ids)] = torch.arange(text, their_rows)
    return source


def map_state_dict(state: dict[str, torch.Tensor], module: Vid2SeqModule, num_bins: int, path: str | Path
                   ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(our state dict, the report: which of their keys went where, which were unused)."""
    own = module.state_dict()
    rows = vocabulary_rows(module.tokenizer, num_bins, int(state["t5_model.shared.weight"].shape[0]), path)

    def target_of(key: str, tensor: torch.Tensor) -> tuple[str | None, torch.Tensor]:
        if key.startswith("t5_model."):
            return "net.t5." + key[len("t5_model."):], tensor[rows] if key[len("t5_model."):] in VOCAB_KEYS else tensor
        if key.startswith("visual_encoder."):
            return "net.visual." + key[len("visual_encoder."):], tensor
        if key.startswith("proj_v2t."):
            return "net.visual." + key, tensor
        return None, tensor

    mapped, unused = map_released(state, own, target_of, own, path)
    return mapped, {"mapped": len(mapped), "unused": unused, "time_tokens": num_bins}


def import_vidchapters(path: str | Path, backbone: str, model_dir: str | Path, task_options: dict[str, Any]
                       ) -> tuple[Vid2SeqModule, dict[str, Any]]:
    """A `Vid2SeqModule` holding their weights, and the import report. `backbone`: the T5 their model was
    fine-tuned from (its config and tokenizer: a hub name or a local folder); `task_options`: `task` /
    `head` (chapter generation by default) and any model option to override (e.g. `generation`)."""
    from transformers import AutoConfig

    state, args = read_vidchapters_checkpoint(path)
    base = AutoConfig.from_pretrained(str(backbone)).to_dict()
    config = t5_config(state, base, path)
    tokenizer = load_tokenizer(str(backbone), 0)
    text_rows = len(tokenizer)
    num_bins = int(config["vocab_size"]) - text_rows
    if num_bins != int(args["num_bins"]):
        raise BadInputError(f"mismatched time-token count: its vocabulary holds {num_bins} rows beyond the "
                            f"backbone's {text_rows} tokens, its args say num_bins={args['num_bins']}", path)
    if not args["use_video"] and any(k.startswith("visual_encoder.") for k in state):
        log.warning("%s: args.use_video is false: the visual encoder's weights are listed as unused", path)
    if "visual_encoder.pos_embed" in state:
        _, frames, width = state["visual_encoder.pos_embed"].shape
    else:
        frames, width = int(args["max_feats"]), int(args["features_dim"])
    if args["use_video"] and int(width) != int(args["features_dim"]):
        raise BadInputError(f"its visual encoder is {width} wide but args.features_dim={args['features_dim']}: "
                            "their model adds the frames to the positions, so they must be equal", path)
    head = state.get("t5_model.lm_head.weight")
    if config.get("tie_word_embeddings", True) and head is not None and \
            not torch.equal(head, state["t5_model.shared.weight"]):
        raise BadInputError("its LM head differs from its input embedding, but the backbone's config ties them: "
                            "set stage.backbone to the T5 it was trained from (an untied one, e.g. t5-v1_1)", path)
    fc1 = state.get("visual_encoder.blocks.0.mlp.fc1.weight")
    add_time_tokens(tokenizer, TimeTokenCodec(num_bins))
    options = {
        "backbone": str(backbone), "pretrained": False, "num_time_tokens": num_bins, "visual_dim": int(width),
        "visual_layers": _count(state, "visual_encoder.blocks.") if args["use_video"] else int(args["depth"]),
        "visual_heads": int(args["heads"]), "visual_ff_dim": int(fc1.shape[0]) if fc1 is not None else
        int(args["mlp_dim"]), "visual_arch": "vidchapters", "visual_padding": "attend", "max_frames": int(frames),
        "dropout": float(args["visual_encoder_dropout"]), "use_speech": bool(args["use_speech"]),
        "use_video": bool(args["use_video"]), "max_input_tokens": int(args["max_input_tokens"]),
        "max_output_tokens": int(args["max_output_tokens"]), "label_smoothing": float(args["label_smoothing"]),
        "generation": {"num_beams": int(args["num_beams"]), "length_penalty": float(args["length_penalty"]),
                       "repetition_penalty": float(args["repetition_penalty"]), "no_repeat_ngram_size": 0},
        "dedup_titles": False, "monitor": "val/cider", "sentence_style": "vidchapters", **task_options}
    try:
        module = Vid2SeqModule(**options, t5_config=config, tokenizer=tokenizer, model_dir=str(model_dir))
    except ValueError as e:
        raise ConfigError(f"the imported model cannot be built: {e}") from None
    mapped, report = map_state_dict(state, module, num_bins, path)
    module.load_state_dict(mapped, strict=True)
    report.update(source=str(path), backbone=str(backbone), args={k: args[k] for k in sorted(ARGS_DEFAULTS)},
                  t5={k: config[k] for k in ("d_model", "d_ff", "num_layers", "num_decoder_layers", "num_heads",
                                             "vocab_size")})
    return module.eval(), report


def save_imported(module: Vid2SeqModule, out: str | Path, report: dict[str, Any]) -> Path:
    """An ordinary videolang checkpoint (what `Vid2SeqModule.from_checkpoint`, `stage=predict`, `stage=test`
    and `model.init_from` read), written atomically."""
    checkpoint: dict[str, Any] = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                                  "pytorch-lightning_version": L.__version__, "epoch": 0, "global_step": 0}
    module.on_save_checkpoint(checkpoint)
    checkpoint["videolang"]["imported"] = report
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return atomic_write_bytes(out, buffer.getvalue())
