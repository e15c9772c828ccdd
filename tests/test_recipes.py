"""The papers' optimizer recipes (ortho_suite/configs/recipes/<dataset>/<method>.py): composition
over the method configs, the learning-rate scaling, LARS with its exclusions, the warm-up cosine
schedule step by step, SimSiam's fixed predictor rate, ``--recipe default``, overrides, and the
record in summary.json. Expected values are the source scripts' numbers, written here."""
from __future__ import annotations

import copy
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ortho_suite import build, catalog, cli
from ortho_suite.report import summarize
from ortho_suite.runs import CONFIG_FILE, SUMMARY_FILE, RunSpec
from ortho_suite.train import compose

from .conftest import TINY_OPTIONS

RECIPES = sorted((p.parent.name, p.stem) for p in (catalog.CONFIGS_DIR / "recipes").glob("*/*.py")
                 if p.parent.name != "_base_")
BACKBONE = {"cifar10": "resnet18_cifar", "cifar100": "resnet18_cifar", "imagenet100": "resnet18",
            "imagenet": "resnet50"}
# Tiny networks (CPU); the optimizer and schedule do not depend on the widths.
TINY = ["model.backbone.width=4", "custom_hooks.1.interval=0"]
PROJ = ["model.neck.hid_channels=32", "model.neck.out_channels=32"]
METHOD_OPTIONS = {
    "directclr": ["model.dim=32"],
    "wmse": ["model.neck.hid_channels=32", "model.neck.out_channels=16", "model.w_size=32"],
    "dino": PROJ + ["model.neck.num_prototypes=16"], "swav": PROJ + ["model.num_prototypes=16"],
    "nnbyol": PROJ + ["model.head.predictor.hid_channels=32"],
    "mocov3": PROJ + ["model.head.predictor.hid_channels=32"],
    "simsiam": PROJ + ["model.head.predictor.hid_channels=16"],
}


def _compose(dataset, method, batch=256, epochs=30, options=(), recipe="paper", backbone=None):
    opts = [*TINY, *METHOD_OPTIONS.get(method, PROJ), f"train_dataloader.batch_size={batch}",
            *options]
    return compose.compose_config(RunSpec(method, backbone or BACKBONE[dataset], dataset, epochs=epochs, cfg_options=opts, recipe=recipe), "/tmp/unused")


def _model_and_optimizer(cfg):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    torch.manual_seed(0)
    model = build.build_model(cfg).train()
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))


def assert_one_step_moves_the_weights(model, optim_wrapper) -> None:
    """One optimizer step on random gradients keeps every trainable weight finite and moves some."""
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.randn_like(p) * 1e-2
    optim_wrapper.step()
    after = dict(model.named_parameters())
    assert all(torch.isfinite(after[n]).all() for n in before)
    assert any(not torch.equal(after[n], b) for n, b in before.items())


def _schedulers(cfg, optim_wrapper, epoch_length):
    """The LR schedulers as mmengine's Runner builds them (epoch-based configs converted to
    iterations of ``epoch_length``)."""
    from mmengine.registry import PARAM_SCHEDULERS

    schedulers = []
    for spec in copy.deepcopy(cfg.param_scheduler):
        convert = spec.pop("convert_to_iter_based", False)
        cls = PARAM_SCHEDULERS.get(spec.pop("type"))
        schedulers.append(
            cls.build_iter_from_epoch(optim_wrapper, **spec, epoch_length=epoch_length)
            if convert else cls(optim_wrapper, **spec))
    return schedulers


def _lr_per_iteration(cfg, optim_wrapper, epoch_length, iterations, before_iter=None):
    """The learning rate of every parameter group at each training iteration: the schedulers
    step after every iteration, as mmengine's ParamSchedulerHook."""
    schedulers = _schedulers(cfg, optim_wrapper, epoch_length)
    rates = []
    for _ in range(iterations):
        if before_iter is not None:
            before_iter()
        rates.append([group["lr"] for group in optim_wrapper.optimizer.param_groups])
        optim_wrapper.step()  # no gradients: nothing moves, only the step counts
        for scheduler in schedulers:
            scheduler.step()
    return np.array(rates)


# ------------------------------------------------------------------ composed values

