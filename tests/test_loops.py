"""In-memory datasets served from the device give the DataLoader's batches, and the same runs."""
from __future__ import annotations

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from ortho_suite.runs import RunSpec
from ortho_suite.train import compose, launch
from ortho_suite.train import pretrain as training
from ortho_suite.train.loops import DeviceResidentBatches, serves_from_device

BATCH = 8


def _config(tmp_path, *options, samples=44, method="simclr"):
    # 44 samples at batch 8: 5 full batches and a dropped remainder of 4
    return compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", epochs=2, cfg_options=[
        "model.backbone.width=4", "model.neck.hid_channels=32", "model.neck.out_channels=16",
        f"train_dataloader.batch_size={BATCH}", f"train_dataloader.dataset.num_samples={samples}",
        *options]), tmp_path / "run")


@pytest.mark.parametrize("workers", [0, 2])
def test_device_batches_equal_the_data_loaders_over_epochs_and_leave_the_same_random_stream(tmp_path, workers):
    cfg = _config(tmp_path, f"train_dataloader.num_workers={workers}",
                  f"train_dataloader.persistent_workers={workers > 0}")
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=3)
        resident = DeviceResidentBatches(Runner.build_dataloader(cfg.train_dataloader, seed=3),
                                         torch.device("cpu"))
    assert serves_from_device(loader) and len(resident) == len(loader) == 5
    for epoch in range(3):  # set_epoch reshuffles both alike (what DistSamplerSeedHook does)
        loader.sampler.set_epoch(epoch)
        resident.sampler.set_epoch(epoch)
        torch.manual_seed(epoch)
        expected = [(b["inputs"][0].clone(), len(b["data_samples"])) for b in loader]
        state = torch.get_rng_state()
        torch.manual_seed(epoch)
        got = [(b["inputs"][0], len(b["data_samples"])) for b in resident]
        assert torch.equal(torch.get_rng_state(), state)  # the global stream continues alike
        assert len(got) == len(expected)
        for (x, n), (y, m) in zip(got, expected):
            assert x.dtype == y.dtype == torch.uint8 and n == m == BATCH
            assert torch.equal(x, y)
        # every epoch is a new order (the check above compares something that changes)
        assert not torch.equal(got[0][0], resident.images[:BATCH])


def test_only_image_only_array_datasets_are_served_from_the_device(tmp_path):
    cfg = _config(tmp_path)
    cfg.train_dataloader.dataset.pipeline[0].algorithm_keys = ["gt_label"]  # labels: a per-sample key
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        assert not serves_from_device(Runner.build_dataloader(cfg.train_dataloader, seed=0))


def _trained(tmp_path, name, method, *options):
    cfg = _config(tmp_path / name, "train_dataloader.num_workers=0",
                  "train_dataloader.persistent_workers=False", *options, method=method)
    runner = launch.build_runner(cfg)
    summary = training.train(runner, cfg)
    assert summary["status"] == "finished" and summary["iterations"] == 10
    return type(runner.train_loop.dataloader), runner.model.state_dict(), summary["train_log"]


@pytest.mark.parametrize("method", ["simclr", "byol"])
def test_a_run_from_device_batches_is_bitwise_the_data_loaders(tmp_path, method):
    kind, weights, log = _trained(tmp_path, "device", method)
    old_kind, old_weights, old_log = _trained(tmp_path, "loader", method, "train_cfg.device_data=False")
    assert kind is DeviceResidentBatches and old_kind is torch.utils.data.DataLoader
    assert log == old_log
    assert weights.keys() == old_weights.keys()
    for key in weights:
        assert torch.equal(weights[key], old_weights[key]), key
