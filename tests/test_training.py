"""Real mmselfsup algorithms trained by the real mmengine Runner on CPU, a few iterations each."""
from __future__ import annotations

import json
import math

import pytest
import torch
from mmengine.config import Config

from ortho_suite.runs import SUMMARY_FILE, RunSpec
from ortho_suite.train import compose, launch
from ortho_suite.train import pretrain as training

from .conftest import run_cli


def _tiny_cfg(method, work_dir, options, epochs=1, seed=0):
    return compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", seed=seed, epochs=epochs, cfg_options=options), work_dir)


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()}


@pytest.mark.parametrize("method", ["simclr", "byol", "barlowtwins"])
def test_method_trains_through_mmengine_runner(method, tmp_path, tiny_options):
    cfg = _tiny_cfg(method, tmp_path / method, tiny_options)
    runner = launch.build_runner(cfg)
    model = runner.model
    before = {"backbone": _snapshot(model.backbone), "neck": _snapshot(model.neck)}

    summary = training.train(runner, cfg)

    assert summary["status"] == "finished"
    assert summary["iterations"] == 4  # 64 images / batch 16, one epoch
    losses = [row["loss"] for row in summary["train_log"]]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
    for part, params in before.items():
        after = getattr(runner.model, part).state_dict()
        changed = [k for k, v in params.items() if not torch.equal(v, after[k])]
        # every trainable weight of the backbone and projector moved
        weights = [k for k in params if k.endswith("weight")]
        assert set(weights) <= set(changed), (part, sorted(set(weights) - set(changed)))
    # the online monitor ran after the epoch, on un-augmented train and test images
    assert [m["epoch"] for m in summary["monitor"]] == [1]
    assert 0 <= summary["monitor"][0]["knn_top1"] <= 100
    assert 1 <= summary["monitor"][0]["effective_rank"] <= 64  # width 8 -> 64-d representation
    on_disk = json.loads((tmp_path / method / SUMMARY_FILE).read_text())
    assert on_disk["loss_last"] == losses[-1]
    assert (tmp_path / method / "epoch_1.pth").is_file()


def test_byol_target_network_follows_online_network(tmp_path, tiny_options):
    """BYOL's EMA target must be updated from the online network (mmselfsup's CosineEMA)."""
    cfg = _tiny_cfg("byol", tmp_path / "byol", tiny_options)
    runner = launch.build_runner(cfg)
    target_before = _snapshot(runner.model.target_net)
    summary = training.train(runner, cfg)
    # BYOL's symmetric loss (2 - 2cos) + (2 - 2cos) lies in [0, 8]; mmselfsup's default
    # (shift 0) would log the same minus 4, negative once the views align.
    assert all(0.0 <= row["loss"] <= 8.0 for row in summary["train_log"])
    target_after = runner.model.target_net.state_dict()
    moved = [k for k, v in target_before.items() if not torch.equal(v, target_after[k])]
    assert moved, "EMA target never updated"


def test_same_seed_same_losses_on_cpu(tmp_path, tiny_options):
    runs = []
    for name in ("a", "b"):
        cfg = _tiny_cfg("simclr", tmp_path / name, tiny_options, seed=3)
        runs.append([row["loss"] for row in training.train(launch.build_runner(cfg), cfg)["train_log"]])
    assert runs[0] == runs[1]


def test_cli_pretrain_end_to_end(tmp_path, tiny_options):
    """`ortho-suite pretrain` in a fresh process writes its checkpoint, config and summary."""
    work_dir = tmp_path / "run"
    proc = run_cli("pretrain", "--method", "simclr", "--backbone", "resnet18_cifar",
                   "--dataset", "synthetic", "--work-dir", str(work_dir), "--epochs", "2",
                   "--seed", "1", "--cfg-options", *tiny_options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((work_dir / "summary.json").read_text())
    assert summary["iterations"] == 8 and summary["epochs"] == 2 and summary["seed"] == 1
    assert summary["packages"]["mmselfsup"] == "1.0.0"
    assert (work_dir / "epoch_2.pth").is_file()
    # The dumped config is the resolved one: reloading it gives the same hash.
    reloaded = Config.fromfile(str(work_dir / "config.py"))
    assert compose.config_hash(reloaded) == summary["config_sha256"]
    assert reloaded.model.backbone.width == 8


def test_speed_compile_gives_the_eager_loss(tmp_path, tiny_options):
    """``speed.compile`` (torch.compile of the backbone, TorchInductor on CPU) computes the step
    eager mode computes: same weights, same views, first loss within 1e-5 (relative; fused
    kernels round differently). Later steps are not compared: a few updates of a tiny batch amplify
    the rounding (3 steps: 1e-2)."""
    options = [*tiny_options, "train_dataloader.dataset.num_samples=16"]  # one step of 16
    losses, compiled = [], []
    for name, flag in (("eager", False), ("compiled", True)):
        cfg = _tiny_cfg("simclr", tmp_path / name, [*options, f"speed.compile={flag}"])
        runner = launch.build_runner(cfg)
        summary = training.train(runner, cfg)
        assert summary["status"] == "finished" and summary["iterations"] == 1
        losses.append(summary["train_log"][0]["loss"])
        compiled.append(runner.model.backbone._compiled_call_impl is not None)
    assert compiled == [False, True]
    assert losses[1] == pytest.approx(losses[0], rel=1e-5, abs=0)
