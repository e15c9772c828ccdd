"""Distributed pretraining on CPU (gloo) through mmengine's launchers: two processes started by
torchrun, and by srun (emulated: the same two processes with the variables srun sets), train
what one process trains with the same global batch.

The views are made deterministic (full-image crop, no flip, colour or blur) because each process
draws its own augmentation parameters; everything else is the real run: DefaultSampler shards,
global batch split over the processes, SyncBN (the CPU shim), SimCLR's embeddings gathered
across processes, DDP gradient averaging, rank 0 writing.

Tolerance: weights after 4 SGD steps agree to 1e-4 absolute (measured: 2e-6; float32 sums in
another order); losses to 1e-5 relative. Without the gather-gradient shim (compat, shim 5) the
weights differed by 0.045, so the check separates a correct run from a wrong one.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from .conftest import REPO, TINY_OPTIONS

FIXED_VIEWS = [f"model.data_preprocessor.views.{v}.{key}={value}" for v in (0, 1)
               for key, value in [("crop_scale", "(1.0,1.0)"), ("crop_ratio", "(1.0,1.0)"),
                                  ("hflip", 0), ("jitter", 0), ("grayscale", 0), ("blur", 0),
                                  ("solarize", 0)]]
OPTIONS = [*TINY_OPTIONS, *FIXED_VIEWS, "train_dataloader.num_workers=0",
           "train_dataloader.persistent_workers=False", "custom_hooks.1.interval=0"]


def _pretrain_args(work_dir, launcher="none") -> list[str]:
    return ["-m", "ortho_suite", "pretrain", "--method", "simclr", "--backbone", "resnet18_cifar",
            "--dataset", "synthetic", "--work-dir", str(work_dir), "--epochs", "1",
            "--launcher", launcher, "--cfg-options", *OPTIONS]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_"))}
    return {**env, "PYTHONWARNINGS": "ignore", **extra}


def _torchrun(work_dir) -> list[subprocess.CompletedProcess]:
    return [subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                            "--nproc_per_node", "2", *_pretrain_args(work_dir, "pytorch")],
                           cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)]


def _srun(work_dir) -> list[subprocess.CompletedProcess]:
    """Two processes with what ``srun --ntasks 2`` sets (one node, master on localhost)."""
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, *_pretrain_args(work_dir, "slurm")], cwd=REPO,
                              env=_env(SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank),
                                       SLURM_NTASKS="2", SLURM_NODELIST="localhost",
                                       MASTER_ADDR="127.0.0.1", MASTER_PORT=port),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rank in (0, 1)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def _weights(work_dir) -> dict[str, torch.Tensor]:
    state = torch.load(work_dir / "epoch_1.pth", map_location="cpu", weights_only=False)
    return {k: v for k, v in state["state_dict"].items() if v.is_floating_point()}


@pytest.fixture(scope="module")
def single_process(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("one") / "run"
    proc = subprocess.run([sys.executable, *_pretrain_args(work_dir)], cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work_dir


@pytest.mark.parametrize("launch", [_torchrun, _srun], ids=["torchrun", "srun"])
def test_two_processes_train_what_one_process_trains(launch, single_process, tmp_path):
    work_dir = tmp_path / "run"
    procs = launch(work_dir)
    for proc in procs:
        assert proc.returncode == 0, proc.stderr[-3000:]
    # only rank 0 reports and writes
    assert sum(p.stdout.count("ortho-suite: finished") for p in procs) == 1
    one = json.loads((single_process / "summary.json").read_text())
    two = json.loads((work_dir / "summary.json").read_text())
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert one["batch_size_global"] == two["batch_size_global"] == 16
    assert (one["batch_size_per_process"], two["batch_size_per_process"]) == (16, 8)
    assert one["iterations"] == two["iterations"] == 4  # 64 images, global batch 16
    assert one["config_sha256"] == two["config_sha256"]  # the launcher is not the experiment
    for a, b in zip(one["train_log"], two["train_log"]):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
    w1, w2 = _weights(single_process), _weights(work_dir)
    assert w1.keys() == w2.keys()
    worst = max(float((w1[k] - w2[k]).abs().max()) for k in w1)
    assert worst < 1e-4, worst
