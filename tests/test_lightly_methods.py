"""LightlySSL's NNCLR, DCL, DCLW and MoCo (ortho_suite/losses.py, models/lightly_algorithms.py).

Each loss is checked against the formula evaluated independently in float64 with plain Python
loops and ``math`` (no torch), its gradient against central finite differences of that
evaluation; each algorithm against its loss and its memory-bank rule; each method learns on a fixed
batch and trains through the real mmengine Runner.
"""
from __future__ import annotations

import json
import math
import uuid

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

from ortho_suite import build, catalog, losses
from ortho_suite.runs import SUMMARY_FILE, RunSpec
from ortho_suite.train import compose, launch
from ortho_suite.train import pretrain as training

TOL = 1e-6
METHODS = ("nnclr", "dcl", "dclw", "moco")
WIDTH = ["model.backbone.width=8", "custom_hooks.1.interval=0"]
PROJ = ["model.neck.hid_channels=64", "model.neck.out_channels=32"]
OPTIONS = {
    "nnclr": PROJ + ["model.head.predictor.hid_channels=64", "model.queue_size=64"],
    "dcl": PROJ,
    "dclw": PROJ,
    "moco": PROJ + ["model.queue_size=64"],
}


# --- the formulas, in plain float64 Python ------------------------------------------------------

def _rows(t: torch.Tensor) -> list[list[float]]:
    return [[float(x) for x in row] for row in t.double()]


