"""LightlySSL's CIFAR-10 benchmark protocol (variant lightly_b512): its recipes carry the values of
LightlySSL's script, its k-NN monitor runs on the full splits every epoch and the best epoch is
recorded, and the cifar10 profile's runs resolve the cells of LightlySSL's table and OR Table 4."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from ortho_suite import catalog, profiles
from ortho_suite.report.matching import evaluate_table, load_runs
from ortho_suite.report.table_specs import load_table
from ortho_suite.runs import METRICS, RunSpec, metric, spec_from_params
from ortho_suite.train import compose, launch
from ortho_suite.train import pretrain as training
from ortho_suite.train.hooks import OnlineMonitorHook, summarize_monitor

from .conftest import REPO
from .test_recipes import assert_one_step_moves_the_weights

# An independent transcription of lightly-ai/lightly at e8d317fc,
# docs/source/getting_started/benchmarks/cifar10_benchmark.py (configure_optimizers of each model
# class; lr_factor = batch_size / 128, l. 126): optimizer, lr per 128 images (or fixed where the
# script does not scale it), momentum, weight decay.
LIGHTLY = {
    "simclr": ("SGD", 6e-2, True, 0.9, 5e-4),  # SimCLRModel, l. 385-386
    "barlowtwins": ("SGD", 6e-2, True, 0.9, 5e-4),  # BarlowTwinsModel, l. 487-488
    "byol": ("SGD", 6e-2, True, 0.9, 5e-4),  # BYOLModel, l. 587-591
    "moco": ("SGD", 6e-2, True, 0.9, 5e-4),  # MocoModel, l. 350-354
    "nnclr": ("SGD", 6e-2, True, 0.9, 5e-4),  # NNCLRModel, l. 684-688
    "dino": ("SGD", 6e-2, True, 0.9, 5e-4),  # DINOModel, l. 746-750
    "dcl": ("SGD", 6e-2, True, 0.9, 5e-4),  # DCL, l. 781-782
    "dclw": ("SGD", 6e-2, True, 0.9, 5e-4),  # DCLW, l. 813-814
    "simsiam": ("SGD", 6e-2, False, 0.9, 5e-4),  # SimSiamModel, l. 426-430: "no lr-scaling"
    "swav": ("Adam", 1e-3, True, None, 1e-6),  # SwaVModel, l. 638-641
}
# LightlySSL's table (benchmarks.rst): the methods of its batch-512 rows.
TABLE_METHODS = {"barlowtwins", "byol", "dcl", "dclw", "dino", "moco", "nnclr", "simclr",
                 "simsiam", "swav"}
PROFILE = REPO / "benchmarks" / "profiles"
TABLES = REPO / "benchmarks" / "tables"


def _lightly_cfg(method, batch=512, epochs=200):
    return compose.compose_config(RunSpec(method, "resnet18_cifar", "cifar10", epochs=epochs,
                                          cfg_options=[f"train_dataloader.batch_size={batch}"],
                                          recipe="lightly"), "/tmp/unused")


@pytest.mark.parametrize("method", sorted(LIGHTLY))
def test_each_lightly_recipe_has_lightlys_optimizer_values_at_its_batch(method):
    kind, base_lr, scaled, momentum, weight_decay = LIGHTLY[method]
    for batch in (512, 128):
        cfg = _lightly_cfg(method, batch=batch)
        optimizer = cfg.optim_wrapper.optimizer
        assert optimizer.type == kind
        assert optimizer.lr == pytest.approx(base_lr * (batch / 128 if scaled else 1.0))
        assert optimizer.get("momentum") == momentum
        assert optimizer.weight_decay == weight_decay
    assert cfg.ortho_suite.recipe == f"recipes/lightly/cifar10/{method}.py"
    assert "cifar10_benchmark.py" in cfg.optim_recipe.source
    # CosineAnnealingLR(optim, max_epochs): stepped per epoch, to 0, no warm-up
    (schedule,) = cfg.param_scheduler
    assert schedule.type == "CosineAnnealingLR" and schedule.by_epoch
    assert not schedule.get("convert_to_iter_based", False)
    assert schedule.T_max == 200 and schedule.begin == 0 and schedule.eta_min == 0.0
    # LightlySSL's monitor replaces the runtime's, in its place: full splits, k 200, T 0.1, every epoch
    monitors = [h for h in cfg.custom_hooks if h.type == "OnlineMonitorHook"]
    assert monitors == [cfg.custom_hooks[1]]
    assert (monitors[0].interval, monitors[0].train_samples, monitors[0].test_samples,
            monitors[0].k, monitors[0].temperature) == (1, None, None, 200, 0.1)


def test_the_lightly_schedule_is_torchs_epoch_cosine():
    """The rate of every epoch equals torch's CosineAnnealingLR(optim, T_max=epochs) stepped once
    per epoch, as Lightning steps LightlySSL's scheduler."""
    from mmengine.optim import OptimWrapper
    from mmengine.registry import PARAM_SCHEDULERS

    cfg = _lightly_cfg("simclr", epochs=20)
    ours = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.optim_wrapper.optimizer.lr)
    spec = dict(cfg.param_scheduler[0])
    scheduler = PARAM_SCHEDULERS.get(spec.pop("type"))(OptimWrapper(ours), **spec)
    theirs = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=6e-2 * 512 / 128)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, 20)
    for epoch in range(20):
        assert ours.param_groups[0]["lr"] == pytest.approx(theirs.param_groups[0]["lr"], abs=1e-12)
        assert theirs.param_groups[0]["lr"] == pytest.approx(
            0.24 * (1 + math.cos(math.pi * epoch / 20)) / 2, abs=1e-12)
        ours.step(), theirs.step(), scheduler.step(), reference.step()


