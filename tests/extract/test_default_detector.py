"""The default regions detector (`facebook/detr-resnet-50`) builds from a clean install (issue 23).

Its config asks for a timm ResNet-50 backbone (`use_timm_backbone: true`), so `timm` is a dependency.
Random weights, no download: the backbone's ImageNet weights are switched off as `from_pretrained`
does when it loads the checkpoint's own weights.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForObjectDetection

from videolang.extract.regions import RegionExtractor

CONFIG = Path(__file__).parents[1] / "data" / "detr-resnet-50.architecture.json"


def test_default_detector_builds_with_its_timm_backbone(tmp_path):
    assert inspect.signature(RegionExtractor).parameters["model"].default == "facebook/detr-resnet-50"
    fields = {k: v for k, v in json.loads(CONFIG.read_text()).items() if not k.startswith("_")}
    (tmp_path / "config.json").write_text(json.dumps(fields))
    config = AutoConfig.from_pretrained(tmp_path, use_pretrained_backbone=False)
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
