"""Encoder regularization wired into mmselfsup algorithms: scope, loss terms, end-to-end effect."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ortho_suite import build
from ortho_suite.errors import UsageError
from ortho_suite.regularizers import (
    regularized_weights,
    so_penalty,
    vicreg_variance_covariance,
)
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose, launch
from ortho_suite.train import pretrain as training


def _compose(method, reg="none", options=(), epochs=1, work_dir="/tmp/unused"):
    return compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", reg=reg, epochs=epochs, cfg_options=list(options)), work_dir)


def _build(method, reg, options):
    cfg = _compose(method, reg, options)
    torch.manual_seed(0)
    return build.build_model(cfg)


def _views(batch=8, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, 3, size, size, generator=g) for _ in range(2)]


@pytest.mark.parametrize("method", ["simclr", "byol", "barlowtwins"])
def test_only_backbone_weights_are_penalized(method, tiny_options):
    model = _build(method, "so", tiny_options)
    # CIFAR ResNet-18: stem conv + 8 blocks x 2 convs + 3 shortcut 1x1 convs
    assert len(regularized_weights(model.backbone)) == 20
    model.encoder_penalty().backward()
    backbone_params = {id(p) for p in model.backbone.parameters()}
    for name, param in model.named_parameters():
        if id(param) in backbone_params:
            continue
        assert param.grad is None, f"{name} received a penalty gradient"
    for name, weight in regularized_weights(model.backbone):
        assert weight.grad is not None and weight.grad.abs().sum() > 0, name
    projector_weights = [m.weight for m in model.neck.modules() if isinstance(m, nn.Linear)]
    assert projector_weights and all(w.grad is None for w in projector_weights)
    if method == "byol":  # the momentum encoder is a separate copy, outside the penalty
        target = list(model.target_net.parameters())
        assert target and all(p.grad is None for p in target)


@pytest.mark.parametrize("reg", ["so", "srip"])
def test_loss_terms_are_separate_and_weighted_by_gamma(reg, tiny_options):
    model = _build("simclr", reg, tiny_options)
    model.train()
    losses = model.loss(_views(), data_samples=[])
    assert set(losses) == {"loss_ssl", "loss_reg", "reg_penalty"}
    gamma = model.encoder_regularizer.gamma
    assert gamma == {"so": 1e-6, "srip": 1e-3}[reg]
    assert losses["loss_reg"].item() == pytest.approx(gamma * losses["reg_penalty"].item(), rel=1e-6)
    assert losses["loss_reg"].requires_grad and not losses["reg_penalty"].requires_grad
    if reg == "so":  # equals the per-layer sum computed layer by layer
        expected = sum(so_penalty(w.detach().double()).item() for _, w in regularized_weights(model.backbone))
        assert losses["reg_penalty"].item() == pytest.approx(expected, rel=1e-4)


def test_reg_none_keeps_the_algorithms_loss_only(tiny_options):
    model = _build("barlowtwins", "none", tiny_options)
    losses = model.loss(_views(), data_samples=[])
    assert set(losses) == {"loss_ssl"}


def test_built_model_is_the_mmselfsup_algorithm(tiny_options):
    from mmselfsup.models import BYOL

    model = _build("byol", "so", tiny_options)
    assert isinstance(model, BYOL) and type(model).__name__ == "BYOL"
    plain = _build("byol", "none", tiny_options)
    assert set(model.state_dict()) == set(plain.state_dict())  # checkpoints are interchangeable


def test_reg_selects_recipe_gamma_and_accepts_override():
    assert _compose("byol", "so").model.encoder_regularizer.gamma == 1e-6
    assert _compose("byol", "srip").model.encoder_regularizer.gamma == 1e-3
    cfg = _compose("byol", "srip", ["model.encoder_regularizer.gamma=0.5"])
    assert cfg.model.encoder_regularizer.gamma == 0.5
    assert _compose("byol").model.encoder_regularizer.kind == "none"


def test_whitening_needs_a_gamma_and_a_predictor():
    with pytest.raises(UsageError, match="no gamma for --reg whitening"):
        _compose("byol", "whitening")
    with pytest.raises(UsageError, match="no predictor"):
        _compose("simclr", "whitening", ["model.encoder_regularizer.gamma=1e-3"])
    cfg = _compose("byol", "whitening", ["model.encoder_regularizer.gamma=1e-3"])
    assert cfg.model.encoder_regularizer.kind == "whitening"


def test_vicreg_terms_match_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)) * np.array([0.1, 0.5, 1.0, 2.0, 0.3, 1.5]) + rng.normal(size=6)
    xc = x - x.mean(0)
    std = np.sqrt(xc.var(0, ddof=1) + 1e-4)
    variance = np.maximum(0.0, 1.0 - std).mean()
    cov = xc.T @ xc / (len(x) - 1)
    covariance = (cov ** 2).sum() - (np.diag(cov) ** 2).sum()
    ours_v, ours_c = vicreg_variance_covariance(torch.from_numpy(x))
    assert ours_v.item() == pytest.approx(variance, rel=1e-10)
    assert ours_c.item() == pytest.approx(covariance / 6, rel=1e-10)


def test_whitening_acts_on_both_predictor_outputs(tiny_options):
    model = _build("byol", "whitening", [*tiny_options, "model.encoder_regularizer.gamma=0.1"])
    model.train()
    captured = []
    model.head.predictor.register_forward_hook(lambda m, a, out: captured.append(out[0].detach()))
    losses = model.loss(_views(), data_samples=[])
    assert len(captured) == 2  # BYOL predicts from both views
    terms = [vicreg_variance_covariance(z) for z in captured]
    expected = sum(v for v, _ in terms) / 2 + 0.004 * sum(c for _, c in terms)
    assert losses["reg_penalty"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert losses["loss_reg"].item() == pytest.approx(0.1 * expected.item(), rel=1e-5)


def _mean_so_per_layer(backbone) -> float:
    weights = regularized_weights(backbone)
    return sum(so_penalty(w.detach().double()).item() for _, w in weights) / len(weights)


def test_so_training_makes_encoder_more_orthogonal_end_to_end(tmp_path, tiny_options):
    """Same seed, data and schedule; only --reg differs. A large gamma must show in the weights."""
    means = {}
    for reg in ("none", "so"):
        options = [*tiny_options, "model.encoder_regularizer.gamma=0.01"] if reg == "so" else tiny_options
        cfg = _compose("simclr", reg, options, epochs=2, work_dir=tmp_path / reg)
        runner = launch.build_runner(cfg)
        summary = training.train(runner, cfg)
        means[reg] = _mean_so_per_layer(runner.model.backbone)
        if reg == "so":
            logged = summary["train_log"][-1]
            assert {"loss", "loss_ssl", "loss_reg", "reg_penalty"} <= set(logged)
            assert logged["loss"] == pytest.approx(logged["loss_ssl"] + logged["loss_reg"], rel=1e-5)
            first_penalty = summary["train_log"][0]["reg_penalty"]
            assert logged["reg_penalty"] < first_penalty
    assert means["so"] < 0.8 * means["none"], means


def test_bf16_autocast_reaches_only_the_backbone():
    """Under bf16 autocast (speed.bf16) the backbone computes in bf16; the projector and the loss
    see float32, and channels-last reaches weights and views."""
    import torch

    cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic", reg="so", cfg_options=["model.backbone.width=4",
                                                         "speed.channels_last=True"]), "/tmp/unused")
    model = build.build_model(cfg).train()
    assert model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    dtypes = {}
    model.backbone.layer4.register_forward_hook(lambda m, a, o: dtypes.update(trunk=o.dtype) or None)
    model.neck.register_forward_hook(lambda m, a, o: dtypes.update(neck=o[0].dtype) or None)
    data = {"inputs": [torch.randint(0, 255, (8, 3, 32, 32), dtype=torch.uint8)]}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        views, _ = model.data_preprocessor(data, True)
        out = model.loss(views, [])
    assert views[0].dtype == torch.float32
    assert views[0].is_contiguous(memory_format=torch.channels_last)
    assert dtypes == {"trunk": torch.bfloat16, "neck": torch.float32}
    assert all(v.dtype == torch.float32 for v in out.values())


def test_channels_last_starts_from_the_same_weights():
    """speed.channels_last changes the memory layout only: after the Runner's init_weights the
    weights equal those of the same run without it (an in-place random init of channels-last
    tensors would fill them in another element order), and they stay channels-last."""
    import torch

    states = {}
    for flag in (False, True):
        cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic", cfg_options=[
            "model.backbone.width=4", f"speed.channels_last={flag}"]), "/tmp/unused")
        torch.manual_seed(0)
        model = build.build_model(cfg)
        model.init_weights()  # what mmengine's Runner calls before training
        states[flag] = model.state_dict()
        if flag:
            assert model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert states[False].keys() == states[True].keys()
    for key, value in states[False].items():
        assert torch.equal(value, states[True][key]), key