def test_other_recipes_keep_the_runtimes_monitor():
    cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "cifar10"), "/tmp/unused")
    monitor = cfg.custom_hooks[1]
    assert monitor.type == "OnlineMonitorHook"
    assert (monitor.train_samples, monitor.test_samples) == (5000, 1000)


def test_summarize_monitor_names_the_last_and_the_best_epoch():
    rows = [{"epoch": 1, "knn_top1": 30.0}, {"epoch": 2, "knn_top1": 52.5},
            {"epoch": 3, "knn_top1": 52.5}, {"epoch": 4, "knn_top1": 41.0}]
    record = summarize_monitor(rows)
    assert record["last"] == rows[3] and record["best"] == rows[1]  # the earliest of equal ones
    assert summarize_monitor([]) is None
    assert metric({"monitor_knn": record}, "monitor_knn_best_top1") == 52.5
    assert metric({"monitor_knn": record}, "monitor_knn_top1") == 41.0
    assert {"monitor_knn_top1", "monitor_knn_best_top1"} <= set(METRICS)


def test_a_tiny_run_monitors_the_full_splits_and_records_the_best_epoch(tmp_path, monkeypatch):
    """3 epochs on 40 synthetic images per split with the monitor's splits None: each epoch embeds
    every image of both splits, and summary.json's best is the maximum of its epochs."""
    from ortho_suite import build

    sizes = []
    real = build.feature_dataset

    def spy(cfg, split, limit=None):
        dataset = real(cfg, split, limit)
        sizes.append((split, limit, len(dataset)))
        return dataset

    monkeypatch.setattr(build, "feature_dataset", spy)
    cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic", epochs=3, cfg_options=[
        "model.backbone.width=4", "model.neck.hid_channels=32", "model.neck.out_channels=16",
        "train_dataloader.batch_size=8", "train_dataloader.dataset.num_samples=40",
        "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
        "online_probe.enabled=False", "custom_hooks.1.train_samples=None",
        "custom_hooks.1.test_samples=None"]), tmp_path)
    runner = launch.build_runner(cfg)
    summary = training.train(runner, cfg)
    assert summary["status"] == "finished"
    assert sizes == [("train", None, 40), ("test", None, 40)]
    history = summary["monitor"]
    assert [row["epoch"] for row in history] == [1, 2, 3]
    best = max(history, key=lambda row: row["knn_top1"])
    assert summary["monitor_knn"]["best"]["knn_top1"] == best["knn_top1"]
    assert summary["monitor_knn"]["best"]["epoch"] == best["epoch"]
    assert summary["monitor_knn"]["last"] == history[-1]
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["monitor_knn"] == summary["monitor_knn"]
    monitor = next(h for h in runner.hooks if isinstance(h, OnlineMonitorHook))
    assert monitor.train_samples is None and monitor.test_samples is None


def _cifar10_specs():
    runs = profiles.profile_runs(profiles.load_profile("cifar10", PROFILE))
    return runs, profiles.validate_runs(PROFILE / "cifar10.yaml", runs)


