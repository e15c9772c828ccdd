"""The online linear probe (solo-learn's online classifier): it learns, it leaves the backbone's
training bitwise as it is, it resumes exactly, and its numbers reach the run record."""
from __future__ import annotations

import json

import pytest
import torch

from ortho_suite.runs import RunSpec
from ortho_suite.train import compose, launch
from ortho_suite.train import pretrain as training
from ortho_suite.probes import topk_accuracy
from ortho_suite.train.online_probe import OnlineLinearProbeHook, summarize_history

BATCH = 16


def _config(work_dir, *options, method="simclr", epochs=2, samples=64, monitor=False):
    return compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", epochs=epochs, cfg_options=[
        "model.backbone.width=4", "model.neck.hid_channels=32", "model.neck.out_channels=16",
        f"train_dataloader.batch_size={BATCH}", f"train_dataloader.dataset.num_samples={samples}",
        "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
        *([] if monitor else ["custom_hooks.1.interval=0"]),  # the k-NN monitor off: the probe alone
        *options]), work_dir)


def _train(work_dir, *options, **kwargs):
    cfg = _config(work_dir, *options, **kwargs)
    runner = launch.build_runner(cfg)
    summary = training.train(runner, cfg)
    assert summary["status"] == "finished"
    probe = next((h for h in runner.hooks if isinstance(h, OnlineLinearProbeHook)), None)
    return runner, summary, probe


def test_top_k_accuracy_the_probe_reports_counts_the_label_among_the_k_largest_logits():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.3], [0.2, 0.3, 0.5]])
    accuracy = topk_accuracy(logits, torch.tensor([1, 2, 0]), ks=(1, 2, 5))
    assert accuracy["top1"] == pytest.approx(100 / 3)
    assert accuracy["top2"] == pytest.approx(200 / 3)  # row 1: 0.3 is 2nd
    assert accuracy["top5"] == 100.0  # k beyond the 3 classes counts every row


def test_summary_names_last_and_best_epochs():
    rows = [{"epoch": 1, "top1": 40.0, "top5": 90.0}, {"epoch": 2, "top1": 55.0, "top5": 95.0},
            {"epoch": 3, "top1": 50.0, "top5": 96.0}]
    record = summarize_history(rows)
    assert record["last"]["epoch"] == 3 and record["best"] == rows[1]
    assert summarize_history([]) is None


@pytest.mark.parametrize("method,monitor", [("simclr", False), ("byol", False), ("simclr", True)])
def test_the_probe_leaves_the_backbones_training_bitwise_unchanged(tmp_path, method, monitor):
    """SimCLR puts both views through the backbone interleaved in one batch, BYOL one view per
    forward: the probe's labels must follow either layout, and neither run may change (also with
    the k-NN monitor, whose extraction draws from the global generator between epochs)."""
    with_probe, summary, probe = _train(tmp_path / "with", method=method, monitor=monitor)
    without, summary_off, probe_off = _train(tmp_path / "without", "online_probe.enabled=False",
                                             method=method, monitor=monitor)
    assert probe.head is not None and probe_off.head is None
    assert summary["train_log"] == summary_off["train_log"]
    weights, old = with_probe.model.state_dict(), without.model.state_dict()
    assert weights.keys() == old.keys()
    for key in weights:
        assert torch.equal(weights[key], old[key]), key
    # its parameters are in no optimizer state of the run
    head_params = {id(p) for p in probe.head.parameters()}
    for group in with_probe.optim_wrapper.optimizer.param_groups:
        assert not head_params & {id(p) for p in group["params"]}
    assert summary["online_linear"]["last"]["epoch"] == 2 and summary_off["online_linear"] is None
    expected = {"simclr": "interleaved", "byol": "one"}[method]
    assert set(probe._layouts.values()) == {expected}


# Views without crop, colour jitter and grayscale: the synthetic classes are colour patterns, which
# these would hide from the probe's training views (the test images are clean).
CLEAN_VIEWS = [f"model.data_preprocessor.views.{v}.{k}" for v in (0, 1)
               for k in ("crop=False", "jitter=0.0", "grayscale=0.0")]


