"""The CIFAR-stem ResNet against an independent construction from torchvision."""
from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from ortho_suite import build
from ortho_suite.models import ResNetCIFAR, backbone_feature_dim
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose


def _torchvision_cifar_resnet18() -> nn.Module:
    """The usual CIFAR ResNet-18 recipe (solo-learn, LightlySSL): torchvision's ResNet-18 with
    conv1 replaced by a 3x3 stride-1 conv, the max-pool removed and no classifier."""
    net = torchvision.models.resnet18()
    net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return net


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_same_parameter_count_as_torchvision_recipe():
    ours = ResNetCIFAR(depth=18, width=64, out_indices=[4])
    assert _count(ours) == _count(_torchvision_cifar_resnet18())


def test_same_layer_shapes_as_torchvision_recipe():
    ours = ResNetCIFAR(depth=18, width=64, out_indices=[4])
    reference = _torchvision_cifar_resnet18()
    ours_shapes = sorted(tuple(m.weight.shape) for m in ours.modules() if isinstance(m, nn.Conv2d))
    ref_shapes = sorted(tuple(m.weight.shape) for m in reference.modules() if isinstance(m, nn.Conv2d))
    assert ours_shapes == ref_shapes
    assert tuple(ours.conv1.weight.shape) == (64, 3, 3, 3) and ours.conv1.stride == (1, 1)


@pytest.mark.parametrize("width", [4, 8, 16])
def test_stage_resolutions_and_width(width):
    net = ResNetCIFAR(depth=18, width=width, out_indices=[0, 1, 2, 3, 4]).eval()
    with torch.no_grad():
        outs = net(torch.randn(2, 3, 32, 32))
    # no stem down-sampling: 32x32 after the stem and the first stage, then halved per stage
    assert [tuple(o.shape[1:]) for o in outs] == [
        (width, 32, 32), (width, 32, 32), (2 * width, 16, 16), (4 * width, 8, 8), (8 * width, 4, 4)]
    assert backbone_feature_dim(dict(depth=18, width=width)) == 8 * width


def test_feature_dim_of_bottleneck_resnet():
    net = ResNetCIFAR(depth=50, width=8, out_indices=[4]).eval()
    with torch.no_grad():
        (out,) = net(torch.randn(2, 3, 32, 32))
    assert out.shape[1] == backbone_feature_dim(dict(depth=50, width=8)) == 256


def test_solo_learn_stem_padding_gives_34px_maps():
    net = ResNetCIFAR(depth=18, width=4, stem_padding=2, out_indices=[0, 4])
    net.eval()
    with torch.no_grad():
        stem, last = net(torch.randn(1, 3, 32, 32))
    assert stem.shape[-2:] == (34, 34) and last.shape[-2:] == (5, 5)


@pytest.mark.parametrize("depth,make", [(18, torchvision.models.resnet18),
                                        (50, torchvision.models.resnet50)])
def test_imagenet_stem_resnet_matches_torchvision(depth, make):
    """ResNetScaled at width 64 is torchvision's ResNet without its classifier: same layer shapes,
    same parameter count, 7x7 stride-2 stem and a max-pool (224 px -> 7x7 maps)."""
    from ortho_suite.models import ResNetScaled

    ours = ResNetScaled(depth=depth, width=64, out_indices=[4]).eval()
    reference = make()
    reference.fc = nn.Identity()
    assert _count(ours) == _count(reference)
    shapes = lambda net: sorted(tuple(m.weight.shape) for m in net.modules()  # noqa: E731
                                if isinstance(m, nn.Conv2d))
    assert shapes(ours) == shapes(reference)
    assert ours.conv1.kernel_size == (7, 7) and ours.conv1.stride == (2, 2)
    with torch.no_grad():
        (out,) = ours(torch.randn(1, 3, 224, 224))
    assert tuple(out.shape[1:]) == (backbone_feature_dim(dict(depth=depth, width=64)), 7, 7)


def test_imagenet_stem_resnet_width_and_train_contract():
    from ortho_suite.models import ResNetScaled

    net = ResNetScaled(depth=50, width=4, out_indices=[4])
    assert net.eval() is net and not net.training
    with torch.no_grad():
        (out,) = net(torch.randn(2, 3, 64, 64))
    assert out.shape[1] == backbone_feature_dim(dict(depth=50, width=4)) == 128


def test_resnet50_cifar_is_the_torchvision_recipe_with_a_cifar_stem():
    """The `resnet50_cifar` catalog entry: solo-learn's CIFAR ResNet-50 (torchvision's ResNet-50,
    3x3 stride-1 stem, no max-pool, no classifier), 2048-d representation at width 64."""
    from ortho_suite import catalog

    entry = catalog.lookup("backbones", "resnet50_cifar")
    assert entry.family == "resnet50"
    cfg = compose.compose_config(RunSpec("simclr", "resnet50_cifar", "synthetic"), "/tmp/unused")
    ours = build.build_model(cfg).backbone
    reference = torchvision.models.resnet50()
    reference.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    reference.maxpool, reference.fc = nn.Identity(), nn.Identity()
    assert _count(ours) == _count(reference)
    assert isinstance(ours.maxpool, nn.Identity) and ours.conv1.kernel_size == (3, 3)
    assert cfg.model.neck.in_channels == 2048


def test_or_penalty_covers_every_conv_weight_of_resnet50_cifar():
    import numpy as np

    from ortho_suite.regularizers import orthogonality_penalty, regularized_weights

    torch.manual_seed(0)
    net = ResNetCIFAR(depth=50, width=4, out_indices=[4])
    convs = {n for n, p in net.named_parameters() if p.dim() == 4}
    assert {name for name, _ in regularized_weights(net)} == convs and len(convs) == 53
    expected = 0.0
    for name, p in net.named_parameters():
        if name in convs:
            w = p.detach().double().reshape(p.shape[0], -1).numpy()  # (output, input)
            gram = w @ w.T if w.shape[1] > w.shape[0] else w.T @ w
            expected += float(np.square(gram - np.eye(len(gram))).sum())
    assert orthogonality_penalty(net, "so").item() == pytest.approx(expected, rel=1e-5)


def test_resnet50_cifar_pretrains_through_the_command_line(tmp_path):
    import json

    from ortho_suite.cli import main

    rc = main(["pretrain", "--method", "byol", "--backbone", "resnet50_cifar", "--dataset",
               "synthetic", "--reg", "srip", "--work-dir", str(tmp_path / "r50"), "--epochs", "1",
               "--cfg-options", "model.backbone.width=8", "model.neck.hid_channels=64",
               "model.neck.out_channels=32", "train_dataloader.batch_size=16",
               "train_dataloader.dataset.num_samples=32", "custom_hooks.1.interval=0"])
    assert rc == 0
    summary = json.loads((tmp_path / "r50" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["iterations"] == 2
    assert all(row["reg_penalty"] > 0 for row in summary["train_log"])
    config = (tmp_path / "r50" / "config.py").read_text()
    assert "in_channels=256" in config  # the projector's input: 32 * width
