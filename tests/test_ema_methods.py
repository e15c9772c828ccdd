"""W-MSE and the EMA-target methods (DINO, NNBYOL, INTL-EMA) as mmselfsup algorithms: each scores
its embeddings with its pure loss, keeps its target outside the regularized encoder, follows its
recipe's schedules, checkpoints its queue / center, and trains and resumes through the CLI."""
from __future__ import annotations

import json
import math
import uuid

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

from ortho_suite import build, losses
from ortho_suite.cli import main
from ortho_suite.errors import UsageError
from ortho_suite.models.ema_algorithms import dino_teacher_temperature
from ortho_suite.regularizers import regularized_weights
from ortho_suite.runs import SUMMARY_FILE, RunSpec
from ortho_suite.train import compose

from .test_algorithms import PROJ, WIDTH, _views

OPTIONS = {
    "wmse": ["model.neck.hid_channels=128", "model.neck.out_channels=8", "model.w_size=16"],
    "dino": PROJ + ["model.neck.num_prototypes=256"],
    "nnbyol": PROJ + ["model.head.predictor.hid_channels=128", "model.queue_size=256"],
    "intl_ema": PROJ,
}
EMA_METHODS = {"dino": 0.9995, "nnbyol": 0.99, "intl_ema": 0.996}  # recipe base momentum


@pytest.fixture
def hub():
    """A fresh message hub (the current one), as a runner's: the model reads its progress there."""
    return MessageHub.get_instance(f"test-ema-{uuid.uuid4()}")


def _model(method, reg="none", extra=(), seed=0):
    cfg = compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", reg=reg, cfg_options=WIDTH + OPTIONS[method] + list(extra)), "/tmp/unused")
    torch.manual_seed(seed)
    return build.build_model(cfg).train()


def test_wmse_scores_its_embeddings_with_the_functional_loss(hub):
    model, views = _model("wmse"), _views()
    torch.manual_seed(3)  # the random slices of the batch
    ours = model.loss(views, data_samples=[])["loss_ssl"]
    with torch.no_grad():
        z1, z2 = model.embed(views[0]), model.embed(views[1])
    torch.manual_seed(3)
    expected = losses.wmse_loss(z1, z2, w_size=16, w_iter=1, eps=0.0, detach_second=True)
    assert ours.item() == pytest.approx(expected.item(), rel=1e-6)


def test_dino_scores_its_logits_with_the_functional_loss_and_updates_its_center(hub):
    hub.update_info("max_iters", 100)
    hub.update_info("epoch", 3)  # warm-up over 5 epochs: 0.04 + (0.07 - 0.04) * 3 / 4
    model, views = _model("dino", extra=["model.warmup_teacher_temp_epochs=5"]), _views()
    model.center.copy_(torch.randn(model.center.shape, generator=torch.Generator().manual_seed(1)))
    center = model.center.clone()
    ours = model.loss(views, data_samples=[])["loss_ssl"]
    with torch.no_grad():
        student = [model.online_projection(v) for v in views]
        teacher = [model.target_net(v)[0] for v in views]
        expected = losses.dino_loss(student, teacher, center, student_temp=0.1,
                                    teacher_temp=0.04 + 0.03 * 3 / 4)
    assert ours.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.allclose(model.center, 0.9 * center + 0.1 * torch.cat(teacher).mean(0), atol=1e-6)


def test_nnbyol_regresses_nearest_neighbours_of_the_queue_then_enqueues(hub):
    hub.update_info("max_iters", 100)
    model, views = _model("nnbyol"), _views()
    queue = model.queue.clone()
    ours = model.loss(views, data_samples=[])["loss_ssl"]
    with torch.no_grad():
        p1, p2 = (model.head.predictor([model.online_projection(v)])[0] for v in views)
        t1, t2 = (F.normalize(model.target_net(v)[0], dim=1) for v in views)
        _, nn1 = losses.nearest_neighbours(t1, queue)
        _, nn2 = losses.nearest_neighbours(t2, queue)
        expected = losses.byol_loss(p1, nn2) + losses.byol_loss(p2, nn1)
    assert ours.item() == pytest.approx(expected.item(), rel=1e-6)
    assert int(model.queue_ptr) == 32
    assert torch.allclose(model.queue[:32], t1, atol=1e-6) and torch.equal(model.queue[32:], queue[32:])


