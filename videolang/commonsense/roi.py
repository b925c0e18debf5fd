"""RoI features: a vision backbone, RoIAlign 7x7 and two FC layers, one d-vector per box.

This is the feature extractor of VC R-CNN (Faster R-CNN's box head without its
classifier). Two backbone families sit behind one interface:

- `hf`: any Hugging Face backbone loadable with `AutoBackbone` (ResNet, ConvNeXt, Swin, ...);
  one feature map (`out_feature`, default the backbone's last) and `torchvision.ops.roi_align`.
- `torchvision_fpn`: torchvision's ResNet-FPN (`resnet_fpn_backbone`) with the
  multi-scale RoIAlign Faster R-CNN uses; weights from a local file only (no downloads).

The backbone's architecture (its config) is stored in checkpoints, so a trained
model rebuilds from the checkpoint file alone, wherever it was trained.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from videolang.core.errors import ConfigError
from videolang.core.quiet import quiet_transformers

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class HFBackbone(nn.Module):
    """One feature map of a Hugging Face `AutoBackbone`, RoIAligned at its stride."""

    def __init__(self, name: str | None = None, out_feature: str | None = None, config: dict | None = None,
                 mean: tuple | None = None, std: tuple | None = None):
        super().__init__()
        with quiet_transformers():
            if config is not None:  # rebuilding from a checkpoint: architecture only, the weights follow
                self.net = backbone_from_config(config)
            else:
                if not name:
                    raise ConfigError("the hf RoI backbone needs a model name or folder (backbone.name)")
                self.net = load_backbone(str(name))
        names = list(self.net.out_features)
        self.out_feature = out_feature or names[-1]
        if self.out_feature not in names:
            raise ConfigError(f"backbone has no output '{self.out_feature}'; it has {names} "
                              f"(set the backbone's out_features or backbone.out_feature)")
        self.index = names.index(self.out_feature)
        self.out_channels = int(self.net.channels[self.index])
        if mean is None and name:
            mean, std = _processor_stats(str(name))
        self.register_buffer("mean", torch.tensor(mean or IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std or IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def describe(self) -> dict[str, Any]:
        return {"type": "hf", "config": self.net.config.to_dict(), "out_feature": self.out_feature,
                "mean": self.mean.flatten().tolist(), "std": self.std.flatten().tolist()}

    def forward(self, images: torch.Tensor, boxes: list[torch.Tensor], output_size: int) -> torch.Tensor:
        from torchvision.ops import roi_align

        x = (images - self.mean) / self.std
        fmap = self.net(pixel_values=x).feature_maps[self.index]
        scale = fmap.shape[-1] / images.shape[-1]
        return roi_align(fmap, [b.to(fmap.dtype) for b in boxes], output_size, spatial_scale=scale,
                         sampling_ratio=2, aligned=True)


class TorchvisionFPN(nn.Module):
    """torchvision's ResNet-FPN with Faster R-CNN's multi-scale RoIAlign (levels by box size)."""

    def __init__(self, arch: str = "resnet50", weights_file: str | None = None, trainable_layers: int = 3,
                 mean: tuple | None = None, std: tuple | None = None, **_: Any):
        super().__init__()
        from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
        from torchvision.ops import MultiScaleRoIAlign

        self.arch, self.trainable_layers = arch, int(trainable_layers)
        self.net = resnet_fpn_backbone(backbone_name=arch, weights=None, trainable_layers=self.trainable_layers)
        if weights_file:
            self.net.load_state_dict(_load_weights(weights_file), strict=False)
        self.out_channels = int(self.net.out_channels)
        self.pool = MultiScaleRoIAlign(["0", "1", "2", "3"], output_size=7, sampling_ratio=2)
        self.register_buffer("mean", torch.tensor(mean or IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std or IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def describe(self) -> dict[str, Any]:
        # weights travel in the checkpoint's state dict: the file is not needed to rebuild
        return {"type": "torchvision_fpn", "arch": self.arch, "trainable_layers": self.trainable_layers,
                "mean": self.mean.flatten().tolist(), "std": self.std.flatten().tolist()}

    def forward(self, images: torch.Tensor, boxes: list[torch.Tensor], output_size: int) -> torch.Tensor:
        if output_size != self.pool.output_size[0]:
            from torchvision.ops import MultiScaleRoIAlign

            self.pool = MultiScaleRoIAlign(["0", "1", "2", "3"], output_size=output_size, sampling_ratio=2)
        x = (images - self.mean) / self.std
        feats = self.net(x)
        sizes = [tuple(images.shape[-2:])] * images.shape[0]
        return self.pool(feats, [b.to(x.dtype) for b in boxes], sizes)


def build_backbone(spec: dict[str, Any]) -> nn.Module:
    """`{"type": "hf", "name": ...}` or `{"type": "torchvision_fpn", "arch": ..., "weights_file": ...}`."""
    spec = dict(spec)
    kind = spec.pop("type", "hf")
    if kind == "hf":
        return HFBackbone(**{k: spec.get(k) for k in ("name", "out_feature", "config", "mean", "std")})
    if kind == "torchvision_fpn":
        return TorchvisionFPN(**spec)
    raise ConfigError(f"unknown RoI backbone type {kind!r}; one of hf, torchvision_fpn")


class RoIFeatureNet(nn.Module):
    """Images (B, 3, H, W) in [0, 1] + boxes per image (xyxy, pixels) -> one `dim`-vector per box.

    Faster R-CNN's TwoMLPHead: RoIAlign `pool_size` x `pool_size`, flatten, FC-ReLU, FC-ReLU.
    `freeze_backbone` keeps the backbone's weights (and batch-norm statistics) fixed: the
    proxy task then trains the two FC layers and the predictors, which a CPU can do.
    """

    def __init__(self, backbone: dict[str, Any], dim: int = 1024, pool_size: int = 7, freeze_backbone: bool = True):
        super().__init__()
        self.backbone = build_backbone(backbone)
        self.pool_size, self.dim, self.freeze_backbone = int(pool_size), int(dim), bool(freeze_backbone)
        flat = self.backbone.out_channels * self.pool_size ** 2
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(flat, dim), nn.ReLU(inplace=True),
                                nn.Linear(dim, dim), nn.ReLU(inplace=True))
        if self.freeze_backbone:
            self.backbone.requires_grad_(False)

    def train(self, mode: bool = True) -> "RoIFeatureNet":
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()  # frozen means frozen batch-norm statistics too
        return self

    def forward(self, images: torch.Tensor, boxes: list[torch.Tensor]) -> torch.Tensor:
        """-> (sum of boxes, dim), boxes in the order given."""
        if sum(len(b) for b in boxes) == 0:
            return images.new_zeros((0, self.dim))
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_backbone):
            pooled = self.backbone(images, boxes, self.pool_size)
        return self.fc(pooled)


def _backbone_class(config):
    from transformers.models.auto.modeling_auto import MODEL_FOR_BACKBONE_MAPPING

    try:
        return MODEL_FOR_BACKBONE_MAPPING[type(config)]
    except KeyError:
        raise ConfigError(f"{type(config).__name__} has no backbone class in transformers "
                          "(use a ResNet, ConvNeXt, Swin, DINOv2, ... checkpoint)") from None


def load_backbone(name_or_path: str, **kwargs: Any) -> nn.Module:
    """An HF vision backbone from a hub name or a local folder.

    What `transformers.AutoBackbone.from_pretrained` should do: in transformers 5 it first asks
    the hub whether the name is a repo, which fails for every local folder and offline. This
    reads the config and picks the class from transformers' own backbone mapping instead.
    """
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(name_or_path)
    return _backbone_class(config).from_pretrained(name_or_path, **kwargs)


def backbone_from_config(config: dict[str, Any]) -> nn.Module:
    """The same architecture with fresh weights, from a config dict stored in a checkpoint."""
    from transformers import AutoConfig

    cfg = AutoConfig.for_model(**config)
    return _backbone_class(cfg)(cfg)


def _processor_stats(name: str) -> tuple[tuple | None, tuple | None]:
    """The image processor's normalisation (ImageNet statistics when the model has no processor)."""
    try:
        from transformers import AutoImageProcessor

        proc = AutoImageProcessor.from_pretrained(name)
        return tuple(proc.image_mean), tuple(proc.image_std)
    except (OSError, ValueError, AttributeError, TypeError):
        return None, None


def _load_weights(path: str) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors or a torch file (weights only, never pickle code)."""
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(str(path), map_location="cpu", weights_only=True)