def test_the_probe_learns_a_separable_set_far_above_chance(tmp_path):
    # An offline probe on this width-4 encoder's standardised features separates the classes
    # (95% measured); the online head, on raw features in 96 steps, gets well above chance (10%).
    _, summary, probe = _train(tmp_path / "run", "online_probe.lr=2.0", *CLEAN_VIEWS, epochs=6,
                               samples=256)
    history = summary["online_linear"]["history"]
    assert [row["epoch"] for row in history] == list(range(1, 7))
    assert history[-1]["test_images"] == len(probe._test_set) == 256  # the whole test split
    assert summary["online_linear"]["best"]["top1"] >= 40.0  # 66% measured
    assert history[-1]["top1"] > history[0]["top1"] + 20


def test_the_probe_learns_through_the_data_loader_too(tmp_path):
    """Without the device-resident loader the labels come from the recorded sampler indices; the
    probe then sees the same batches and ends with the same head."""
    _, _, device_probe = _train(tmp_path / "device")
    _, _, loader_probe = _train(tmp_path / "loader", "train_cfg.device_data=False")
    for a, b in zip(device_probe.head.parameters(), loader_probe.head.parameters()):
        assert torch.equal(a, b)
    assert device_probe.history == loader_probe.history


def test_a_resumed_run_gives_the_uninterrupted_probe_bitwise(tmp_path):
    _, full, full_probe = _train(tmp_path / "full", epochs=3)
    # the same run stopped after 2 epochs (its schedule still that of 3), then resumed
    cfg = _config(tmp_path / "cut", epochs=3)
    cfg.train_cfg.max_epochs = 2
    runner = launch.build_runner(cfg)
    training.train(runner, cfg)
    checkpoint = torch.load(tmp_path / "cut" / "epoch_2.pth", map_location="cpu", weights_only=False)
    assert "head" in checkpoint["ortho_suite"]["online_linear_probe"]
    cfg = _config(tmp_path / "cut", epochs=3)
    cfg.resume, cfg.load_from = True, str(tmp_path / "cut" / "epoch_2.pth")
    runner = launch.build_runner(cfg)
    resumed = training.train(runner, cfg)
    probe = next(h for h in runner.hooks if isinstance(h, OnlineLinearProbeHook))
    for a, b in zip(probe.head.parameters(), full_probe.head.parameters()):
        assert torch.equal(a, b)
    assert resumed["online_linear"] == full["online_linear"]
    summary = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert summary["online_linear"]["last"]["epoch"] == 3


@pytest.mark.parametrize("method,batch,expected", [("simclr", 512, 0.2), ("mocov3", 256, 0.3),
                                                   ("wmse", 128, 0.0015)])
def test_a_recipes_classifier_lr_is_scaled_with_the_global_batch_as_solo_learn_does(method, batch, expected):
    # solo/args/pretrain.py scales lr and classifier_lr by the global batch / 256; the scripts'
    # classifier_lr: simclr 0.1, mocov3 0.3, wmse 3e-3
    spec = RunSpec(method, "resnet18_cifar", "cifar10", cfg_options=[f"train_dataloader.batch_size={batch}"])
    assert compose.compose_config(spec, "/tmp/unused").online_probe.lr == pytest.approx(expected)
    spec = RunSpec(method, "resnet18_cifar", "cifar10", cfg_options=["online_probe.lr=0.05"])
    assert compose.compose_config(spec, "/tmp/unused").online_probe.lr == 0.05


def test_the_knn_monitor_leaves_the_training_bitwise_unchanged(tmp_path):
    """The k-NN monitor's feature extraction (its DataLoader draws a seed from the global
    generator) runs between epochs: with it every epoch, the training must be the training
    without it (the smoke profile monitors once, full runs every epoch)."""
    monitored, summary, _ = _train(tmp_path / "monitored", "online_probe.enabled=False",
                                   "custom_hooks.1.interval=1", "custom_hooks.1.train_samples=32",
                                   "custom_hooks.1.test_samples=16", monitor=True, epochs=3)
    plain, summary_off, _ = _train(tmp_path / "plain", "online_probe.enabled=False",
                                   "custom_hooks.1.interval=0", monitor=True, epochs=3)
    assert [r["epoch"] for r in summary["monitor"]] == [1, 2, 3]
    assert summary["train_log"] == summary_off["train_log"]
    weights, old = monitored.model.state_dict(), plain.model.state_dict()
    for key in weights:
        assert torch.equal(weights[key], old[key]), key
