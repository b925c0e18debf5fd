"""The tiny models: real architectures, real pre-processing configs, random (seeded) weights.

Each is the library's own model class with a few narrow layers, saved the way
the real checkpoint is saved, so code under test runs the exact loading path
(`from_pretrained(path)`, `whisper.load_model(path)`) that real model names take.
Widths differ on purpose (CLIP text 32, vision 48, projection 64): code that
mixes them up, or assumes ViT-L/14's 768, fails on the zoo as well.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from videolang.commonsense.roi import load_backbone
from videolang.zoo.registry import register_zoo_model
from videolang.zoo.text import train_clip_tokenizer, train_t5_tokenizer

__all__ = ["load_tiny_clip", "load_tiny_t5", "load_tiny_whisper", "load_tiny_audio", "load_tiny_detr",
           "load_tiny_backbone", "TINY_DETR_CLASSES"]

# openai/clip-vit-large-patch14's pre-processing: shorter side to 224 (bicubic), centre crop 224.
CLIP_IMAGE_PROCESSING = dict(
    do_resize=True, size={"shortest_edge": 224}, resample=3, do_center_crop=True,
    crop_size={"height": 224, "width": 224}, do_rescale=True, rescale_factor=1 / 255,
    do_normalize=True, image_mean=[0.48145466, 0.4578275, 0.40821073],
    image_std=[0.26862954, 0.26130258, 0.27577711], do_convert_rgb=True,
)


def load_tiny_clip(path: Path):
    from transformers import AutoModel, AutoProcessor

    return AutoModel.from_pretrained(path), AutoProcessor.from_pretrained(path)


@register_zoo_model("tiny-clip", load=load_tiny_clip, trains_on_texts=True)
def build_tiny_clip(target: Path, texts: list[str]) -> None:
    """CLIPModel (ViT-B/32 geometry at 224 px, 2 layers) + CLIPProcessor with CLIP's image pre-processing."""
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = train_clip_tokenizer(texts)
    text_config = dict(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    vision_config = dict(
        hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        image_size=224, patch_size=32,
    )
    config = CLIPConfig(text_config=text_config, vision_config=vision_config, projection_dim=64)
    CLIPModel(config).save_pretrained(target)
    image_processor = CLIPImageProcessorPil(**CLIP_IMAGE_PROCESSING)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(target)


def load_tiny_t5(path: Path):
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    return T5ForConditionalGeneration.from_pretrained(path), AutoTokenizer.from_pretrained(path)


@register_zoo_model("tiny-t5", load=load_tiny_t5, trains_on_texts=True)
def build_tiny_t5(target: Path, texts: list[str]) -> None:
    """T5ForConditionalGeneration (t5-base's layout at width 64, 2+2 layers) + a T5 tokenizer trained on `texts`."""
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = train_t5_tokenizer(texts, target)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2,
        num_heads=4, relative_attention_num_buckets=32, relative_attention_max_distance=128,
        feed_forward_proj="relu", tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id,
    )
    T5ForConditionalGeneration(config).save_pretrained(target)


def load_tiny_whisper(path: Path):
    import whisper

    return whisper.load_model(str(path), device="cpu")


@register_zoo_model("tiny-whisper.pt", load=load_tiny_whisper)
def build_tiny_whisper(target: Path, texts: list[str]) -> None:
    """An openai-whisper checkpoint (`{"dims", "model_state_dict"}`, fp16 like the released ones).

    Audio geometry and vocabulary are the real multilingual ones (80 mels, 1500
    audio positions, 51,865 tokens) so `transcribe` and the bundled tokenizer
    work unchanged; only the widths and depths are tiny. The file holds plain
    dicts and tensors: `torch.load(..., weights_only=True)`, which
    `whisper.load_model` uses, reads it.
    """
    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=4, n_audio_layer=2,
        n_vocab=51865, n_text_ctx=448, n_text_state=64, n_text_head=4, n_text_layer=2,
    )
    model = Whisper(dims)
    # openai-whisper leaves the decoder's learned positions uninitialised (torch.empty): it
    # always loads them from a checkpoint. Random weights need real values there.
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.01)
    state = {k: v.half() for k, v in model.state_dict().items()}
    torch.save({"dims": asdict(dims), "model_state_dict": state}, target)


