"""Each zoo model loads through the ordinary library call on its path and runs a forward pass."""
from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image

from videolang.zoo import ZOO

EXPECTED = {"tiny-clip", "tiny-t5", "tiny-whisper.pt", "tiny-audio", "tiny-detr", "tiny-backbone", "whisper-base-ct2"}


def test_zoo_has_the_documented_layout(zoo):
    assert set(zoo) == EXPECTED == set(ZOO)
    assert len({p.parent for p in zoo.values()}) == 1, "all models live in one folder (paths.model_dir)"
    for name, path in zoo.items():
        assert path.name == name and path.exists()
    assert zoo["tiny-whisper.pt"].is_file()


def test_tiny_clip_loads_with_auto_classes_and_embeds_images_and_text(zoo):
    from transformers import AutoModel, AutoProcessor, CLIPModel

    model = AutoModel.from_pretrained(zoo["tiny-clip"]).eval()
    processor = AutoProcessor.from_pretrained(zoo["tiny-clip"])
    assert isinstance(model, CLIPModel)
    ip = processor.image_processor
    assert ip.size == {"shortest_edge": 224} and ip.do_center_crop
    assert ip.crop_size == {"height": 224, "width": 224}
    # Widths differ from each other and from ViT-L/14's 768: code must read them from the config.
    dim = model.config.projection_dim
    assert len({dim, model.config.text_config.hidden_size, model.config.vision_config.hidden_size, 768}) == 4

    frames = [Image.fromarray(np.full((360, 640, 3), v, dtype=np.uint8)) for v in (0, 128, 255)]
    inputs = processor(images=frames, return_tensors="pt")
    assert inputs["pixel_values"].shape == (3, 3, 224, 224)
    text = processor(text=["mixing the dough", "intro"], return_tensors="pt", padding=True)
    with torch.no_grad():
        image_features = model.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output
        text_features = model.get_text_features(**text).pooler_output
    assert image_features.shape == (3, dim) and text_features.shape == (2, dim)
    assert torch.isfinite(image_features).all() and torch.isfinite(text_features).all()


def test_tiny_clip_tokenizer_is_laid_out_like_clips(zoo):
    from transformers import AutoTokenizer, CLIPTokenizer

    tok = AutoTokenizer.from_pretrained(zoo["tiny-clip"])
    assert isinstance(tok, CLIPTokenizer) and tok.model_max_length == 77
    vocab = tok.get_vocab()
    assert vocab["<|endoftext|>"] == len(vocab) - 1 and vocab["<|startoftext|>"] == len(vocab) - 2
    assert vocab["!"] == 0 and vocab["!</w>"] == 256  # 256 byte symbols, then the same with </w>
    ids = tok("Mixing THE Dough!").input_ids
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.decode(ids, skip_special_tokens=True) == "mixing the dough !"
    assert tok.unk_token_id not in tok("Crème brûlée, 12:30 — ok?").input_ids[1:-1]  # byte-level: no unknowns


def test_tiny_t5_generates_and_its_tokenizer_is_t5_style(zoo):
    from transformers import AutoTokenizer, T5ForConditionalGeneration, T5Tokenizer

    model = T5ForConditionalGeneration.from_pretrained(zoo["tiny-t5"]).eval()
    tok = AutoTokenizer.from_pretrained(zoo["tiny-t5"])
    assert isinstance(tok, T5Tokenizer)
    assert (zoo["tiny-t5"] / "spiece.model").is_file()
    assert (tok.pad_token, tok.eos_token, tok.unk_token) == ("<pad>", "</s>", "<unk>")
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    n = len(tok)
    assert model.config.vocab_size == n
    # Sentinels at the end of the vocabulary, <extra_id_0> last, as in t5-base.
    assert tok.convert_tokens_to_ids(["<extra_id_0>", "<extra_id_99>"]) == [n - 1, n - 100]
    assert 300 < n - 100 <= 4000

    text = "Mixing the dough: fold the flour in slowly, then rest it for 10 minutes."
    ids = tok(text).input_ids
    assert ids[-1] == tok.eos_token_id and tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == text
    masked = tok("Mixing <extra_id_0> dough").input_ids
    assert n - 1 in masked

    batch = tok(["summarize: the intro", "a longer input sentence about bikes"], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=8, num_beams=2)
    assert out.shape[0] == 2 and out.shape[1] <= 9 and int(out.max()) < n
    with torch.no_grad():
        loss = model(**batch, labels=tok(["the intro", "bikes"], return_tensors="pt", padding=True).input_ids).loss
    assert torch.isfinite(loss)