def test_intl_ema_online_view_two_regresses_the_target_view_one(hub):
    hub.update_info("max_iters", 100)
    model, views = _model("intl_ema"), _views()
    ours = model.loss(views, data_samples=[])["loss_ssl"]
    with torch.no_grad():
        expected = losses.intl_ema_loss([model.online_projection(views[1])],
                                        model.target_net(views[0])[0], iters=4)
    assert ours.item() == pytest.approx(expected.item(), rel=1e-6)


def test_intl_ema_takes_multi_crop_views(hub):
    """INTL's multi-crop: the target sees crop 0, the online network every other crop, of any size."""
    hub.update_info("max_iters", 100)
    model = _model("intl_ema")
    g = torch.Generator().manual_seed(2)
    views = [torch.randn(32, 3, s, s, generator=g) for s in (32, 32, 24, 16)]
    ours = model.loss(views, data_samples=[])["loss_ssl"]
    with torch.no_grad():
        expected = losses.intl_ema_loss([model.online_projection(v) for v in views[1:]],
                                        model.target_net(views[0])[0], iters=4)
    assert ours.item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("method", sorted(EMA_METHODS))
def test_target_is_outside_the_regularized_encoder(method, hub):
    hub.update_info("max_iters", 100)
    model = _model(method, reg="so")
    assert len(regularized_weights(model.backbone)) == 20  # the online CIFAR ResNet-18 only
    online = {id(p) for p in model.backbone.parameters()}
    target = list(model.target_net.parameters())
    assert target and not any(id(p) in online for p in target)
    assert not any(p.requires_grad for p in target)
    model.encoder_penalty().backward()
    assert all(p.grad is None for p in target)
    assert model.loss(_views(), data_samples=[])["reg_penalty"] > 0


@pytest.mark.parametrize("method", sorted(EMA_METHODS))
def test_target_follows_the_cosine_momentum_schedule(method, hub):
    """Update k (k = 0: copy): target <- m_k target + (1 - m_k) online,
    m_k = 1 - (1 - m_0) (cos(pi k / K) + 1) / 2 with K the run's iterations."""
    total, base = 20, EMA_METHODS[method]
    hub.update_info("max_iters", total)
    model, views = _model(method), _views(n=32)
    online = [*model.backbone.parameters(), *model.neck.parameters()]
    model.loss(views, data_samples=[])  # update 0 copies the online network
    assert all(torch.equal(t, o) for t, o in zip(model.target_net.parameters(), online))
    g = torch.Generator().manual_seed(5)
    for k in (1, 2, 10):
        # set the step as a resume does (the update counts steps on the host, re-read on load)
        state = model.target_net.state_dict()
        state["steps"] = torch.tensor(k)
        model.target_net.load_state_dict(state)
        with torch.no_grad():
            for p in online:
                p.add_(0.01 * torch.randn(p.shape, generator=g))
        before = [t.detach().clone().double() for t in model.target_net.parameters()]
        model.loss(views, data_samples=[])
        m = 1 - (1 - base) * (math.cos(math.pi * k / total) + 1) / 2
        for t, t0, o in zip(model.target_net.parameters(), before, online):
            expected = m * t0 + (1 - m) * o.detach().double()
            assert torch.allclose(t.double(), expected, atol=1e-6), (k, m)
    assert m == pytest.approx(1 - (1 - base) / 2)  # k = K / 2


def test_dino_teacher_temperature_schedule():
    """solo-learn: np.linspace(warm-up, final, warm-up epochs), then the final temperature."""
    ramp = np.linspace(0.04, 0.07, 30)
    for epoch in (0, 1, 17, 29):
        assert dino_teacher_temperature(epoch, 0.07, 0.04, 30) == pytest.approx(ramp[epoch], rel=1e-12)
    assert dino_teacher_temperature(30, 0.07, 0.04, 30) == 0.07
    assert dino_teacher_temperature(0, 0.07, 0.04, 0) == 0.07  # solo-learn's CIFAR recipe
    assert dino_teacher_temperature(0, 0.07, 0.04, 1) == 0.04


def test_dino_prototypes_are_left_out_of_the_optimizer_step_in_the_first_epoch(hub):
    hub.update_info("max_iters", 100)
    model = _model("dino")
    last_layer, first_mlp = model.neck.last_layer.weight_v, model.neck.mlp[0].weight
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    for epoch, frozen in ((0, True), (1, False)):
        hub.update_info("epoch", epoch)
        before, mlp_before = last_layer.detach().clone(), first_mlp.detach().clone()
        opt.zero_grad()
        model.loss(_views(), data_samples=[])["loss_ssl"].backward()
        assert last_layer.grad is not None  # dropped only right before the step
        opt.step()
        assert not torch.equal(first_mlp, mlp_before)
        assert torch.equal(last_layer, before) == frozen, epoch
        assert (last_layer not in opt.state) == frozen  # no weight decay, no momentum either
    assert not model.neck.last_layer.weight_g.requires_grad  # norm_last_layer: fixed at 1


