"""WideResNet-28-2, laid out as solo-learn's ``wide_resnet28w2`` (the OR paper's WRN rows).

solo-learn's WideResNet (solo/backbones/wide_resnet/, after FixMatch's timm-style network) for
32x32 inputs: a 3x3 stem conv to 16 channels, three groups of (depth - 4) / 6 pre-activation
basic blocks with 16k, 32k and 64k channels (k = ``widen_factor``; strides 1, 2, 2), then a final
BatchNorm and activation before global average pooling. The representation has 64k dimensions
(128 for WRN-28-2) and there is no classifier. Its particulars, all kept here:

- every conv has a bias; BatchNorm momentum 0.001 (PyTorch convention) and eps 0.001;
  LeakyReLU with slope 0.1 instead of ReLU; dropout (``drop_rate``, default 0) between the two
  convs of a block; Kaiming-normal conv weights (fan-out, LeakyReLU gain with slope 0).
- in a block whose width changes, the 1x1 shortcut conv and the first 3x3 conv both read the
  activated input (BN-LeakyReLU) in the first group, but the *raw* input in the second and third
  groups: there the block's first BN is built and never used. Its parameters are kept (so the
  parameter count and the state-dict layout are solo-learn's) but frozen, because they never
  receive a gradient and DDP (``find_unused_parameters=False``) rejects parameters without one;
  solo-learn still updates its running statistics, which nothing reads, and this code does not.

Stage indexing follows mmselfsup's ResNet: 0 = stem conv, 1..3 = groups; the output of group 3
includes the final BN-LeakyReLU (the representation's source), groups 1 and 2 give the raw
residual stream (a pre-activation net normalizes at the start of the next block). The groups are
named ``layer1..layer3`` and the 1x1 shortcut convs ``downsample``, as in ResNet, so the weight
diagnostics of :mod:`ortho_suite.evaluate` read them the same way.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmselfsup.registry import MODELS

from .precision import backbone_autocast

# solo-learn's WideResNet: BatchNorm2d(momentum=0.001, eps=0.001), LeakyReLU(0.1).
BN_MOMENTUM, BN_EPS, LEAKY_SLOPE = 0.001, 0.001, 0.1


def wide_resnet_feature_dim(width: int = 16, widen_factor: int = 2) -> int:
    """Width of the pooled representation: the last group's 4 * width * widen_factor channels."""
    return 4 * width * widen_factor


class WideBasicBlock(nn.Module):
    """Pre-activation block: BN-act-conv3x3-BN-act-(dropout)-conv3x3 plus a shortcut.

    ``activate_before_residual``: when the width changes, the shortcut and the first conv read the
    activated input (True: solo-learn's first group) or the raw input (False: later groups).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, drop_rate: float = 0.0,
                 activate_before_residual: bool = False) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.act1 = nn.LeakyReLU(LEAKY_SLOPE)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.act2 = nn.LeakyReLU(LEAKY_SLOPE)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=True)
        self.drop_rate = drop_rate
        self.activate_before_residual = activate_before_residual
        self.downsample = (None if in_channels == out_channels else
                           nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=True))
        if self.downsample is not None and not activate_before_residual:
            self.bn1.requires_grad_(False)  # built as in solo-learn, never on the forward path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is None:
            shortcut, inner = x, self.act1(self.bn1(x))
        else:
            if self.activate_before_residual:
                x = self.act1(self.bn1(x))
            shortcut, inner = self.downsample(x), x
        out = self.act2(self.bn2(self.conv1(inner)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return shortcut + self.conv2(out)


@MODELS.register_module()
class WideResNet(nn.Module):
    """WideResNet-``depth``-``widen_factor`` for 32x32 inputs, as solo-learn's ``WideResNet``.

    Args:
        depth: 6n + 4 (28: four blocks per group).
        widen_factor: k; the groups have ``width * k``, ``2 * width * k``, ``4 * width * k``
            channels.
        width: channels of the stem conv, 16 in the paper and solo-learn; CPU runs shrink it
            (the representation has ``4 * width * widen_factor`` dimensions).
        drop_rate: dropout between the two convs of every block (solo-learn's default 0).
        in_channels: image channels.
        out_indices: stages returned, 0 = stem, 1..3 = groups (3 = the representation's source).
    """

    num_stages = 3
    feature_stages = (1, 2, 3)  # every group, for the hidden-feature diagnostics (evaluate.py)

    def __init__(self, depth: int = 28, widen_factor: int = 2, width: int = 16,
                 drop_rate: float = 0.0, in_channels: int = 3,
                 out_indices: tuple[int, ...] | list[int] = (3,)) -> None:
        super().__init__()
        if (depth - 4) % 6 or depth < 10:
            raise ValueError(f"WideResNet depth must be 6n + 4 with n >= 1, got {depth}")
        if width < 1 or widen_factor < 1:
            raise ValueError(f"WideResNet width and widen_factor must be >= 1, got {width}, "
                             f"{widen_factor}")
        if not out_indices or any(i not in range(self.num_stages + 1) for i in out_indices):
            raise ValueError(f"WideResNet out_indices must be in 0..{self.num_stages}, got "
                             f"{list(out_indices)}")
        blocks = (depth - 4) // 6
        widths = [width, width * widen_factor, 2 * width * widen_factor, 4 * width * widen_factor]
        self.depth, self.widen_factor, self.width = depth, widen_factor, width
        self.out_indices = tuple(out_indices)
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=True)
        for group, stride in enumerate((1, 2, 2), start=1):
            self.add_module(f"layer{group}", nn.Sequential(*[
                WideBasicBlock(widths[group - 1] if i == 0 else widths[group], widths[group],
                               stride if i == 0 else 1, drop_rate,
                               activate_before_residual=group == 1)
                for i in range(blocks)]))
        self.final_bn = nn.BatchNorm2d(widths[-1], momentum=BN_MOMENTUM, eps=BN_EPS)
        self.final_act = nn.LeakyReLU(LEAKY_SLOPE)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="leaky_relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @backbone_autocast
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.conv1(x)
        outs = [x] if 0 in self.out_indices else []
        for stage in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{stage}")(x)
            if stage == self.num_stages:
                x = self.final_act(self.final_bn(x))
            if stage in self.out_indices:
                outs.append(x)
        return tuple(outs)