def _unit(v: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def _ref_moco(q, k, queue, t):
    total = 0.0
    for qi, ki in zip(q, k):
        qi, ki = _unit(qi), _unit(ki)
        pos = math.exp(_dot(qi, ki) / t)
        neg = sum(math.exp(_dot(qi, n) / t) for n in queue)
        total += -math.log(pos / (pos + neg))
    return total / len(q)


def _ref_nt_xent(a, b, t):
    """SimCLR's NT-Xent over the 2N rows of a and b: row i's positive is row i + N (and back)."""
    z = [_unit(r) for r in a] + [_unit(r) for r in b]
    n = len(a)
    total = 0.0
    for i in range(2 * n):
        partner = (i + n) % (2 * n)
        denom = sum(math.exp(_dot(z[i], z[j]) / t) for j in range(2 * n) if j != i)
        total += -math.log(math.exp(_dot(z[i], z[partner]) / t) / denom)
    return total / (2 * n)


def _ref_nnclr(p1, p2, nn1, nn2, t):
    return (_ref_nt_xent(nn1, p2, t) + _ref_nt_xent(nn2, p1, t)) / 2


def _ref_dclw_weights(z1, z2, sigma):
    e = [math.exp(_dot(_unit(a), _unit(b)) / sigma) for a, b in zip(z1, z2)]
    mean = sum(e) / len(e)
    return [2 - x / mean for x in e]


def _ref_dcl(z1, z2, t, weights=None):
    u, v = [_unit(r) for r in z1], [_unit(r) for r in z2]
    n = len(u)
    w = weights or [1.0] * n

    def direction(a, b):
        total = 0.0
        for i in range(n):
            neg = sum(math.exp(_dot(a[i], a[j]) / t) + math.exp(_dot(a[i], b[j]) / t)
                      for j in range(n) if j != i)
            total += -w[i] * _dot(a[i], b[i]) / t + math.log(neg)
        return total / n

    return (direction(u, v) + direction(v, u)) / 2


def _fd_grad(fn, args, which, h=1e-6):
    """Central finite differences of ``fn(*args)`` with respect to ``args[which]`` (rows)."""
    grad = []
    for i, row in enumerate(args[which]):
        grow = []
        for j in range(len(row)):
            up = [list(r) for r in args[which]]
            down = [list(r) for r in args[which]]
            up[i][j] += h
            down[i][j] -= h
            plus = list(args)
            plus[which] = up
            minus = list(args)
            minus[which] = down
            grow.append((fn(*plus) - fn(*minus)) / (2 * h))
        grad.append(grow)
    return torch.tensor(grad, dtype=torch.float64)


def _inputs(*shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


def test_moco_infonce_matches_the_formula_in_value_and_gradient():
    q, k, queue = _inputs((5, 4), (5, 4), (7, 4))
    queue_unit = F.normalize(queue.detach(), dim=1)
    ours = losses.moco_infonce_loss(q, k, queue_unit, temperature=0.1)
    ours.backward()
    args = (_rows(q), _rows(k), _rows(queue_unit), 0.1)
    assert ours.item() == pytest.approx(_ref_moco(*args), abs=TOL)
    torch.testing.assert_close(q.grad, _fd_grad(_ref_moco, args, 0), atol=TOL, rtol=0)
    assert k.grad is None and queue.grad is None  # keys and bank get no gradient


def test_nnclr_loss_matches_the_formula_in_value_and_gradient():
    p1, p2, nn1, nn2 = _inputs((5, 4), (5, 4), (5, 4), (5, 4), seed=1)
    ours = losses.nnclr_loss(p1, p2, nn1, nn2, temperature=0.5)
    ours.backward()
    args = (_rows(p1), _rows(p2), _rows(nn1), _rows(nn2), 0.5)
    assert ours.item() == pytest.approx(_ref_nnclr(*args), abs=TOL)
    torch.testing.assert_close(p1.grad, _fd_grad(_ref_nnclr, args, 0), atol=TOL, rtol=0)
    torch.testing.assert_close(p2.grad, _fd_grad(_ref_nnclr, args, 1), atol=TOL, rtol=0)
    assert nn1.grad is None and nn2.grad is None  # the neighbours are targets


@pytest.mark.parametrize("sigma", [None, 0.5])
def test_dcl_and_dclw_match_the_formula_in_value_and_gradient(sigma):
    z1, z2 = _inputs((6, 4), (6, 4), seed=2)
    ours = (losses.dcl_loss(z1, z2, temperature=0.1) if sigma is None
            else losses.dclw_loss(z1, z2, temperature=0.1, sigma=sigma))
    ours.backward()
    # DCLW's weights carry no gradient: held at their value while differencing
    weights = None if sigma is None else _ref_dclw_weights(_rows(z1), _rows(z2), sigma)
    args = (_rows(z1), _rows(z2), 0.1, weights)
    assert ours.item() == pytest.approx(_ref_dcl(*args), abs=TOL)
    torch.testing.assert_close(z1.grad, _fd_grad(_ref_dcl, args, 0), atol=TOL, rtol=0)
    torch.testing.assert_close(z2.grad, _fd_grad(_ref_dcl, args, 1), atol=TOL, rtol=0)
    if sigma is not None:
        w = losses.dclw_weights(z1.detach(), z2.detach(), sigma)
        torch.testing.assert_close(w, torch.tensor(weights, dtype=torch.float64), atol=TOL, rtol=0)
        assert w.mean().item() == pytest.approx(1.0, abs=1e-12)


def test_dcl_drops_the_positive_from_the_denominator():
    """With the positive pair identical and far from every other row, DCL's loss goes to
    -1/t + log(sum of negatives) while SimCLR-style InfoNCE stays >= 0."""
    z = F.normalize(torch.eye(4, dtype=torch.float64), dim=1)
    dcl = losses.dcl_loss(z, z, temperature=0.1).item()
    assert dcl == pytest.approx(-1 / 0.1 + math.log(6 * math.exp(0.0)), abs=1e-9)


def test_the_losses_learn_on_a_fixed_batch():
    """Gradient descent on free embeddings lowers each loss (a learning check of the objective
    alone, no network)."""
    z1, z2 = _inputs((16, 8), (16, 8), seed=3)
    bank = F.normalize(torch.randn(32, 8, generator=torch.Generator().manual_seed(4),
                                   dtype=torch.float64), dim=1)
    objectives = {
        "dcl": lambda: losses.dcl_loss(z1, z2),
        "dclw": lambda: losses.dclw_loss(z1, z2),
        "moco": lambda: losses.moco_infonce_loss(z1, z2, bank),
        "nnclr": lambda: losses.nnclr_loss(z1, z2, bank[:16], bank[16:]),  # fixed neighbours
    }
    for name, objective in objectives.items():
        with torch.no_grad():
            z1.copy_(torch.randn(16, 8, generator=torch.Generator().manual_seed(5)))
            z2.copy_(z1 + 0.5 * torch.randn(16, 8, generator=torch.Generator().manual_seed(6)))
        opt = torch.optim.SGD([z1, z2], lr=1.0)
        first = objective().item()
        for _ in range(30):
            opt.zero_grad()
            objective().backward()
            opt.step()
        last = objective().item()
        assert last < first - 0.05 * abs(first), (name, first, last)


# --- the algorithms ----------------------------------------------------------------------------

@pytest.fixture
def hub():
    """A fresh message hub (the current one), as a runner's."""
    hub = MessageHub.get_instance(f"test-lightly-{uuid.uuid4()}")
    hub.update_info("max_iters", 100)
    return hub


def _model(method, reg="none", extra=(), seed=0):
    cfg = compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", reg=reg,
                                         cfg_options=WIDTH + OPTIONS[method] + list(extra)),
                                 "/tmp/unused")
    torch.manual_seed(seed)
    return build.build_model(cfg).train()


