"""The first hour: a pretraining's terminal shows a short header and progress (mmengine's start-up
dump goes to the log file only), and the profile's evaluation settings (eval.probe_epochs)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ortho_suite.errors import UsageError
from ortho_suite.profiles import eval_settings

from .conftest import TINY_OPTIONS, run_cli


def test_the_terminal_shows_a_header_and_progress_and_the_log_file_the_dump(tmp_path):
    work = tmp_path / "run"
    proc = run_cli("pretrain", "--method", "simclr", "--backbone", "resnet18_cifar", "--dataset",
                   "synthetic", "--epochs", "1", "--work-dir", str(work), "--cfg-options",
                   *TINY_OPTIONS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    assert f"ortho-suite pretrain: run {work.name}" in out
    assert "method simclr, reg none, backbone resnet18_cifar, data synthetic" in out
    assert "config sha256 " in out and f"work dir {work}" in out
    assert "Epoch(train) [1][4/4]" in out and "eta:" in out  # progress with ETA
    for dumped in ("System environment", "Config:", "Hooks will be executed"):
        assert dumped not in out
    log = next(line for line in out.splitlines() if line.startswith("  log ")).split()[-1]
    text = Path(log).read_text()
    assert all(dumped in text for dumped in ("System environment", "Config:",
                                              "Hooks will be executed"))
    assert len(out.splitlines()) < 60 < len(text.splitlines())


def test_probe_epochs_default_to_the_protocols_and_bad_values_exit_2():
    path = Path("p.yaml")
    assert eval_settings(path, {"protocol": "or"}) == {
        "protocol": "or", "probe_epochs": 100, "train_images": "all", "test_images": "all",
        "transfer": "", "transfer_root": ""}
    assert eval_settings(path, {"protocol": "or", "probe_epochs": 10})["probe_epochs"] == 10
    assert eval_settings(path, {"protocol": "or", "train_images": 500})["train_images"] == 500
    for bad in ({"protocol": "or", "probe_epochs": 0}, {"protocol": "or", "probe_epochs": True},
                {"protocol": "or", "probe_epochs": "10"}, {"protocol": "nosuch"},
                {"protocol": "or", "epochs": 3}, {"probe_epochs": 3}, ["or"],
                {"protocol": "or", "train_images": 0}, {"protocol": "or", "test_images": "some"},
                {"protocol": "or", "test_images": 2.5}, {"protocol": "or", "train_images": True}):
        with pytest.raises(UsageError, match="p.yaml: eval"):
            eval_settings(path, bad)
