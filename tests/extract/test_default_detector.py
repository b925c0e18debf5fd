"""The default regions detector (`facebook/detr-resnet-50`) builds from a clean install (issue 23).

Its config asks for a timm ResNet-50 backbone (`use_timm_backbone: true`), so `timm` is a dependency.
Random weights, no download: the backbone's ImageNet weights are switched off as `from_pretrained`
does when it loads the checkpoint's own weights.

`tests/data/detr-resnet-50.config.json` is the hub model's config.json as distributed in
`Xenova/detr-resnet-50` (the transformers.js conversion of `facebook/detr-resnet-50` at hub commit
480370a8, found in github.com/walrusblob/object-detection, `detr-resnet-50/config.json`, sha256 2daaf8af...).
The conversion loaded and re-saved it, so besides the hub file's fields it carries the keys transformers
wrote then (`_commit_hash`, `_name_or_path`, `backbone_config: null`, `class_cost`); the file is used
unchanged, byte for byte as found.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForObjectDetection

from videolang.extract.regions import RegionExtractor

CONFIG = Path(__file__).parents[1] / "data" / "detr-resnet-50.config.json"


def test_default_detector_builds_with_its_timm_backbone(tmp_path):
    assert inspect.signature(RegionExtractor).parameters["model"].default == "facebook/detr-resnet-50"
    (tmp_path / "config.json").write_bytes(CONFIG.read_bytes())
    config = AutoConfig.from_pretrained(tmp_path, use_pretrained_backbone=False)
    assert config.id2label[1] == "person" and config.id2label[90] == "toothbrush" and len(config.id2label) == 91
    # transformers 5 turns `use_timm_backbone` into a timm backbone config: the part that needs timm
    backbone = config.backbone_config
    assert backbone.model_type == "timm_backbone" and backbone.backbone == "resnet50"
    assert backbone.use_pretrained_backbone is False
    torch.manual_seed(0)
    model = AutoModelForObjectDetection.from_config(config).eval()
    with torch.no_grad():
        out = model(pixel_values=torch.rand(1, 3, 64, 64))
    assert out.logits.shape == (1, 100, 92) and out.pred_boxes.shape == (1, 100, 4)
    assert 40e6 < sum(p.numel() for p in model.parameters()) < 43e6   # DETR R50: 41.5 M