def load_tiny_audio(path: Path):
    from transformers import AutoFeatureExtractor, AutoModel

    return AutoModel.from_pretrained(path), AutoFeatureExtractor.from_pretrained(path)


@register_zoo_model("tiny-audio", load=load_tiny_audio)
def build_tiny_audio(target: Path, texts: list[str]) -> None:
    """ASTModel + ASTFeatureExtractor with AudioSet AST's input geometry (16 kHz, 128 mels, 1024 frames)."""
    from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

    extractor = ASTFeatureExtractor(sampling_rate=16000, num_mel_bins=128, max_length=1024)
    config = ASTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, patch_size=16,
        frequency_stride=10, time_stride=10, num_mel_bins=extractor.num_mel_bins, max_length=extractor.max_length,
    )
    ASTModel(config).save_pretrained(target)
    extractor.save_pretrained(target)


# DETR's COCO label map starts with an "N/A" placeholder (unused ids); the tiny vocabulary does too,
# so code that keeps id2label indices as class indices is exercised on the same layout.
TINY_DETR_CLASSES = ["N/A", "person", "bicycle", "car", "dog", "cup", "knife", "bowl", "chair", "book"]

# facebook/detr-resnet-50's pre-processing: shorter side to 800 (at most 1333), ImageNet mean/std, padding.
DETR_IMAGE_PROCESSING = dict(
    do_resize=True, size={"shortest_edge": 800, "longest_edge": 1333}, resample=2, do_rescale=True,
    rescale_factor=1 / 255, do_normalize=True, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
    do_pad=True,
)

# microsoft/resnet-50's pre-processing: shorter side to 224 / 0.875, bicubic, centre crop 224, ImageNet mean/std.
RESNET_IMAGE_PROCESSING = dict(
    do_resize=True, size={"shortest_edge": 224}, crop_pct=0.875, resample=3, do_rescale=True,
    rescale_factor=1 / 255, do_normalize=True, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
)


def _tiny_resnet_config(out_features: list[str]):
    """A 4-stage ResNet of basic blocks, widths 8-32: the strides of ResNet-50 (4, 4, 8, 16, 32), none of its size."""
    from transformers import ResNetConfig

    return ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], layer_type="basic",
                        out_features=out_features)


def load_tiny_detr(path: Path):
    from transformers import AutoImageProcessor, AutoModelForObjectDetection

    return AutoModelForObjectDetection.from_pretrained(path), AutoImageProcessor.from_pretrained(path)


@register_zoo_model("tiny-detr", load=load_tiny_detr)
def build_tiny_detr(target: Path, texts: list[str]) -> None:
    """DetrForObjectDetection (width 32, 1 + 1 layers, 10 queries) on a tiny non-timm ResNet, with
    facebook/detr-resnet-50's image processor and a 10-name label map ("N/A" first, as DETR's COCO map)."""
    from transformers import DetrConfig, DetrForObjectDetection
    from transformers.models.detr.image_processing_detr import DetrImageProcessor

    config = DetrConfig(
        backbone_config=_tiny_resnet_config(["stage4"]), use_timm_backbone=False, use_pretrained_backbone=False,
        d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=10,
        id2label=dict(enumerate(TINY_DETR_CLASSES)), label2id={c: i for i, c in enumerate(TINY_DETR_CLASSES)},
    )
    DetrForObjectDetection(config).save_pretrained(target)
    DetrImageProcessor(**DETR_IMAGE_PROCESSING).save_pretrained(target)


def load_tiny_backbone(path: Path):
    from transformers import AutoImageProcessor

    return load_backbone(path), AutoImageProcessor.from_pretrained(path)


@register_zoo_model("tiny-backbone", load=load_tiny_backbone)
def build_tiny_backbone(target: Path, texts: list[str]) -> None:
    """ResNetBackbone (widths 8-32) returning one feature map, `stage3` at stride 16 (ResNet's C4, where
    VC R-CNN pools RoI features), with microsoft/resnet-50's image processor."""
    from transformers import ResNetBackbone
    from transformers.models.convnext.image_processing_convnext import ConvNextImageProcessor

    ResNetBackbone(_tiny_resnet_config(["stage3"])).save_pretrained(target)
    ConvNextImageProcessor(**RESNET_IMAGE_PROCESSING).save_pretrained(target)
