"""WideResNet-28-2 against solo-learn's architecture (wide_resnet28w2), written out here."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ortho_suite.cli import main
from ortho_suite.models import WideResNet, backbone_feature_dim
from ortho_suite.regularizers import orthogonality_penalty, regularized_weights


def _solo_learn_wrn_parameter_count(depth: int, k: int, base: int = 16) -> int:
    """Parameters of solo-learn's WideResNet (no classifier), from its layout: 3x3 stem conv with
    bias; per block BN(in), conv3x3(in -> out) + bias, BN(out), conv3x3(out -> out) + bias and,
    when in != out, a 1x1 shortcut conv + bias; a final BN. A BN has 2 parameters per channel."""
    n = (depth - 4) // 6
    widths = [base, base * k, 2 * base * k, 4 * base * k]
    total = 3 * base * 9 + base
    for group in range(3):
        for i in range(n):
            cin, cout = (widths[group] if i == 0 else widths[group + 1]), widths[group + 1]
            total += 2 * cin + (cin * cout * 9 + cout) + 2 * cout + (cout * cout * 9 + cout)
            if cin != cout:
                total += cin * cout + cout
    return total + 2 * widths[-1]


def test_parameter_count_at_full_width_is_solo_learns():
    expected = _solo_learn_wrn_parameter_count(28, 2)
    assert expected == 1_468_352  # the formula's value, for the record
    assert sum(p.numel() for p in WideResNet(depth=28, widen_factor=2).parameters()) == expected


def test_layout_matches_solo_learn():
    net = WideResNet()
    convs = {name: m for name, m in net.named_modules() if isinstance(m, nn.Conv2d)}
    assert all(m.bias is not None for m in convs.values())  # every conv has a bias
    assert len(convs) == 1 + 3 * 4 * 2 + 3  # stem, 2 per block, 3 shortcuts
    assert tuple(net.conv1.weight.shape) == (16, 3, 3, 3) and net.conv1.stride == (1, 1)
    assert [tuple(convs[f"layer{g}.0.downsample"].weight.shape) for g in (1, 2, 3)] == [
        (32, 16, 1, 1), (64, 32, 1, 1), (128, 64, 1, 1)]
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(m.momentum == 0.001 and m.eps == 0.001 for m in bns)
    assert all(m.negative_slope == 0.1 for m in net.modules() if isinstance(m, nn.LeakyReLU))
    assert not any(isinstance(m, (nn.Linear, nn.ReLU)) for m in net.modules())


@pytest.mark.parametrize("width", [4, 8])
def test_stage_shapes_and_feature_dim(width):
    net = WideResNet(width=width, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = net(torch.randn(2, 3, 32, 32))
    k = 2
    assert [tuple(o.shape[1:]) for o in outs] == [
        (width, 32, 32), (width * k, 32, 32), (2 * width * k, 16, 16), (4 * width * k, 8, 8)]
    dim = backbone_feature_dim(dict(type="WideResNet", width=width, widen_factor=k))
    assert dim == outs[-1].shape[1] == 4 * width * k
    assert backbone_feature_dim(dict(type="WideResNet", depth=28, widen_factor=2, width=16)) == 128


def _reference_forward(p: dict, x: torch.Tensor, blocks: int = 4) -> torch.Tensor:
    """solo-learn's WideResNet forward written functionally over the state dict (BN in eval
    mode): a block whose width changes feeds its shortcut and first conv with BN-LeakyReLU of
    the input in group 1 (activate_before_residual) and with the raw input in groups 2 and 3."""
    def bn(name, t):
        return F.batch_norm(t, p[f"{name}.running_mean"], p[f"{name}.running_var"],
                            p[f"{name}.weight"], p[f"{name}.bias"], training=False, eps=1e-3)

    def conv(name, t, stride, padding):
        return F.conv2d(t, p[f"{name}.weight"], p[f"{name}.bias"], stride, padding)

    def act(t):
        return F.leaky_relu(t, 0.1)

    x = conv("conv1", x, 1, 1)
    for group, stride in ((1, 1), (2, 2), (3, 2)):
        for i in range(blocks):
            name, s = f"layer{group}.{i}", stride if i == 0 else 1
            if f"{name}.downsample.weight" in p:
                if group == 1:
                    x = act(bn(f"{name}.bn1", x))
                inner, shortcut = x, conv(f"{name}.downsample", x, s, 0)
            else:
                inner, shortcut = act(bn(f"{name}.bn1", x)), x
            out = act(bn(f"{name}.bn2", conv(f"{name}.conv1", inner, s, 1)))
            x = shortcut + conv(f"{name}.conv2", out, 1, 1)
    return act(bn("final_bn", x))


def test_forward_matches_solo_learns_block_semantics():
    torch.manual_seed(0)
    net = WideResNet(width=4)
    with torch.no_grad():  # non-trivial BN statistics and affine parameters, so every BN matters
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    net.eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        (ours,) = net(x)
        expected = _reference_forward(dict(net.state_dict()), x)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


def test_unused_batch_norms_are_frozen_and_every_trainable_parameter_gets_a_gradient():
    """DDP (find_unused_parameters=False) fails on trainable parameters without a gradient."""
    net = WideResNet(width=4).train()
    (out,) = net(torch.randn(4, 3, 32, 32))
    out.mean(dim=(2, 3)).square().sum().backward()
    frozen = {n for n, p in net.named_parameters() if not p.requires_grad}
    assert frozen == {"layer2.0.bn1.weight", "layer2.0.bn1.bias",
                      "layer3.0.bn1.weight", "layer3.0.bn1.bias"}
    missing = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []


def test_so_penalty_covers_every_conv_weight():
    torch.manual_seed(0)
    net = WideResNet(width=4)
    names = {name for name, _ in regularized_weights(net)}
    assert names == {n for n, p in net.named_parameters() if p.dim() == 4}  # all convs, no Linear
    expected = 0.0
    for p in net.parameters():
        if p.dim() == 4:
            w = p.detach().double().reshape(p.shape[0], -1).numpy()  # (output, input)
            gram = w @ w.T if w.shape[1] > w.shape[0] else w.T @ w
            expected += float(np.square(gram - np.eye(len(gram))).sum())
    ours = orthogonality_penalty(net, "so").item()
    assert ours == pytest.approx(expected, rel=1e-5)


def test_pretrain_and_evaluate_with_wrn(tmp_path):
    """Two iterations through the command line with SO, then `evaluate`: three hidden stages,
    every conv weight's spectrum."""
    work_dir = tmp_path / "wrn"
    rc = main(["pretrain", "--method", "simclr", "--backbone", "wrn28_2", "--dataset", "synthetic",
               "--reg", "so", "--work-dir", str(work_dir), "--epochs", "1", "--cfg-options",
               "model.backbone.width=8", "model.neck.hid_channels=64", "model.neck.out_channels=32",
               "train_dataloader.batch_size=16", "train_dataloader.dataset.num_samples=32"])
    assert rc == 0
    summary = json.loads((work_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["iterations"] == 2
    assert all(row["reg_penalty"] > 0 for row in summary["train_log"])
    assert 1 <= summary["monitor"][0]["effective_rank"] <= 64  # 64-d representation at width 8
    assert main(["evaluate", "--work-dir", str(work_dir), "--out", str(tmp_path / "eval"),
                 "--probe-epochs", "1"]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["features"]["representation_dim"] == 64
    assert set(metrics["hidden"]) == {"stage1", "stage2", "stage3"}
    assert len(metrics["weights"]) == 1 + 3 * 4 * 2 + 3