# The source scripts' numbers: optimizer, lr per 256 images (None: not scaled), weight decay,
# LARS arguments, warm-up epochs and start lr, cosine floor (absolute, or a fraction of lr).
SOLO_LARS = dict(eta=0.02, clip_lr=True, exclude_bias_n_norm=True)
SGD = dict(momentum=0.9)
REPRESENTATIVE = {
    # solo-learn scripts/pretrain/cifar/*.yaml (CIFAR-100 uses them), solo/methods/base.py defaults
    ("cifar100", "byol"): ("LARSSolo", 1.0, 1e-5, SOLO_LARS, 10, 3e-5, ("eta_min", 0.0)),
    ("cifar100", "barlowtwins"): ("LARSSolo", 0.3, 1e-4, SOLO_LARS, 10, 3e-5, ("eta_min", 0.0)),
    ("cifar100", "swav"): ("LARSSolo", 0.6, 1e-6, SOLO_LARS, 10, 3e-5, ("eta_min", 0.0)),
    ("cifar100", "simsiam"): ("SGD", 0.5, 1e-5, SGD, 10, 3e-5, ("eta_min", 0.0)),
    ("cifar100", "wmse"): ("Adam", 2e-3, 1e-6, {}, 10, 0.0, ("eta_min", 0.0)),
    # solo-learn scripts/pretrain/imagenet-100/mocov2plus.yaml
    ("imagenet100", "mocov2plus"): ("SGD", 0.3, 1e-4, SGD, 10, 3e-5, ("eta_min", 0.0)),
    # INTL scripts/cifar100.sh, scripts/in100.sh (main.py: 2 warm-up epochs, cosine to 0.001 lr)
    ("cifar100", "intl"): ("SGD", 0.3, 1e-4, SGD, 2, 0.0, ("eta_min_ratio", 1e-3)),
    ("imagenet100", "intl"): ("SGD", 0.5, 2.5e-5, SGD, 2, 0.0, ("eta_min_ratio", 1e-3)),
    # DirectCLR directclr/main.py, utils.py: LARS lr 4.8 not scaled, 10 warm-up epochs
    ("imagenet", "directclr"): ("LARSBarlowTwins", None, 1e-6,
                                dict(eta=1e-3, momentum=0.9, exclude_bias_n_norm=True), 10, 0.0,
                                ("eta_min_ratio", 1e-3)),
}


@pytest.mark.parametrize("dataset,method", sorted(REPRESENTATIVE))
def test_composed_config_has_the_scripts_optimizer_and_schedule(dataset, method):
    kind, base_lr, wd, extra, warmup_epochs, warmup_start, floor = REPRESENTATIVE[(dataset, method)]
    batch, epochs = 512, 30
    cfg = _compose(dataset, method, batch=batch, epochs=epochs)
    optimizer = cfg.optim_wrapper.optimizer
    lr = 4.8 if base_lr is None else base_lr * batch / 256
    assert optimizer.type == kind
    assert optimizer.lr == pytest.approx(lr, rel=1e-12)
    assert optimizer.weight_decay == wd
    for key, value in extra.items():
        assert optimizer[key] == value, key
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ("LinearLR", 0, warmup_epochs)
    assert warmup.start_factor == pytest.approx(max(warmup_start / lr, compose.WARMUP_FROM_ZERO))
    assert (cosine.type, cosine.begin, cosine.end) == ("CosineAnnealingLR", warmup_epochs, epochs)
    assert cosine.T_max == epochs - warmup_epochs and cosine[floor[0]] == floor[1]
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based  # per iteration
    assert cfg.ortho_suite.recipe == f"recipes/{dataset}/{method}.py"


def test_recipe_default_keeps_the_suite_sgd():
    paper = _compose("cifar100", "byol")
    default = _compose("cifar100", "byol", recipe="default")
    assert paper.optim_wrapper.optimizer.type == "LARSSolo"
    assert default.optim_wrapper.optimizer.to_dict() == dict(type="SGD", lr=0.05, momentum=0.9,
                                                             weight_decay=5e-4)
    assert [s.type for s in default.param_scheduler] == ["CosineAnnealingLR"]
    assert "optim_recipe" not in default and default.ortho_suite.recipe == "default"
    assert [h.type for h in default.custom_hooks] == [h.type for h in paper.custom_hooks]
    # no recipe for the dataset (the smoke profile's Fashion-MNIST, or synthetic): the default
    for dataset in ("fmnist", "synthetic"):
        cfg = compose.compose_config(RunSpec("byol", "resnet18_cifar", dataset), "/tmp/unused")
        assert cfg.ortho_suite.recipe == "default" and cfg.optim_wrapper.optimizer.type == "SGD"


