"""The suite's own mmselfsup algorithms (VICReg, DirectCLR, INTL) and the overfitting check of
every method and of every backbone family: on one fixed batch, repeated optimizer steps lower
the loss."""
from __future__ import annotations

import math

import pytest
import torch

from ortho_suite import build, losses
from ortho_suite.errors import UsageError
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose
from ortho_suite.train import pretrain as training

WIDTH = ["model.backbone.width=8", "custom_hooks.1.interval=0"]
PROJ = ["model.neck.hid_channels=128", "model.neck.out_channels=128"]
OPTIONS = {
    "simclr": PROJ, "byol": PROJ, "barlowtwins": PROJ, "vicreg": PROJ, "intl": PROJ,
    "directclr": ["model.dim=32"],
    "wmse": ["model.neck.hid_channels=128", "model.neck.out_channels=16", "model.w_size=32"],
    # DINO: centring raises the teacher's entropy as the center moves; held at 0 (and the
    # prototypes trained whatever epoch the message hub holds) the loss measures the fit
    "dino": PROJ + ["model.neck.num_prototypes=256", "model.center_momentum=1.0",
                    "model.freeze_last_layer_epochs=0"],
    "nnbyol": PROJ + ["model.head.predictor.hid_channels=128", "model.queue_size=256"],
    "intl_ema": PROJ,
    "mocov2plus": PROJ + ["model.queue_len=32"],  # = the batch: one step fills it
    "mocov3": PROJ + ["model.head.predictor.hid_channels=128"],
    "simsiam": PROJ + ["model.head.predictor.hid_channels=32"],
    "swav": PROJ + ["model.num_prototypes=32", "model.queue_length=64"],
}


def _model(method):
    cfg = compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", cfg_options=WIDTH + OPTIONS[method]), "/tmp/unused")
    torch.manual_seed(0)
    return build.build_model(cfg).train()


def _views(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 32, 32, generator=g) for _ in range(2)]


@pytest.mark.parametrize("method", sorted(OPTIONS))
def test_loss_decreases_on_a_fixed_batch(method):
    from mmengine.logging import MessageHub

    MessageHub.get_current_instance().update_info("max_iters", 12)  # BYOL's EMA schedule reads it
    model = _model(method)
    views = _views()
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    history = []
    for _ in range(12):
        loss = sum(v for k, v in model.loss(views, data_samples=[]).items() if "loss" in k)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert all(math.isfinite(v) for v in history)
    # MoCo v2+'s first step contrasts with the random initial queue, every later one with this
    # batch's own previous keys: it can only improve on the second step's loss.
    start = 1 if method == "mocov2plus" else 0
    assert min(history[-3:]) < history[start], history


# One tiny member of each backbone family (resnet18_cifar is the one above).
TINY_BACKBONES = {
    "resnet18": ["model.backbone.width=4"],
    "resnet50_cifar": ["model.backbone.width=4"],
    "wrn28_2": ["model.backbone.width=4"],
    "vit_tiny": ["model.backbone.embed_dim=16", "model.backbone.depth=2",
                 "model.backbone.num_heads=2"],
}


@pytest.mark.parametrize("backbone", sorted(TINY_BACKBONES))
def test_loss_decreases_on_a_fixed_batch_for_every_backbone_family(backbone):
    """The overfitting check with SimCLR on each backbone family: the gradient reaches the
    loss through every kind of trunk."""
    cfg = compose.compose_config(RunSpec("simclr", backbone, "synthetic", cfg_options=["custom_hooks.1.interval=0", *PROJ,
                                               *TINY_BACKBONES[backbone]]), "/tmp/unused")
    torch.manual_seed(0)
    model = build.build_model(cfg).train()
    views = _views(n=16)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    history = []
    for _ in range(10):
        loss = model.loss(views, data_samples=[])["loss_ssl"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert all(math.isfinite(v) for v in history)
    assert min(history[-3:]) < history[0], history


@pytest.mark.parametrize("method,objective", [
    ("vicreg", lambda z1, z2: losses.vicreg_loss(z1, z2, 25.0, 25.0, 1.0)),
    ("directclr", lambda r1, r2: losses.directclr_loss(r1, r2, dim=32, temperature=0.1)),
    ("intl", lambda z1, z2: losses.intl_loss(z1, z2, iters=4)),
])
def test_algorithm_scores_its_embeddings_with_the_functional_loss(method, objective):
    model = _model(method)
    views = _views()
    ours = model.loss(views, data_samples=[])["loss_ssl"]
    with torch.no_grad():
        expected = objective(model.embed(views[0]), model.embed(views[1]))
    assert ours.item() == pytest.approx(expected.item(), rel=1e-5)


def test_directclr_has_no_projector_and_uses_the_representation():
    model = _model("directclr")
    assert not model.with_neck
    assert model.embed(_views(n=4)[0]).shape == (4, 64)  # width 8 -> 64-d representation


def test_directclr_subvector_cannot_exceed_the_representation():
    with pytest.raises(UsageError, match="exceeds the representation's 64 dimensions"):
        compose.compose_config(RunSpec("directclr", "resnet18_cifar", "synthetic", cfg_options=WIDTH), "/tmp/unused")


@pytest.mark.parametrize("method", ["vicreg", "directclr", "intl"])
def test_new_methods_train_through_the_runner_with_or(method, tmp_path):
    summary = training.pretrain(RunSpec(method, "resnet18_cifar", "synthetic", reg="so", epochs=1, cfg_options=WIDTH + OPTIONS[method] + [
                                    "train_dataloader.batch_size=16",
                                    "train_dataloader.dataset.num_samples=64"]), tmp_path / method)
    assert summary["status"] == "finished" and summary["iterations"] == 4
    assert all(math.isfinite(row["loss"]) and row["reg_penalty"] > 0 for row in summary["train_log"])


@pytest.mark.parametrize("backbone", ["resnet18", "resnet50"])
def test_imagenet_stem_backbones_train_through_the_runner(backbone, tmp_path):
    """Each backbone family once: SimCLR with SRIP on a width-4 ImageNet-stem ResNet."""
    summary = training.pretrain(RunSpec("simclr", backbone, "synthetic", reg="srip", epochs=1, cfg_options=[
                                    "model.backbone.width=4", "model.neck.hid_channels=32",
                                    "model.neck.out_channels=16", "train_dataloader.batch_size=16",
                                    "train_dataloader.dataset.num_samples=32"]), tmp_path / backbone)
    assert summary["status"] == "finished" and summary["iterations"] == 2
    assert all(math.isfinite(row["loss"]) and row["reg_penalty"] > 0 for row in summary["train_log"])


def test_every_method_of_the_catalog_has_the_overfitting_check():
    from ortho_suite.catalog import METHODS

    from .test_lightly_methods import OPTIONS as LIGHTLY_OPTIONS  # the LightlySSL methods' check

    assert set(OPTIONS) | set(LIGHTLY_OPTIONS) == set(METHODS)
