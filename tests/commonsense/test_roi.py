"""RoI features: both backbone families give one d-vector per box; weights load from safe files only."""
from __future__ import annotations

import pytest
import torch

from videolang.commonsense.roi import RoIFeatureNet
from videolang.core.errors import ConfigError

BOXES = [torch.tensor([[10.0, 10.0, 60.0, 90.0], [100.0, 50.0, 220.0, 200.0]]), torch.zeros((0, 4)),
         torch.tensor([[0.0, 0.0, 224.0, 224.0]])]


def test_torchvision_fpn_backbone_with_weights_from_a_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = RoIFeatureNet({"type": "torchvision_fpn", "arch": "resnet18", "trainable_layers": 0}, dim=16).eval()
    images = torch.rand(3, 3, 224, 224)
    out = net(images, BOXES)
    assert out.shape == (3, 16) and torch.isfinite(out).all()
    path = tmp_path / "fpn.safetensors"
    save_file({k: v.contiguous() for k, v in net.backbone.net.state_dict().items()}, str(path))
    loaded = RoIFeatureNet({"type": "torchvision_fpn", "arch": "resnet18", "weights_file": str(path)}, dim=16).eval()
    loaded.fc.load_state_dict(net.fc.state_dict())
    assert torch.allclose(loaded(images, BOXES), out, atol=1e-6)


def test_hf_backbone_features_depend_on_the_box_and_frozen_means_no_gradient(zoo):
    torch.manual_seed(0)
    net = RoIFeatureNet({"type": "hf", "name": str(zoo["tiny-backbone"])}, dim=8).train()
    assert not net.backbone.training  # frozen: batch-norm statistics stay fixed in training mode too
    images = torch.rand(3, 3, 224, 224)
    out = net(images, BOXES)
    assert out.shape == (3, 8)
    moved = net(images, [BOXES[0] + 30, BOXES[1], BOXES[2]])
    assert not torch.allclose(out[0], moved[0]) and torch.allclose(out[2], moved[2])
    out.sum().backward()
    assert all(p.grad is None for p in net.backbone.parameters())
    assert net.fc[1].weight.grad is not None
    assert net(images, [torch.zeros((0, 4))] * 3).shape == (0, 8)


def test_unknown_backbone_type_or_output_is_a_config_error(zoo):
    with pytest.raises(ConfigError, match="unknown RoI backbone type"):
        RoIFeatureNet({"type": "timm"})
    with pytest.raises(ConfigError, match="has no output 'stage9'"):
        RoIFeatureNet({"type": "hf", "name": str(zoo["tiny-backbone"]), "out_feature": "stage9"})