def test_unknown_recipe_choice_is_a_usage_error():
    from ortho_suite.errors import UsageError

    with pytest.raises(UsageError, match="unknown recipe 'papers'"):
        _compose("cifar100", "byol", recipe="papers")


def test_cfg_options_override_recipe_values():
    cfg = _compose("cifar100", "byol", batch=512, options=[
        "optim_wrapper.optimizer.lr=0.7", "optim_wrapper.optimizer.weight_decay=1e-3",
        "optim_wrapper.optimizer.clip_lr=False"])
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.lr == 0.7  # an explicit lr is used as it is, not scaled with the batch
    assert optimizer.weight_decay == 1e-3 and optimizer.clip_lr is False
    assert cfg.param_scheduler[0].start_factor == pytest.approx(3e-5 / 0.7)
    rebased = _compose("cifar100", "byol", batch=128,
                       options=["optim_recipe.base_lr=2.0", "param_scheduler.0.start_factor=0.5"])
    assert rebased.optim_wrapper.optimizer.lr == pytest.approx(2.0 * 128 / 256)
    assert rebased.param_scheduler[0].start_factor == 0.5


@pytest.mark.parametrize("dataset,method", RECIPES, ids=[f"{d}/{m}" for d, m in RECIPES])
def test_every_recipe_composes_and_trains_its_method(dataset, method):
    """Each recipe file composes over its method, builds its optimizer and schedulers on the
    method's model and takes a finite step; cifar100 recipes are cifar10's (solo-learn and INTL
    use one script for both)."""
    cfg = _compose(dataset, method, batch=64)
    model, optim_wrapper = _model_and_optimizer(cfg)
    assert type(optim_wrapper.optimizer).__name__ == cfg.optim_wrapper.optimizer.type
    source = cfg.optim_recipe.source
    assert source and cfg.optim_recipe.base_lr > 0
    _schedulers(cfg, optim_wrapper, epoch_length=2)
    assert_one_step_moves_the_weights(model, optim_wrapper)
    if dataset == "cifar100":
        twin = _compose("cifar10", method, batch=64)
        assert twin.optim_wrapper.to_dict() == cfg.optim_wrapper.to_dict()
        assert twin.param_scheduler == cfg.param_scheduler


# ------------------------------------------------------------------ LARS on a built model

def _norm(x):
    return float(np.sqrt((x.astype(np.float64) ** 2).sum()))


def _check_two_lars_steps(cfg, seed: int, lr: float, momentum: float, update_of) -> dict:
    """Two optimizer steps of the recipe's optimizer on the built model, with random gradients,
    against a float64 momentum SGD (b <- m b + u, w <- w - lr b) whose per-tensor update
    u = ``update_of(w, g)`` is the reference formula."""
    model, optim_wrapper = _model_and_optimizer(cfg)
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    g = torch.Generator().manual_seed(seed)
    w = {n: p.detach().double().numpy().copy() for n, p in params.items()}
    buf = {}
    for _ in range(2):
        grads = {}
        for n, p in params.items():
            p.grad = torch.randn(p.shape, generator=g) * 1e-2
            grads[n] = p.grad.double().numpy()
        optim_wrapper.step()
        for n, grad in grads.items():
            update = update_of(w[n], grad)
            buf[n] = update if n not in buf else momentum * buf[n] + update
            w[n] = w[n] - lr * buf[n]
        for n, p in params.items():
            np.testing.assert_allclose(p.detach().numpy(), w[n], rtol=1e-5, atol=1e-7, err_msg=n)
    return params


def test_solo_lars_excludes_biases_and_norms_on_a_built_model():
    """cifar100/byol: every 1-D tensor (biases, batch-norm weights and biases) steps with its plain
    gradient (no weight decay, no trust ratio); every other tensor with solo-learn's clipped trust
    ratio on its decayed gradient (solo/utils/lars.py), written here in float64; two steps check
    the momentum buffer (lr outside it)."""
    lr, wd, eta = 1.0, 1e-5, 0.02

    def update_of(w, grad):
        if w.ndim == 1:
            return grad
        ratio = eta * _norm(w) / (_norm(grad) + wd * _norm(w) + 1e-8)
        return (grad + wd * w) * min(ratio / lr, 1.0)

    params = _check_two_lars_steps(_compose("cifar100", "byol", batch=256), 1, lr, 0.9, update_of)
    flat = [n for n, p in params.items() if p.ndim == 1]
    assert any("bn" in n for n in flat) and any(n.endswith("bias") and "bn" not in n for n in flat)