def _views(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 32, 32, generator=g) for _ in range(2)]


def test_catalog_lists_the_four_as_implemented():
    for method in METHODS:
        assert method in catalog.METHODS and method not in catalog.PLANNED["methods"]
        assert catalog.config_path(catalog.METHODS[method]).is_file()


def test_nnclr_swaps_in_neighbours_of_the_old_support_set_then_enqueues_view_two(hub):
    model, views = _model("nnclr"), _views()
    queue = model.queue.clone()
    ours = model.loss(views, data_samples=[])["loss_ssl"]
    with torch.no_grad():
        z = [model.embed(v) for v in views]
        p = [model.head.predictor([zi])[0] for zi in z]
        unit = [F.normalize(zi, dim=1) for zi in z]
        nn = [queue[(u @ queue.T).argmax(dim=1)] for u in unit]
        expected = losses.nnclr_loss(p[0], p[1], nn[0], nn[1], temperature=0.5)
    assert ours.item() == pytest.approx(expected.item(), rel=1e-6)
    assert int(model.queue_ptr) == 16
    torch.testing.assert_close(model.queue[:16], unit[1], atol=1e-6, rtol=0)
    assert torch.equal(model.queue[16:], queue[16:])


def test_moco_second_term_sees_the_first_terms_keys_and_momentum_is_constant(hub):
    model, views = _model("moco"), _views()
    queue = model.queue.clone()
    ours = model.loss(views, data_samples=[])["loss_ssl"]  # first update copies online -> target
    with torch.no_grad():
        q = [model.online_projection(v) for v in views]
        k = [F.normalize(model.target_net(v)[0], dim=1) for v in views]
        after_first = torch.cat([k[1], queue[16:]])
        expected = (losses.moco_infonce_loss(q[0], k[1], queue, 0.1)
                    + losses.moco_infonce_loss(q[1], k[0], after_first, 0.1)) / 2
    assert ours.item() == pytest.approx(expected.item(), rel=1e-6)
    assert int(model.queue_ptr) == 32
    torch.testing.assert_close(model.queue[:32], torch.cat([k[1], k[0]]), atol=1e-6, rtol=0)

    # constant coefficient 0.99 at every later step (no cosine schedule)
    online = dict(model.backbone.named_parameters())
    with torch.no_grad():
        for param in online.values():
            param.add_(0.1)
    for _ in range(2):
        target = {n: p.clone() for n, p in model.target_net.module[0].named_parameters()}
        model.update_target()
        for name, param in model.target_net.module[0].named_parameters():
            torch.testing.assert_close(param, 0.99 * target[name] + 0.01 * online[name],
                                       atol=1e-6, rtol=0)