def test_the_variant_names_its_recipe_and_the_profile_trains_lightlys_table():
    assert catalog.VARIANT_RECIPES[catalog.LIGHTLY_CIFAR10_VARIANT] in catalog.RECIPE_CHOICES
    run = {"method": "simclr", "reg": "none", "backbone": "resnet18_cifar", "dataset": "cifar10",
           "aug": "solo_cifar_symmetric", "seed": 0, "epochs": 200, "cfg_options": None}
    assert spec_from_params(Path("p"), "r", {**run, "variant": "lightly_b512"}).recipe == "lightly"
    assert spec_from_params(Path("p"), "r", run).recipe == "paper"
    runs, specs = _cifar10_specs()
    lightly = {rid: s for rid, s in specs.items() if s.variant == catalog.LIGHTLY_CIFAR10_VARIANT}
    table_rows = {r.run["method"] for r in load_table(TABLES / "lightly_cifar10.yaml").rows}
    assert table_rows == TABLE_METHODS
    assert {(s.method, s.reg) for s in lightly.values()} == {
        (m, reg) for m in TABLE_METHODS for reg in ("none", "so")}
    # three seeds each: 200 epochs none and SO, 800 epochs none (LightlySSL's 800-epoch column)
    assert len(lightly) == 3 * len(TABLE_METHODS) * 3
    assert {s.reg for s in lightly.values() if s.epochs == 800} == {"none"}
    for rid, spec in lightly.items():
        assert spec.recipe == "lightly" and spec.epochs in (200, 800) and spec.dataset == "cifar10"
        options = dict(o.split("=", 1) for o in spec.cfg_options)
        assert options["train_dataloader.batch_size"] == "512"
        # 8192 at batch 512 (benchmarks.rst footnote *: "Increased size of memory bank from 4096
        # to 8192 to avoid too quickly changing memory bank due to larger batch size")
        assert options.get("model.queue_size") == ("8192" if spec.method in ("moco", "nnclr")
                                                   else None)
    for method in TABLE_METHODS:  # every run composes, with LightlySSL's recipe
        spec = lightly[f"{method}_none_resnet18_cifar10_lightly200_s0"]
        cfg = compose.compose_config(spec, "/tmp/unused")
        assert cfg.ortho_suite.recipe == f"recipes/lightly/cifar10/{method}.py"
        assert cfg.train_dataloader.batch_size == 512


def test_the_cifar10_profile_resolves_lightlys_table_and_or_table_4s_cifar10_cells(tmp_path):
    _, specs = _cifar10_specs()
    # one seed of SimCLR evaluated, as metrics.json would hold the monitor's record
    run_dir = tmp_path / "runs" / "simclr_none_resnet18_cifar10_lightly200_s0"
    run_dir.mkdir(parents=True)
    run_dir.joinpath("metrics.json").write_text(json.dumps({
        "status": "evaluated", "monitor_knn": {"last": {"epoch": 200, "knn_top1": 84.0},
                                               "best": {"epoch": 190, "knn_top1": 84.6}}}))
    runs = load_runs(specs, tmp_path)
    lightly = evaluate_table(load_table(TABLES / "lightly_cifar10.yaml"), runs, "cifar10")
    for cell in lightly["cells"]:  # both columns (tests/test_lightly_tables.py: which runs)
        assert len(cell["runs"]) == 3 and cell["reason"] is None, cell
    by_id = {(c["row"], c["column"]): c for c in lightly["cells"]}
    assert by_id["simclr", "knn_200ep"]["reproduced"]["values"] == [84.6]
    assert by_id["simclr", "knn_200ep"]["published"] == pytest.approx(84.8)
    for row in ("dcl", "dclw"):  # no published value in the suite's reference: stays missing
        assert by_id[row, "knn_200ep"]["published"] is None
    t4 = evaluate_table(load_table(TABLES / "or_t4.yaml"), runs, "cifar10")
    cifar10 = [c for c in t4["cells"] if c["spec"]["dataset"] == "cifar10"]
    assert len(cifar10) == 20 and all(len(c["runs"]) == 3 and c["reason"] is None for c in cifar10)
    claims = [c for c in t4["claims"] if c["baseline"]["dataset"] == "cifar10"]
    assert len(claims) == 10
    for claim in claims:
        assert claim["metric"] == "monitor_knn_best_top1"
        assert len(claim["runs"]["baseline"]) == len(claim["runs"]["treatment"]) == 3
        assert claim["reason"] is None


@pytest.mark.parametrize("method", ["swav", "simsiam", "moco"])
def test_the_profiles_lightly_runs_build_and_step(method):
    """The optimizers that differ (SwAV's Adam, SimSiam's unscaled rate, MoCo's 8192-key bank)
    build on their model with the profile run's options (tiny widths) and take a finite step."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from ortho_suite import build

    _, specs = _cifar10_specs()
    spec = specs[f"{method}_none_resnet18_cifar10_lightly200_s0"]
    tiny = ["model.backbone.width=4", "model.neck.hid_channels=32", "model.neck.out_channels=32"]
    if method == "simsiam":
        tiny.append("model.head.predictor.hid_channels=16")
    spec = RunSpec(**{**spec.__dict__, "cfg_options": (*spec.cfg_options, *tiny)})
    cfg = compose.compose_config(spec, "/tmp/unused")
    torch.manual_seed(0)
    model = build.build_model(cfg).train()
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper.copy())
    kind, base_lr, scaled, _, weight_decay = LIGHTLY[method]
    assert type(optim_wrapper.optimizer).__name__ == kind
    for group in optim_wrapper.optimizer.param_groups:  # one rate for all, predictor included
        assert group["lr"] == pytest.approx(base_lr * (4 if scaled else 1))
        assert group["weight_decay"] == weight_decay
    if method == "moco":
        assert cfg.model.queue_size == 8192
    assert_one_step_moves_the_weights(model, optim_wrapper)
