"""MoCo v2+, MoCo v3, SimSiam and SwAV at solo-learn's CIFAR recipes: each built model's loss
equals the recipe's formula evaluated independently in float64 NumPy on the model's own
intermediate outputs; the orthogonality penalty covers the online backbone only; momentum
encoders, queues and their schedules follow the recipe and survive a state-dict round trip; each
method trains through the command line."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

from ortho_suite import build, losses
from ortho_suite.cli import main
from ortho_suite.errors import UsageError
from ortho_suite.runs import SUMMARY_FILE, RunSpec
from ortho_suite.train import compose

from .test_algorithms import OPTIONS, WIDTH

METHODS = ["mocov2plus", "mocov3", "simsiam", "swav"]
MOMENTUM_ENCODER = {"mocov2plus": "encoder_k", "mocov3": "momentum_encoder"}


def _model(method, reg="none", seed=0):
    cfg = compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", reg=reg, cfg_options=WIDTH + OPTIONS[method]), "/tmp/unused")
    torch.manual_seed(seed)
    return build.build_model(cfg).train().double()


def _views(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 32, 32, generator=g, dtype=torch.float64) for _ in range(2)]


def _record_outputs(module):
    """Every output of ``module`` (a list output: its first element) as NumPy, in call order."""
    outputs = []

    def keep(mod, args, output):
        out = output[0] if isinstance(output, (list, tuple)) else output
        outputs.append(out.detach().numpy().copy())

    module.register_forward_hook(keep)
    return outputs


def _runtime(epoch=0, max_iters=10):
    hub = MessageHub.get_current_instance()
    hub.update_info("epoch", epoch)
    hub.update_info("max_iters", max_iters)


def _normalize(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _cross_entropy(logits, targets):
    logits = logits - logits.max(axis=1, keepdims=True)
    log_prob = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_prob[np.arange(len(targets)), targets].mean()


def _sinkhorn(scores, iters, epsilon):
    """SwAV's Sinkhorn-Knopp on a B x K score matrix: columns (prototypes) to mass 1/K, rows
    (samples) to 1/B, alternately, starting from exp(scores / epsilon) of total mass 1."""
    q = np.exp(scores / epsilon)
    q = q / q.sum()
    b, k = q.shape
    for _ in range(iters):
        q = q / q.sum(axis=0, keepdims=True) / k
        q = q / q.sum(axis=1, keepdims=True) / b
    return q * b


def _swapped_prediction(scores, codes, temperature):
    terms = []
    for a, b in ((0, 1), (1, 0)):
        logits = scores[b] / temperature
        log_prob = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        terms.append(-(codes[a] * log_prob).sum(axis=1).mean())
    return sum(terms) / 2


def test_mocov2plus_is_symmetric_with_one_queue_per_view():
    _runtime()
    model = _model("mocov2plus")
    g = torch.Generator().manual_seed(1)
    model.queue.copy_(F.normalize(
        torch.randn(model.queue.shape, generator=g, dtype=torch.float64), dim=1))
    queue = model.queue.numpy().copy()  # [view, feat_dim, queue_len]
    projections = _record_outputs(model.neck)
    keys = _record_outputs(model.encoder_k)
    views = _views()

    loss = model.loss(views, data_samples=[])["loss_ssl"].item()

    q = [_normalize(p) for p in projections]
    k = [_normalize(x) for x in keys]
    expected = 0.0
    for a, b in ((0, 1), (1, 0)):  # view a's queries, view b's key and queue of b's past keys
        logits = np.concatenate([(q[a] * k[b]).sum(axis=1, keepdims=True), q[a] @ queue[b]], axis=1)
        expected += _cross_entropy(logits / 0.2, np.zeros(len(q[a]), dtype=int)) / 2
    assert loss == pytest.approx(expected, rel=1e-10)
    # each view's keys went into that view's queue at the pointer (slots 0..n-1 on a first step)
    n = len(views[0])
    for view in range(2):
        np.testing.assert_allclose(model.queue[view, :, :n].numpy(), k[view].T, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(model.queue[view, :, n:].numpy(), queue[view][:, n:])
    assert int(model.queue_ptr) == n


def test_mocov3_contrasts_predictions_with_momentum_keys_scaled_by_two_temperatures():
    _runtime()
    model = _model("mocov3")
    assert model.head.loss.loss_weight == pytest.approx(2 * 0.2)  # derived from the temperature
    _record_outputs(model.neck)
    predictions = _record_outputs(model.head.predictor)
    keys = _record_outputs(model.momentum_encoder)

    loss = model.loss(_views(), data_samples=[])["loss_ssl"].item()

    p = [_normalize(x) for x in predictions]
    k = [_normalize(x) for x in keys]
    n = len(p[0])
    expected = sum(_cross_entropy(p[a] @ k[b].T / 0.2, np.arange(n)) * (2 * 0.2)
                   for a, b in ((0, 1), (1, 0)))  # summed, not averaged, as solo-learn
    assert loss == pytest.approx(expected, rel=1e-10)


def test_simsiam_is_the_symmetric_negative_cosine_with_stop_gradient():
    _runtime()
    model = _model("simsiam")
    projections = _record_outputs(model.neck)
    predictions = _record_outputs(model.head.predictor)
    views = _views()

    losses_ = model.loss(views, data_samples=[])
    z, p = projections, predictions
    expected = -((_normalize(p[0]) * _normalize(z[1])).sum(axis=1).mean()
                 + (_normalize(p[1]) * _normalize(z[0])).sum(axis=1).mean()) / 2
    assert losses_["loss_ssl"].item() == pytest.approx(expected, rel=1e-10)
    # stop-gradient: the projections are targets; the gradient reaches them through p only
    neck_weight = model.neck.fc0.weight
    (grad,) = torch.autograd.grad(losses_["loss_ssl"], neck_weight)
    model.zero_grad()
    z = [model.neck(model.backbone(v))[0] for v in views]
    p = [model.head.predictor([x])[0] for x in z]
    cos = F.cosine_similarity
    by_prediction_only = -(cos(p[0], z[1].detach()).mean() + cos(p[1], z[0].detach()).mean()) / 2
    (expected_grad,) = torch.autograd.grad(by_prediction_only, neck_weight)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("epoch,queue_in_use", [(0, False), (50, True)])
def test_swav_swaps_sinkhorn_codes_of_weight_normalized_prototypes(epoch, queue_in_use):
    _runtime(epoch=epoch)
    model = _model("swav")
    assert model.epoch_queue_starts == 50 and model.freeze_prototypes_epochs == 2
    g = torch.Generator().manual_seed(2)
    model.queue.copy_(F.normalize(
        torch.randn(model.queue.shape, generator=g, dtype=torch.float64), dim=2))
    queue = model.queue.numpy().copy()  # [view, queue_length, feat_dim]
    projections = _record_outputs(model.neck)
    views = _views()

    loss = model.loss(views, data_samples=[])["loss_ssl"].item()

    embeddings = [_normalize(z) for z in projections]  # z: the L2-normalized projection
    prototypes = _normalize(model.prototypes.weight.detach().numpy())
    n = len(embeddings[0])
    scores = [z @ prototypes.T for z in embeddings]
    codes = []
    for view in range(2):
        s = scores[view]
        if queue_in_use:
            s = np.concatenate([s, queue[view] @ prototypes.T])
        codes.append(_sinkhorn(s, iters=3, epsilon=0.05)[:n])
    assert loss == pytest.approx(_swapped_prediction(scores, codes, 0.1), rel=1e-10)
    # the queue keeps each view's newest embeddings first and shifts the older ones back
    np.testing.assert_allclose(model.queue[:, :n].numpy(), np.stack(embeddings),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(model.queue[:, n:].numpy(), queue[:, :-n])


def test_swav_codes_are_equipartitioned_assignments():
    g = torch.Generator().manual_seed(3)
    scores = F.normalize(torch.randn(64, 16, generator=g, dtype=torch.float64), dim=1)
    codes = losses.sinkhorn_knopp(scores, iters=200, epsilon=0.05)
    torch.testing.assert_close(codes.sum(dim=1), torch.ones(64, dtype=torch.float64))
    # converged: every prototype receives B / K samples' worth of mass
    torch.testing.assert_close(codes.sum(dim=0), torch.full((16,), 4.0, dtype=torch.float64))
    np.testing.assert_allclose(losses.sinkhorn_knopp(scores, 3, 0.05).numpy(),
                               _sinkhorn(scores.numpy(), 3, 0.05), rtol=1e-12)


def test_swav_prototypes_are_frozen_for_the_first_epochs():
    """No gradient reaches the prototypes before ``freeze_prototypes_epochs``; an SGD step with
    momentum and weight decay then only rescales them, so the normalized prototypes (all the
    loss sees) stay as they are. From that epoch on they learn."""
    model = _model("swav")
    views = _views(n=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.1)
    before = F.normalize(model.prototypes.weight.detach().clone(), dim=1)
    for epoch in (0, 1):
        _runtime(epoch=epoch)
        opt.zero_grad()
        model.loss(views, data_samples=[])["loss_ssl"].backward()
        assert not model.prototypes.weight.grad.any()
        assert model.neck.fc0.weight.grad.abs().sum() > 0
        opt.step()
    frozen = F.normalize(model.prototypes.weight.detach(), dim=1)
    torch.testing.assert_close(frozen, before, rtol=0, atol=1e-12)
    _runtime(epoch=2)
    opt.zero_grad()
    model.loss(views, data_samples=[])["loss_ssl"].backward()
    assert model.prototypes.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("method,base,end", [("mocov2plus", 0.99, 0.999), ("mocov3", 0.99, 1.0)])
def test_momentum_encoder_follows_the_recipe_cosine_schedule(method, base, end):
    """solo-learn's tau: from base_tau to final_tau along a cosine over the run's iterations."""
    _runtime(max_iters=10)
    model = _model(method)
    ema = getattr(model, MOMENTUM_ENCODER[method])
    views = _views(n=8)
    model.loss(views, data_samples=[])  # first update: the momentum encoder copies the online one
    online = model.backbone.conv1.weight
    torch.testing.assert_close(ema.module[0].conv1.weight, online, rtol=0, atol=0)
    with torch.no_grad():
        online.add_(1.0)
    previous = ema.module[0].conv1.weight.clone()
    model.loss(views, data_samples=[])
    tau = end - (end - base) * (math.cos(math.pi * 1 / 10) + 1) / 2
    # CosineEMA evaluates the cosine on its float32 step counter: tau to ~1e-9
    torch.testing.assert_close(ema.module[0].conv1.weight, tau * previous + (1 - tau) * online,
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_orthogonality_penalty_covers_the_online_backbone_only(method):
    _runtime()
    model = _model(method, reg="so")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(model.loss(_views(n=8), data_samples=[])["loss_reg"],
                                [p for _, p in named], allow_unused=True)
    penalized = {name for (name, _), g in zip(named, grads) if g is not None and g.abs().sum() > 0}
    weights = {name for name, p in named
               if name.startswith("backbone.") and name.endswith("weight") and p.ndim >= 2}
    assert penalized == weights
    if method in MOMENTUM_ENCODER:  # a copy outside the backbone, never optimized
        ema = getattr(model, MOMENTUM_ENCODER[method])
        assert not {id(p) for p in ema.parameters()} & {id(p) for p in model.backbone.parameters()}
        assert not any(p.requires_grad for p in ema.parameters())


@pytest.mark.parametrize("method", ["mocov2plus", "mocov3", "swav"])
def test_state_dict_restores_queues_and_momentum_encoders(method):
    """What a checkpoint holds (the state dict) is everything the next step depends on."""
    _runtime(epoch=60, max_iters=10)  # SwAV: queue in use, prototypes learning
    trained = _model(method)
    for seed in (0, 1):  # two steps: queues written, momentum encoder averaged
        trained.loss(_views(n=8, seed=seed), data_samples=[])
    state = trained.state_dict()
    if method != "mocov3":
        assert "queue" in state and trained.queue.abs().sum() > 0
    restored = _model(method, seed=7)
    restored.load_state_dict(state)
    views = _views(n=8, seed=2)
    after = [m.loss(views, data_samples=[])["loss_ssl"].item() for m in (trained, restored)]
    assert after[0] == after[1]
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(restored.state_dict()[key], value, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("method,option,message", [
    ("mocov2plus", "model.queue_len=40", "multiple of the global batch size 16"),
    ("swav", "model.queue_length=8", "hold at least the global batch of 16"),
])
def test_a_queue_that_cannot_take_a_batch_is_a_usage_error(method, option, message):
    with pytest.raises(UsageError, match=message):
        compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", cfg_options=WIDTH + OPTIONS[method]
                                + ["train_dataloader.batch_size=16", option]), "/tmp/unused")


@pytest.mark.parametrize("method", METHODS)
def test_method_trains_through_the_cli_with_or(method, tmp_path, capsys):
    work_dir = tmp_path / method
    code = main(["pretrain", "--method", method, "--reg", "so", "--backbone", "resnet18_cifar",
                 "--dataset", "synthetic", "--work-dir", str(work_dir), "--epochs", "1",
                 "--cfg-options", *WIDTH, *OPTIONS[method], "train_dataloader.batch_size=16",
                 "train_dataloader.dataset.num_samples=32"])
    assert code == 0, capsys.readouterr().err[-2000:]
    summary = json.loads((work_dir / SUMMARY_FILE).read_text())
    assert summary["status"] == "finished" and summary["iterations"] == 2
    assert all(math.isfinite(row["loss"]) and row["reg_penalty"] > 0
               for row in summary["train_log"])
    checkpoint = torch.load(work_dir / "epoch_1.pth", map_location="cpu", weights_only=False)
    state = checkpoint["state_dict"]
    if method in MOMENTUM_ENCODER:
        assert any(key.startswith(MOMENTUM_ENCODER[method] + ".module.0.") for key in state)
    if method in ("mocov2plus", "swav"):
        assert state["queue"].abs().sum() > 0


# One rank of the distributed Sinkhorn, in a fresh interpreter: forking the threaded test process
# can deadlock (it did), and spawn would re-import this module with mmselfsup (slow).
_SINKHORN_RANK = """
import sys, torch
from ortho_suite import losses
rank, port, scores, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}",
                                     rank=rank, world_size=2)
scores = torch.load(scores)
half = len(scores) // 2
torch.save(losses.sinkhorn_knopp(scores[rank * half:(rank + 1) * half], 3, 0.05), f"{out}.{rank}")
torch.distributed.destroy_process_group()
"""


def test_swav_codes_over_two_processes_are_the_codes_of_the_whole_batch(tmp_path):
    """solo-learn's distributed Sinkhorn: sums over prototypes cover every process's samples."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    g = torch.Generator().manual_seed(4)
    scores = F.normalize(torch.randn(32, 8, generator=g, dtype=torch.float64), dim=1)
    torch.save(scores, tmp_path / "scores.pt")
    ranks = [subprocess.Popen([sys.executable, "-c", _SINKHORN_RANK, str(rank), str(port),
                               str(tmp_path / "scores.pt"), str(tmp_path / "codes")])
             for rank in (0, 1)]
    assert [proc.wait(timeout=120) for proc in ranks] == [0, 0]
    split = torch.cat([torch.load(tmp_path / f"codes.{rank}") for rank in (0, 1)])
    torch.testing.assert_close(split, losses.sinkhorn_knopp(scores, 3, 0.05),
                               rtol=1e-12, atol=1e-15)