def test_barlowtwins_lars_of_directclr_on_a_built_model():
    """imagenet/directclr: the Barlow Twins code's LARS (directclr/utils.py): 1-D tensors step
    with their plain gradient; others with (g + wd w) scaled by eta ||w|| / ||g + wd w||."""
    lr, wd, eta = 4.8, 1e-6, 1e-3

    def update_of(w, grad):
        if w.ndim == 1:
            return grad
        update = grad + wd * w
        return update * (eta * _norm(w) / _norm(update))

    _check_two_lars_steps(_compose("imagenet", "directclr"), 2, lr, 0.9, update_of)


def test_solo_lars_edge_cases():
    """A zero gradient moves nothing (solo-learn adds no weight decay then); without clip_lr the
    ratio multiplies lr; a tensor outside ``exclude_bias_n_norm`` gets the ratio even if 1-D."""
    from ortho_suite.train.optimizers import LARSSolo

    w2, w1, w0 = (torch.nn.Parameter(torch.full(s, 2.0)) for s in [(2, 2), (3,), (2, 2)])
    opt = LARSSolo([w2, w1, w0], lr=0.5, momentum=0.0, weight_decay=0.1, eta=0.01)
    w2.grad, w1.grad, w0.grad = torch.ones(2, 2), torch.ones(3), torch.zeros(2, 2)
    opt.step()
    ratio2 = 0.01 * 4.0 / (2.0 + 0.1 * 4.0 + 1e-8)  # ||w|| = 4, ||g|| = 2
    np.testing.assert_allclose(w2.detach().numpy(), 2.0 - 0.5 * ratio2 * (1 + 0.2), rtol=1e-6)
    ratio1 = 0.01 * math.sqrt(12) / (math.sqrt(3) + 0.1 * math.sqrt(12) + 1e-8)
    np.testing.assert_allclose(w1.detach().numpy(), 2.0 - 0.5 * ratio1 * (1 + 0.2), rtol=1e-6)
    np.testing.assert_array_equal(w0.detach().numpy(), np.full((2, 2), 2.0))


# ------------------------------------------------------------------ the schedule, step by step

def _solo_warmup_cosine(t, lr, start, warmup, total, floor=0.0):
    """solo-learn's LinearWarmupCosineAnnealingLR per iteration (solo/utils/lr_scheduler.py,
    closed form): linear from ``start`` to lr over ``warmup`` iterations (lr at warmup - 1),
    then cosine to ``floor`` at ``total``."""
    if t < warmup:
        return start + t * (lr - start) / (warmup - 1)
    return floor + 0.5 * (lr - floor) * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))


def test_lr_follows_solo_warmup_then_cosine_at_every_iteration():
    epochs, per_epoch, batch = 14, 5, 512
    cfg = _compose("cifar100", "byol", batch=batch, epochs=epochs)
    _, optim_wrapper = _model_and_optimizer(cfg)
    lr = 1.0 * batch / 256
    rates = _lr_per_iteration(cfg, optim_wrapper, per_epoch, epochs * per_epoch)
    expected = [_solo_warmup_cosine(t, lr, 3e-5, 10 * per_epoch, epochs * per_epoch)
                for t in range(epochs * per_epoch)]
    for group in range(rates.shape[1]):
        np.testing.assert_allclose(rates[:, group], expected, rtol=1e-9, atol=1e-12)
    assert rates[0, 0] == pytest.approx(3e-5) and rates[10 * per_epoch - 1, 0] == pytest.approx(lr)


def test_a_run_shorter_than_the_warmup_ends_during_it():
    """--epochs 4 with a 10-epoch warm-up: no cosine, the warm-up keeps the recipe's slope."""
    cfg = _compose("cifar100", "byol", batch=256, epochs=4)
    assert [s.type for s in cfg.param_scheduler] == ["LinearLR"]
    assert cfg.param_scheduler[0].end == 10
    _, optim_wrapper = _model_and_optimizer(cfg)
    rates = _lr_per_iteration(cfg, optim_wrapper, 3, 12)[:, 0]
    expected = [_solo_warmup_cosine(t, 1.0, 3e-5, 30, 300) for t in range(12)]
    np.testing.assert_allclose(rates, expected, rtol=1e-9)


