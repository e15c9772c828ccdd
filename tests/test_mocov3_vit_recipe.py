"""MoCo v3's own ViT recipe (catalog.ARCH_VARIANTS): a --method mocov3 run on a ViT backbone gets
MoCo v3's ViT heads (configs/methods/vit/mocov3.py) and its ViT optimizer and schedule
(configs/recipes/vit/<dataset>/mocov3.py); ResNet runs keep solo-learn's ResNet recipe. Expected
values are the original scripts' numbers (facebookresearch/moco-v3 CONFIG.md and main_moco.py,
solo-learn scripts/pretrain/imagenet-100/mocov3_vit.yaml), written here."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ortho_suite import build, catalog, cli
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose

from .test_recipes import _model_and_optimizer, _schedulers, assert_one_step_moves_the_weights

# A ViT and heads small enough for a CPU step (the widths do not change the recipe).
TINY_VIT = ["model.backbone.embed_dim=16", "model.backbone.depth=2", "model.backbone.num_heads=2",
            "model.neck.hid_channels=32", "model.neck.out_channels=8",
            "model.head.predictor.hid_channels=24", "custom_hooks.1.interval=0"]
IMAGENET_VIT = ["model.backbone.img_size=224", "model.backbone.patch_size=16"]


def _compose(dataset="cifar10", backbone="vit_tiny", batch=512, epochs=100, options=(),
             recipe="paper"):
    opts = [*TINY_VIT, f"train_dataloader.batch_size={batch}", *options]
    if backbone.startswith("resnet"):
        opts = ["model.backbone.width=4", *opts[3:]]
    return compose.compose_config(RunSpec("mocov3", backbone, dataset, epochs=epochs,
                                          cfg_options=opts, recipe=recipe), "/tmp/unused")


def _layers(module, kind):
    return [m for m in module.modules() if isinstance(m, kind)]


@pytest.mark.parametrize("backbone", ["vit_tiny", "vit_small", "vit_base"])
def test_every_vit_gets_the_vit_variant(backbone):
    assert catalog.arch_variant("mocov3", backbone) == "vit"
    assert catalog.method_entry("mocov3", backbone).config == "methods/vit/mocov3.py"
    for other in ("resnet18_cifar", "resnet18", "resnet50", "wrn28_2"):
        assert catalog.arch_variant("mocov3", other) is None
        assert catalog.method_entry("mocov3", other) is catalog.METHODS["mocov3"]
    assert catalog.arch_variant("byol", backbone) is None  # no other method has a ViT variant


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagenet"])
def test_the_papers_adamw_recipe(dataset):
    """CONFIG.md's ViT commands: AdamW, lr 1.5e-4 x batch / 256 (main_moco.py scales by the
    global batch), weight decay 0.1, torch's betas; 40 warm-up epochs from 0, then cosine to 0,
    per iteration. No CIFAR ViT recipe exists in solo-learn, so CIFAR takes the paper's."""
    batch, epochs = 1024, 300
    cfg = _compose(dataset, batch=batch, epochs=epochs,
                   options=IMAGENET_VIT if dataset == "imagenet" else ())
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == "AdamW"
    assert optimizer.lr == pytest.approx(1.5e-4 * batch / 256, rel=1e-12)
    assert optimizer.weight_decay == 0.1
    assert tuple(optimizer.betas) == (0.9, 0.999) and optimizer.eps == 1e-8
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ("LinearLR", 0, 40)
    assert warmup.start_factor == compose.WARMUP_FROM_ZERO  # from 0
    assert (cosine.type, cosine.begin, cosine.end, cosine.T_max) == (
        "CosineAnnealingLR", 40, epochs, epochs - 40)
    assert cosine.eta_min == 0.0 and warmup.convert_to_iter_based and cosine.convert_to_iter_based
    assert cfg.online_probe.lr == pytest.approx(1.5e-4 * batch / 256)
    assert cfg.ortho_suite.recipe == f"recipes/vit/{dataset}/mocov3.py"
    # the method's own momentum and temperature: 0.99 -> 1 (CosineEMA), tau 0.2, loss x 2 tau
    assert cfg.model.base_momentum == 0.99 and cfg.model.head.temperature == 0.2
    assert cfg.model.head.loss.loss_weight == pytest.approx(0.4)


def test_solo_learns_imagenet100_vit_recipe():
    """mocov3_vit.yaml: AdamW, lr 3e-4 and classifier_lr 3e-4 per 256, weight decay 0.1,
    warmup_cosine at its defaults (10 epochs from 3e-5); its batch is 128 x 8 GPUs."""
    batch = 1024
    cfg = _compose("imagenet100", "vit_small", batch=batch, epochs=400, options=IMAGENET_VIT)
    optimizer = cfg.optim_wrapper.optimizer
    lr = 3e-4 * batch / 256
    assert (optimizer.type, optimizer.weight_decay) == ("AdamW", 0.1)
    assert optimizer.lr == pytest.approx(lr, rel=1e-12)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end, cosine.begin, cosine.end) == (0, 10, 10, 400)
    assert warmup.start_factor == pytest.approx(3e-5 / lr)
    assert cfg.online_probe.lr == pytest.approx(lr)
    assert cfg.ortho_suite.recipe == "recipes/vit/imagenet100/mocov3.py"


