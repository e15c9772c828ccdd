"""Backbones the papers' tables use that mmselfsup does not ship.

``ResNetScaled`` is mmselfsup's ResNet (ImageNet stem) with a ``width`` multiplier so CPU runs
can use narrow networks. ``ResNetCIFAR`` is the CIFAR variant used by solo-learn, the OR paper and
INTL for 32x32 inputs: a 3x3 stride-1 stem convolution and no max-pool (He et al. 2016, Sec. 4.2
style; solo-learn replaces ``conv1`` and drops ``maxpool`` the same way). Both keep mmselfsup's
stage indexing (0 = stem, 1..4 = stages), which the hidden-feature diagnostics rely on.
"""
from __future__ import annotations

from torch import nn

from mmcv.cnn import build_conv_layer, build_norm_layer
from mmselfsup.models.backbones import ResNet
from mmselfsup.registry import MODELS

from .precision import backbone_autocast


@MODELS.register_module()
class ResNetScaled(ResNet):
    """mmselfsup's ResNet (ImageNet stem: 7x7 stride-2 conv and max-pool) with a ``width``
    multiplier, so CPU runs can use narrow networks; at width 64 it is the papers' ResNet.

    Args:
        depth: 18, 34, 50, 101 or 152.
        width: channels of the stem and of the first stage (64 in the papers). The later stages
            double it as usual, so the representation has ``8 * width * expansion`` dimensions.
        **kwargs: any argument of ``mmselfsup.models.backbones.ResNet``.
    """

    def __init__(self, depth: int, width: int = 64, **kwargs) -> None:
        if width < 1:
            raise ValueError(f"{type(self).__name__} width must be >= 1, got {width}")
        kwargs.setdefault("stem_channels", width)
        kwargs.setdefault("base_channels", width)
        super().__init__(depth=depth, **kwargs)
        self.width = width

    @backbone_autocast
    def forward(self, x):
        return super().forward(x)

    def train(self, mode: bool = True) -> "ResNetScaled":
        # mmcls' ResNet.train() returns None, so `net.eval()` would too; torch's contract is self.
        super().train(mode)
        return self


@MODELS.register_module()
class ResNetCIFAR(ResNetScaled):
    """ResNet with a CIFAR stem (3x3 conv, stride 1, no max-pool) and a width multiplier.

    Args:
        depth, width: as :class:`ResNetScaled`.
        stem_padding: padding of the 3x3 stem conv: 1 (mmcls, LightlySSL; 32x32 maps) or 2
            (solo-learn's CIFAR ResNets, whose runs the OR paper reports; 34x34 maps).
        **kwargs: any argument of ``mmselfsup.models.backbones.ResNet``.
    """

    def __init__(self, depth: int, width: int = 64, stem_padding: int = 1, **kwargs) -> None:
        self.stem_padding = stem_padding  # read by _make_stem_layer during super().__init__
        super().__init__(depth=depth, width=width, **kwargs)
        self.maxpool = nn.Identity()

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        self.conv1 = build_conv_layer(
            self.conv_cfg, in_channels, stem_channels, kernel_size=3, stride=1,
            padding=self.stem_padding, bias=False)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)


def backbone_feature_dim(backbone_cfg: dict) -> int:
    """Dimension of the pooled representation of a ResNet backbone config, without building it."""
    if backbone_cfg.get("type") == "VisionTransformerCLS":  # the CLS token (models/vit.py)
        return backbone_cfg["embed_dim"]
    if backbone_cfg.get("type") == "WideResNet":  # models/wide_resnet.py
        from .wide_resnet import wide_resnet_feature_dim
        return wide_resnet_feature_dim(backbone_cfg.get("width", 16),
                                       backbone_cfg.get("widen_factor", 2))
    depth = backbone_cfg["depth"]
    base = backbone_cfg.get("base_channels", backbone_cfg.get("width", 64))
    expansion = 4 if depth >= 50 else 1
    num_stages = backbone_cfg.get("num_stages", 4)
    return base * 2 ** (num_stages - 1) * expansion