def test_warmup_from_zero_and_cosine_to_a_thousandth_within_the_stated_bound():
    """DirectCLR's schedule (directclr/utils.py adjust_learning_rate): lr t / W during the
    warm-up, then cosine to 0.001 lr. The recipe's LinearLR starts at ~0 and reaches lr one
    iteration earlier; the rates differ by at most lr / W, and agree exactly afterwards."""
    epochs, per_epoch = 14, 4
    cfg = _compose("imagenet", "directclr", epochs=epochs)
    _, optim_wrapper = _model_and_optimizer(cfg)
    lr, warmup, total = 4.8, 10 * per_epoch, epochs * per_epoch
    rates = _lr_per_iteration(cfg, optim_wrapper, per_epoch, total)[:, 0]

    def directclr(step):
        if step < warmup:
            return lr * step / warmup
        q = 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))
        return lr * q + lr * 0.001 * (1 - q)

    expected = np.array([directclr(t) for t in range(total)])
    assert np.abs(rates - expected)[:warmup].max() <= lr / warmup * (1 + 1e-9)
    np.testing.assert_allclose(rates[warmup:], expected[warmup:], rtol=1e-9)
    assert rates[0] < 1e-10 and rates[warmup - 1] == pytest.approx(lr)


def test_simsiam_predictor_keeps_the_base_lr():
    """solo-learn's SimSiam: the predictor's lr never follows the schedule (static_lr); here
    mmselfsup's SimSiamHook resets the fix_lr group before every iteration."""
    from mmselfsup.engine.hooks import SimSiamHook

    epochs, per_epoch, batch = 12, 2, 128
    cfg = _compose("cifar100", "simsiam", batch=batch, epochs=epochs)
    lr = 0.5 * batch / 256
    hook_cfg = [h for h in cfg.custom_hooks if h.type == "SimSiamHook"]
    assert len(hook_cfg) == 1 and hook_cfg[0].lr == pytest.approx(lr)
    model, optim_wrapper = _model_and_optimizer(cfg)
    groups = optim_wrapper.optimizer.param_groups
    fixed = [i for i, g in enumerate(groups) if g.get("fix_lr")]
    predictor = {id(p) for p in model.head.predictor.parameters()}
    assert {id(p) for i in fixed for p in groups[i]["params"]} == predictor
    others = [i for i in range(len(groups)) if i not in fixed]
    hook = SimSiamHook(fix_pred_lr=True, lr=hook_cfg[0].lr, adjust_by_epoch=False)
    runner = SimpleNamespace(optim_wrapper=optim_wrapper)
    rates = _lr_per_iteration(cfg, optim_wrapper, per_epoch, epochs * per_epoch,
                              before_iter=lambda: hook.before_train_iter(runner, 0))
    np.testing.assert_allclose(rates[:, fixed], lr, rtol=1e-12)
    expected = [_solo_warmup_cosine(t, lr, 3e-5, 10 * per_epoch, epochs * per_epoch)
                for t in range(epochs * per_epoch)]
    np.testing.assert_allclose(rates[:, others[0]], expected, rtol=1e-9, atol=1e-12)


def test_intl_imagenet100_decays_only_multidimensional_weights():
    cfg = _compose("imagenet100", "intl")
    model, optim_wrapper = _model_and_optimizer(cfg)
    decay = {id(p): g["weight_decay"] for g in optim_wrapper.optimizer.param_groups
             for p in g["params"]}
    for name, p in model.named_parameters():
        assert decay[id(p)] == (0.0 if p.ndim == 1 else 2.5e-5), name


# ------------------------------------------------------------------ the run's record

def test_summary_names_the_recipe(tmp_path, monkeypatch):
    """A short run records the recipe it trained with in summary.json and the profile's
    provenance; the synthetic dataset has no recipe, so cifar100's BYOL recipe is lent to it."""

    lent = catalog.recipe_path("cifar100", "byol")
    monkeypatch.setattr(catalog, "recipe_path", lambda dataset, method, *rest: lent)
    work_dir = tmp_path / "run"
    assert cli.main(["pretrain", "--method", "byol", "--backbone", "resnet18_cifar", "--dataset",
                     "synthetic", "--epochs", "1", "--work-dir", str(work_dir), "--cfg-options",
                     *TINY_OPTIONS, "custom_hooks.1.interval=0"]) == 0
    summary = json.loads((work_dir / SUMMARY_FILE).read_text())
    assert summary["status"] == "finished" and summary["recipe"] == "recipes/cifar100/byol.py"
    assert "type='LARSSolo'" in (work_dir / CONFIG_FILE).read_text()
    assert summarize.collect_provenance(tmp_path, ["run"])["run"]["recipe"] == summary["recipe"]