def test_an_explicit_lr_and_the_default_recipe_still_apply():
    assert _compose(options=["optim_wrapper.optimizer.lr=0.001"]).optim_wrapper.optimizer.lr == 0.001
    default = _compose(recipe="default")
    assert default.optim_wrapper.optimizer.type == "SGD" and default.ortho_suite.recipe == "default"
    assert default.model.neck.num_layers == 3  # the heads are the method's, not the recipe's
    # no ViT recipe for the dataset: the suite's default, never the ResNet recipe (LARS)
    fmnist = _compose("fmnist")
    assert fmnist.ortho_suite.recipe == "default" and fmnist.optim_wrapper.optimizer.type == "SGD"
    assert catalog.recipe_path("cifar10", "mocov3", "lightly", "vit") is None


def test_built_heads_are_moco_v3s_vit_mlps():
    """builder.py MoCo_ViT: projector Linear-BN-ReLU-Linear-BN-ReLU-Linear-BN(no affine), predictor
    Linear-BN-ReLU-Linear-BN(no affine), every Linear without bias; the momentum encoder holds a
    copy of the projector."""
    model = build.build_model(_compose()).train()
    neck, predictor = model.neck, model.head.predictor
    linears, norms = _layers(neck, nn.Linear), _layers(neck, nn.BatchNorm1d)
    assert [(l.in_features, l.out_features) for l in linears] == [(16, 32), (32, 32), (32, 8)]
    assert [n.affine for n in norms] == [True, True, False]
    linears, norms = _layers(predictor, nn.Linear), _layers(predictor, nn.BatchNorm1d)
    assert [(l.in_features, l.out_features) for l in linears] == [(8, 24), (24, 8)]
    assert [n.affine for n in norms] == [True, False]
    assert all(l.bias is None for l in _layers(model.neck, nn.Linear) + linears)
    momentum_linears = _layers(model.momentum_encoder, nn.Linear)
    assert [tuple(l.weight.shape) for l in momentum_linears[-3:]] == [(32, 16), (32, 32), (8, 32)]
    views = [torch.randn(4, 3, 32, 32) for _ in range(2)]
    assert torch.isfinite(model.loss(views, data_samples=[])["loss_ssl"])


def test_resnet_runs_keep_solo_learns_resnet_recipe():
    """A ResNet mocov3 run composes as before the ViT variant: LARS, 2-layer projector, predictor
    without a final BN, the ResNet recipe file."""
    for dataset in ("cifar10", "cifar100", "imagenet100"):
        backbone = "resnet18" if dataset == "imagenet100" else "resnet18_cifar"
        cfg = _compose(dataset, backbone)
        assert cfg.optim_wrapper.optimizer.type == "LARSSolo"
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.3 * 512 / 256)
        assert cfg.param_scheduler[0].end == 10
        assert cfg.model.neck.num_layers == 2 and cfg.model.head.predictor.with_last_bn is False
        assert cfg.ortho_suite.recipe == f"recipes/{dataset}/mocov3.py"
    model = build.build_model(_compose("cifar10", "resnet18_cifar"))
    assert len(_layers(model.neck, nn.Linear)) == 2
    assert len(_layers(model.head.predictor, nn.BatchNorm1d)) == 1


@pytest.mark.parametrize("dataset", ["cifar10", "imagenet100"])
def test_one_adamw_step_trains_the_tiny_vit(dataset):
    """The recipe's optimizer and schedulers build on the tiny model, a real loss backpropagates
    and one step moves the weights."""
    cfg = _compose(dataset, batch=64, options=IMAGENET_VIT if dataset == "imagenet100" else ())
    model, optim_wrapper = _model_and_optimizer(cfg)
    assert type(optim_wrapper.optimizer).__name__ == "AdamW"
    _schedulers(cfg, optim_wrapper, epoch_length=2)
    size = cfg.model.backbone.img_size
    views = [torch.randn(4, 3, size, size) for _ in range(2)]
    model.loss(views, data_samples=[])["loss_ssl"].backward()
    assert model.backbone.cls_token.grad is not None
    assert_one_step_moves_the_weights(model, optim_wrapper)


def test_list_names_the_vit_recipes(capsys):
    assert cli.main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "on a vit backbone" in out and "methods/vit/mocov3.py" in out
    for dataset in ("cifar10", "cifar100", "imagenet100", "imagenet"):
        assert f"recipes/vit/{dataset}/mocov3.py" in out