def test_memory_bank_write_wraps_as_lightly(hub):
    """A batch that reaches the bank's end fills the tail only and the pointer returns to 0."""
    model = _model("moco", extra=["model.queue_size=40"])
    rows = F.normalize(torch.randn(16, 32), dim=1)
    model.enqueue(rows)
    model.enqueue(rows)
    before = model.queue.clone()
    model.enqueue(rows)
    assert int(model.queue_ptr) == 0
    assert torch.equal(model.queue[32:], rows[:8]) and torch.equal(model.queue[:32], before[:32])


@pytest.mark.parametrize("method", METHODS)
def test_loss_decreases_on_a_fixed_batch(method, hub):
    model, views = _model(method), _views()
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    history = []
    for _ in range(10):
        loss = model.loss(views, data_samples=[])["loss_ssl"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert all(math.isfinite(v) for v in history)
    # MoCo's first step contrasts with the random initial bank, every later one with this batch's
    # own earlier keys among the negatives: it can only improve on the second step's loss.
    start = 1 if method == "moco" else 0
    assert min(history[-3:]) < history[start], history


def test_bank_and_target_survive_a_state_dict_round_trip(hub):
    for method in ("nnclr", "moco"):
        model = _model(method)
        model.loss(_views(), data_samples=[])
        restored = _model(method, seed=7)
        restored.load_state_dict(model.state_dict())
        assert torch.equal(restored.queue, model.queue)
        assert torch.equal(restored.queue_ptr, model.queue_ptr)


@pytest.mark.parametrize("method", METHODS)
def test_method_trains_through_the_mmengine_runner(method, tmp_path):
    cfg = compose.compose_config(RunSpec(
        method, "resnet18_cifar", "synthetic", reg="so", epochs=1,
        cfg_options=WIDTH + OPTIONS[method] + ["train_dataloader.batch_size=16",
                                               "train_dataloader.dataset.num_samples=32"]),
        tmp_path)
    runner = launch.build_runner(cfg)
    before = {k: v.detach().clone() for k, v in runner.model.backbone.state_dict().items()
              if k.endswith("weight")}
    summary = training.train(runner, cfg)
    assert summary["status"] == "finished" and summary["iterations"] == 2
    assert all(math.isfinite(row["loss"]) and row["reg_penalty"] > 0
               for row in summary["train_log"])
    after = runner.model.backbone.state_dict()
    assert all(not torch.equal(v, after[k]) for k, v in before.items())
    on_disk = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert on_disk["iterations"] == 2
    state = torch.load(tmp_path / "epoch_1.pth", map_location="cpu", weights_only=False)["state_dict"]
    if method == "nnclr":
        assert int(state["queue_ptr"]) == 32
    if method == "moco":
        assert int(state["queue_ptr"]) == 0  # 2 steps x 2 writes of 16 rows fill the 64-row bank
        assert int(state["target_net.steps"]) == 2


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_representations_and_embeddings_to_evaluate(method):
    """`ortho-suite evaluate`'s feature extraction works with each model (as
    tests/test_evaluate.py checks for the other methods)."""
    from ortho_suite import features

    cfg = compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic",
                                         cfg_options=WIDTH + OPTIONS[method]), "/tmp/unused")
    torch.manual_seed(0)
    model = build.build_model(cfg).eval()
    data = build.feature_dataset(cfg, cfg.feature_data.test_split, limit=8)
    out = features.extract(model, data, 4, torch.device("cpu"), method, spectral=6, progress=False)
    assert out["representation"].shape == (8, 64) and len(out["labels"]) == 8
    assert out["embedding"].shape == (6, 32) and torch.isfinite(out["embedding"]).all()
