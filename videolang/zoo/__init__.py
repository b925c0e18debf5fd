"""The model zoo: tiny, randomly initialised but structurally real models, and the real Whisper-base.

`build_zoo(out_dir)` writes, under `out_dir` (`${paths.model_dir}` in configs):
- `tiny-clip/`       CLIPModel + CLIPProcessor (`AutoModel` / `AutoProcessor`)
- `tiny-t5/`         T5ForConditionalGeneration + a T5 tokenizer trained on the given texts
- `tiny-whisper.pt`  an openai-whisper checkpoint (`whisper.load_model(path)`)
- `tiny-audio/`      ASTModel + ASTFeatureExtractor (`AutoModel` / `AutoFeatureExtractor`)
- `tiny-detr/`       DetrForObjectDetection + DetrImageProcessor (`AutoModelForObjectDetection` / `AutoImageProcessor`)
- `tiny-backbone/`   ResNetBackbone (one stride-16 map) + image processor (`commonsense.roi.load_backbone` / `AutoImageProcessor`)
- `whisper-base-ct2/` the real Whisper-base, CTranslate2 format (`faster_whisper.WhisperModel(path)`)
See docs/zoo.md.
"""
from videolang.zoo.registry import ZOO, ZooModel, ZooPaths, build_zoo, register_zoo_model
from videolang.zoo.text import corpus_texts
from videolang.zoo import tiny as _tiny  # noqa: F401  (registers the tiny models)
from videolang.zoo.whisper_base import WHISPER_BASE_DIRNAME, assemble_whisper_base, verify_whisper_base

__all__ = [
    "ZOO", "ZooModel", "ZooPaths", "build_zoo", "register_zoo_model", "corpus_texts",
    "assemble_whisper_base", "verify_whisper_base", "WHISPER_BASE_DIRNAME",
]