def test_tiny_whisper_is_an_openai_whisper_checkpoint_that_transcribes(zoo):
    import whisper

    path = zoo["tiny-whisper.pt"]
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)  # no pickle needed
    assert set(checkpoint) == {"dims", "model_state_dict"}
    model = whisper.load_model(str(path), device="cpu")
    assert model.dims.n_vocab == 51865 and model.dims.n_mels == 80 and model.dims.n_audio_ctx == 1500
    assert all(torch.isfinite(p).all() for p in model.parameters())

    audio = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1  # 1 s
    # Random weights never say <|endoftext|>: cap the tokens per window so this stays quick.
    result = model.transcribe(audio, fp16=False, language="en", temperature=0.0, sample_len=32)
    assert isinstance(result["text"], str) and isinstance(result["segments"], list)
    for segment in result["segments"]:
        assert 0.0 <= segment["start"] <= segment["end"]


def test_tiny_audio_is_an_ast_model_for_16khz_audio(zoo):
    from transformers import ASTFeatureExtractor, ASTModel, AutoFeatureExtractor, AutoModel

    model = AutoModel.from_pretrained(zoo["tiny-audio"]).eval()
    extractor = AutoFeatureExtractor.from_pretrained(zoo["tiny-audio"])
    assert isinstance(model, ASTModel) and isinstance(extractor, ASTFeatureExtractor)
    assert extractor.sampling_rate == 16000

    audio = np.sin(2 * np.pi * 440 * np.arange(3 * 16000) / 16000).astype(np.float32)
    features = extractor(audio, sampling_rate=16000, return_tensors="pt")
    assert features["input_values"].shape == (1, extractor.max_length, extractor.num_mel_bins)
    with torch.no_grad():
        out = model(**features)
    assert out.pooler_output.shape == (1, model.config.hidden_size)
    assert out.last_hidden_state.shape[0] == 1 and torch.isfinite(out.last_hidden_state).all()


def test_tiny_detr_is_an_offline_object_detector_with_detrs_processing(zoo):
    from transformers import AutoImageProcessor, AutoModelForObjectDetection, DetrForObjectDetection

    from videolang.zoo.tiny import TINY_DETR_CLASSES

    model = AutoModelForObjectDetection.from_pretrained(zoo["tiny-detr"]).eval()
    processor = AutoImageProcessor.from_pretrained(zoo["tiny-detr"])
    assert isinstance(model, DetrForObjectDetection)
    assert model.config.backbone_config.model_type == "resnet", "a transformers ResNet, not timm"
    assert [model.config.id2label[i] for i in range(model.config.num_labels)] == TINY_DETR_CLASSES
    assert processor.size["shortest_edge"] == 800 and processor.do_pad

    frames = [np.full((224, 224, 3), v, dtype=np.uint8) for v in (0, 128, 255)]
    inputs = processor(images=frames, return_tensors="pt")
    with torch.no_grad():
        out = model(**inputs)
    queries = model.config.num_queries
    assert out.logits.shape == (3, queries, model.config.num_labels + 1) and out.pred_boxes.shape == (3, queries, 4)
    results = processor.post_process_object_detection(out, threshold=0.0, target_sizes=[(224, 224)] * 3)
    assert len(results) == 3 and results[0]["boxes"].shape == (queries, 4)
    assert int(results[0]["labels"].max()) < model.config.num_labels


def test_tiny_backbone_gives_one_stride_16_feature_map(zoo):
    from transformers import AutoImageProcessor, ResNetBackbone

    from videolang.commonsense.roi import load_backbone

    # transformers.AutoBackbone.from_pretrained asks the hub first (fails offline / for folders): see load_backbone
    backbone = load_backbone(zoo["tiny-backbone"]).eval()
    processor = AutoImageProcessor.from_pretrained(zoo["tiny-backbone"])
    assert isinstance(backbone, ResNetBackbone) and backbone.out_features == ["stage3"]
    pixels = processor(images=[np.zeros((240, 320, 3), np.uint8)], return_tensors="pt")["pixel_values"]
    assert pixels.shape == (1, 3, 224, 224)
    with torch.no_grad():
        (features,) = backbone(pixel_values=torch.randn(2, 3, 224, 320)).feature_maps
    assert features.shape == (2, backbone.channels[0], 14, 20), "stride 16"
    assert load_backbone(zoo["tiny-backbone"], out_features=["stage2"]).channels == [16]


def test_saved_files_name_neither_the_staging_folder_nor_the_hub(zoo):
    """Models are built in a staging folder and renamed: no saved file may point back at it (or at the hub)."""
    for name in ("tiny-clip", "tiny-t5", "tiny-audio", "tiny-detr", "tiny-backbone"):
        for f in zoo[name].glob("*.json"):
            text = f.read_text()
            json.loads(text)
            assert ".building." not in text and "huggingface.co" not in text, f