def test_queue_center_and_target_survive_a_state_dict_round_trip(hub):
    hub.update_info("max_iters", 100)
    model = _model("nnbyol")
    for seed in (0, 1):
        model.loss(_views(seed=seed), data_samples=[])
    state = model.state_dict()
    assert {"queue", "queue_ptr", "target_net.steps"} <= set(state)
    other = _model("nnbyol", seed=7)
    assert not torch.equal(other.queue, model.queue)
    other.load_state_dict(state)
    assert torch.equal(other.queue, model.queue) and int(other.queue_ptr) == 64
    assert int(other.target_net.steps) == 2

    dino = _model("dino")
    dino.loss(_views(), data_samples=[])
    restored = _model("dino", seed=7)
    restored.load_state_dict(dino.state_dict())
    assert dino.center.abs().sum() > 0 and torch.equal(restored.center, dino.center)


@pytest.mark.parametrize("method,options,message", [
    ("wmse", ["train_dataloader.batch_size=100"], "w_size=128 must divide the batch size 100"),
    ("wmse", ["model.w_size=32"], "exceed the projection's 64 dimensions"),
    ("nnbyol", ["train_dataloader.batch_size=100"], "multiple of the global batch size 100"),
])
def test_batch_that_the_recipe_cannot_split_is_a_usage_error(method, options, message):
    with pytest.raises(UsageError, match=message):
        compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", cfg_options=options), "/tmp/unused")


def _cli_pretrain(method, work_dir, epochs, extra=()):
    return main(["pretrain", "--method", method, "--reg", "so", "--backbone", "resnet18_cifar",
                 "--dataset", "synthetic", "--work-dir", str(work_dir), "--epochs", str(epochs),
                 "--cfg-options", *WIDTH, *OPTIONS[method], "train_dataloader.batch_size=16",
                 "train_dataloader.dataset.num_samples=32", *extra])


@pytest.mark.parametrize("method", ["wmse", *sorted(EMA_METHODS)])
def test_method_trains_through_the_cli(method, tmp_path):
    assert _cli_pretrain(method, tmp_path, epochs=1) == 0
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert summary["status"] == "finished" and summary["iterations"] == 2
    assert all(math.isfinite(row["loss"]) and row["reg_penalty"] > 0 for row in summary["train_log"])
    state = torch.load(tmp_path / "epoch_1.pth", map_location="cpu", weights_only=False)["state_dict"]
    if method in EMA_METHODS:
        assert int(state["target_net.steps"]) == 2
    if method == "nnbyol":
        assert int(state["queue_ptr"]) == 32
    if method == "dino":
        assert state["center"].abs().sum() > 0


def test_dino_resumes_its_epoch_schedules_exactly(tmp_path):
    """2 epochs, teacher temperature warmed up over both, prototypes frozen in the first: a run
    resumed after epoch 1 ends bitwise where the uninterrupted run ends."""
    extra = ["model.warmup_teacher_temp_epochs=2"]
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    assert _cli_pretrain("dino", full, epochs=2, extra=extra) == 0
    assert _cli_pretrain("dino", resumed, epochs=2, extra=extra) == 0
    (resumed / "epoch_2.pth").unlink()
    (resumed / SUMMARY_FILE).unlink()
    assert _cli_pretrain("dino", resumed, epochs=2, extra=extra) == 0

    a = json.loads((full / SUMMARY_FILE).read_text())
    b = json.loads((resumed / SUMMARY_FILE).read_text())
    assert b["resumed_from"] == [{"epoch": 1, "iteration": 2}]
    assert b["train_log"] == a["train_log"]
    ckpt = {e: torch.load(full / f"epoch_{e}.pth", map_location="cpu", weights_only=False)
            for e in (1, 2)}
    wb = torch.load(resumed / "epoch_2.pth", map_location="cpu", weights_only=False)["state_dict"]
    assert all(torch.equal(ckpt[2]["state_dict"][k], wb[k]) for k in wb)
    # the prototypes had no optimizer step (no momentum buffer) in epoch 1, one in epoch 2
    names = [n for n, _ in _model("dino").named_parameters()]
    index = names.index("neck.last_layer.weight_v")
    assert index not in ckpt[1]["optimizer"]["state"] and index in ckpt[2]["optimizer"]["state"]
