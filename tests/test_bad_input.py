"""Every kind of bad input, one table: exit status 2, one line naming the problem (and the fix),
and nothing written or changed anywhere under the test's folder.

Each case builds what it needs under ``tmp`` (a pre-existing run, a damaged dataset, a copy of a
benchmarks folder) before the snapshot is taken, so "nothing written" covers those files too.
"""
from __future__ import annotations

import gzip
import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
import torch
import yaml

from ortho_suite import catalog, plots, provenance, runs
from ortho_suite.cli import main
from ortho_suite.datasets.cifar import CIFAR10_FORMAT
from ortho_suite.runs import CONFIG_FILE, RunSpec
from ortho_suite.train import compose

from .conftest import REPO
from .fixtures import make_cifar, make_fashion_mnist
from .test_tables import TOY_TABLE, _toy_project


def _pretrain(tmp, *extra, **names) -> list[str]:
    values = {**dict(method="simclr", reg="none", backbone="resnet18_cifar", dataset="synthetic"),
              **names}
    args = ["pretrain", "--work-dir", str(tmp / "run")]
    for key, value in values.items():
        args += [f"--{key.replace('_', '-')}", value]
    return args + list(extra)


def _run_of_another_config(tmp) -> list[str]:
    """A work dir holding an unfinished run (config.py and a complete checkpoint) of width 16."""
    cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic", cfg_options=["model.backbone.width=16"]), tmp / "run")
    (tmp / "run").mkdir()
    cfg.dump(str(tmp / "run" / CONFIG_FILE))
    torch.save({"meta": {"epoch": 1, "iter": 4}, "state_dict": {}}, tmp / "run" / "epoch_1.pth")
    return _pretrain(tmp, "--cfg-options", "model.backbone.width=8")


def _damaged_fmnist(tmp) -> list[str]:
    make_fashion_mnist(tmp / "fmnist")
    path = tmp / "fmnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    return _pretrain(tmp, dataset="fmnist", data_root=str(tmp / "fmnist"))


def _corrupt_cifar(tmp) -> list[str]:
    make_cifar(tmp / "cifar", CIFAR10_FORMAT, archive=True)  # not the official archive
    return _pretrain(tmp, dataset="cifar10", data_root=str(tmp / "cifar"))


def _malformed_table(tmp) -> list[str]:
    params, bench, results = _toy_project(tmp)
    table = dict(TOY_TABLE, tolerance="one")
    (bench / "tables" / "toy.yaml").write_text(yaml.safe_dump(table))
    return ["tables", "--params", str(params), "--benchmarks", str(bench), "--results", str(results)]


def _unparseable_params(tmp) -> list[str]:
    params, bench, results = _toy_project(tmp)
    params.write_text("runs: [unclosed\n")
    return ["tables", "--params", str(params), "--benchmarks", str(bench), "--results", str(results)]


def _unfinished_run(tmp) -> list[str]:
    (tmp / "run").mkdir()
    (tmp / "run" / CONFIG_FILE).write_text("x = 1\n")
    return ["evaluate", "--work-dir", str(tmp / "run")]


def _finished_run_with(tmp, damage: str) -> list[str]:
    """A finished run's work dir (config.py, summary.json, epoch_1.pth) with one file damaged."""
    cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic"), tmp / "run")
    (tmp / "run").mkdir()
    cfg.dump(str(tmp / "run" / CONFIG_FILE))
    (tmp / "run" / "summary.json").write_text('{"status": "finished", "loss_last": 1.0}')
    (tmp / "run" / "epoch_1.pth").write_bytes(b"PK\x03\x04 cut short by a full disk")
    if damage == "summary":
        (tmp / "run" / "summary.json").write_text('{"status": "fini')
    return ["evaluate", "--work-dir", str(tmp / "run"), "--out", str(tmp / "out")]


def _params_with(tmp, **run_fields) -> list[str]:
    run = {**dict(method="simclr", reg="none", backbone="resnet18_cifar", dataset="synthetic",
                  aug="solo_cifar_symmetric", seed=0, epochs=1, cfg_options=""), **run_fields}
    (tmp / "params.yaml").write_text(yaml.safe_dump({"profile": "smoke", "profile_note": "n",
                                                     "runs": {"r1": run}}))
    return ["summarize", "--params", str(tmp / "params.yaml"), "--runs-dir", str(tmp),
            "--out", str(tmp / "results")]


def _table_with(tmp, **changes) -> list[str]:
    params, bench, results = _toy_project(tmp)
    table = yaml.safe_load((bench / "tables" / "toy.yaml").read_text())
    for key, value in changes.items():
        node, *path = key.split(".")
        target = table[node]
        for part in path[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = path[-1]
        target[int(last) if last.isdigit() else last] = value
    (bench / "tables" / "toy.yaml").write_text(yaml.safe_dump(table))
    return ["tables", "--params", str(params), "--benchmarks", str(bench), "--results", str(results)]


CASES = {
    # unknown names, each listing the valid ones
    "unknown method": (lambda t: _pretrain(t, method="nosuch"), "unknown method 'nosuch'; valid methods: "),
    "unknown regularizer": (lambda t: _pretrain(t, reg="nosuch"), "unknown regularizer 'nosuch'"),
    "unknown backbone": (lambda t: _pretrain(t, backbone="nosuch"), "unknown backbone 'nosuch'"),
    "unknown dataset": (lambda t: _pretrain(t, dataset="nosuch"), "unknown dataset 'nosuch'"),
    "unknown augmentation": (lambda t: _pretrain(t, aug="nosuch"), "unknown augmentation 'nosuch'"),
    "unknown launcher": (lambda t: _pretrain(t, launcher="mpi"), "invalid choice: 'mpi'"),
    "unknown recipe": (lambda t: _pretrain(t, recipe="papers"), "invalid choice: 'papers'"),
    "recipe lr not positive": (
        lambda t: _pretrain(t, "--cfg-options", "optim_wrapper.optimizer.lr=0", dataset="cifar10",
                            data_root=str(t / "none")),
        "optim_wrapper.optimizer.lr must be a positive number"),
    "unknown profile": (lambda t: ["profile", "nosuch", "--params", str(t / "params.yaml")],
                        "invalid choice: 'nosuch'"),
    "unknown probe protocol": (lambda t: ["evaluate", "--work-dir", str(t), "--protocol", "x"],
                               "unknown probe protocol 'x'"),
    "wrong augmentation size": (lambda t: _pretrain(t, aug="byol_imagenet"), "makes 224px views"),
    # missing or corrupt data
    "missing CIFAR-10": (lambda t: _pretrain(t, dataset="cifar10", data_root=str(t / "none")),
                         "CIFAR-10 not found"),
    "missing Fashion-MNIST": (lambda t: _pretrain(t, dataset="fmnist", data_root=str(t / "none")),
                              "apt-get install dataset-fashion-mnist"),
    "missing ImageNet-100": (lambda t: _pretrain(t, dataset="imagenet100", data_root=str(t / "none")),
                             "split folder"),
    "corrupt CIFAR-10": (_corrupt_cifar, CIFAR10_FORMAT.archive_md5),
    "truncated Fashion-MNIST": (_damaged_fmnist, "train-images-idx3-ubyte.gz"),
    # malformed benchmarks/ and params files: the message names the file and the field
    "malformed table field": (_malformed_table, "toy.yaml: tolerance: expected float"),
    "unparseable params.yaml": (_unparseable_params, "params.yaml"),
    # invalid --cfg-options and run settings
    "cfg-options without =": (lambda t: _pretrain(t, "--cfg-options", "model.backbone.width"),
                              "malformed --cfg-options entry"),
    "cfg-options typo": (lambda t: _pretrain(t, "--cfg-options", "modle.backbone.width=8"),
                         "'modle' is not in the composed config"),
    "cfg-options into a value": (lambda t: _pretrain(t, "--cfg-options", "model.backbone.depth.x=1"),
                                 "is a value, not a section"),
    "unknown speed option": (lambda t: _pretrain(t, "--cfg-options", "speed.fast=True"),
                             "unknown speed option(s) fast"),
    "bf16 without a GPU": (lambda t: _pretrain(t, "--cfg-options", "speed.bf16=True"),
                           "needs a CUDA GPU"),
    "zero epochs": (lambda t: _pretrain(t, "--epochs", "0"), "--epochs must be >= 1"),
    "missing required argument": (lambda t: ["pretrain", "--method", "simclr"], "--backbone"),
    # runs and checkpoints
    "checkpoint of another config": (_run_of_another_config, "holds a run of another config"),
    "evaluate an unfinished run": (_unfinished_run, "is not a finished run"),
    # values mmengine or the model reject when the run is built: one line, nothing written
    "option of the wrong type": (lambda t: _pretrain(t, "--cfg-options", "model.backbone.width=abc"),
                                 "the run cannot be built with these settings"),
    "misspelt key in an existing section": (
        lambda t: _pretrain(t, "--cfg-options", "model.neck.hid_channel=64"), "hid_channel"),
    "negative batch size": (lambda t: _pretrain(t, "--cfg-options", "train_dataloader.batch_size=-4"),
                            "train_dataloader.batch_size must be a positive integer, got -4"),
    "batch size zero": (lambda t: _pretrain(t, "--cfg-options", "train_dataloader.batch_size=0"),
                        "must be a positive integer, got 0"),
    "fractional batch size": (lambda t: _pretrain(t, "--cfg-options", "train_dataloader.batch_size=2.5"),
                              "must be a positive integer, got 2.5"),
    "zero projector width": (lambda t: _pretrain(t, "--cfg-options", "model.neck.out_channels=0"),
                             "the run cannot be built with these settings"),
    "unknown optimizer": (lambda t: _pretrain(t, "--cfg-options", "optim_wrapper.optimizer.type=Sgd"),
                          "the optimizer (optim_wrapper) failed"),
    "work dir name too long": (lambda t: ["pretrain", "--method", "simclr", "--backbone",
                                          "resnet18_cifar", "--dataset", "synthetic",
                                          "--work-dir", str(t / ("x" * 300))], "File name too long"),
    "work dir is a file": (lambda t: (t / "afile").write_text("x") and
                           ["pretrain", "--method", "simclr", "--backbone", "resnet18_cifar",
                            "--dataset", "synthetic", "--work-dir", str(t / "afile")], "is a file"),
    # runs that would train nothing
    "batch larger than the data": (
        lambda t: _pretrain(t, "--cfg-options", "train_dataloader.dataset.num_samples=64",
                            "train_dataloader.batch_size=128"), "an epoch has no training step"),
    "empty training subset": (lambda t: _pretrain(t, "--cfg-options", "train_dataloader.dataset.indices=0"),
                              "an epoch has no training step: 0 training images"),
    "subset smaller than a batch": (
        lambda t: _pretrain(t, "--cfg-options", "train_dataloader.dataset.indices=100",
                            "train_dataloader.batch_size=128"), "100 training images"),
    # damaged run records at evaluate
    "damaged checkpoint at evaluate": (lambda t: _finished_run_with(t, "checkpoint"),
                                       "epoch_1.pth cannot be loaded"),
    "damaged summary at evaluate": (lambda t: _finished_run_with(t, "summary"),
                                    "summary.json or config.py is damaged"),
    # params.yaml types
    "seed not an integer": (lambda t: _params_with(t, seed="zero"),
                            "runs.r1.seed: expected a non-negative integer, got 'zero'"),
    "epochs zero in params": (lambda t: _params_with(t, epochs=0),
                              "runs.r1.epochs: expected a positive integer, got 0"),
    "seed a boolean": (lambda t: _params_with(t, seed=True), "runs.r1.seed"),
    "cfg_options a list": (lambda t: _params_with(t, cfg_options=["a=1"]), "runs.r1.cfg_options"),
    # published values out of range
    "top-1 over 100": (lambda t: _table_with(t, **{"rows.0.published.none": 150.0}),
                       "150 (x scale 1) is outside [0, 100]"),
    "negative top-1": (lambda t: _table_with(t, **{"rows.0.published.none": -3.0}),
                       "is outside [0, 100]"),
    "scaled fraction over 1": (lambda t: _table_with(t, **{"rows.0.published.none": 1.5,
                                                          "columns.0.scale": 100.0}),
                               "1.5 (x scale 100) is outside [0, 100]"),
    "claimed delta beyond 100 points": (lambda t: _table_with(t, **{"claims.0.delta": 250.0}),
                                        "250 points is not a difference of two percentages"),
    # launchers
    "torchrun launcher outside torchrun": (lambda t: _pretrain(t, launcher="pytorch"),
                                           "start the command with torchrun"),
    "slurm launcher outside srun": (lambda t: _pretrain(t, launcher="slurm"),
                                    "start the command with srun"),
}


def _snapshot(root):
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, tmp_path, capsys, monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID",
                "SLURM_NTASKS", "SLURM_NODELIST"):
        monkeypatch.delenv(var, raising=False)
    make_args, fragment = CASES[case]
    argv = make_args(tmp_path)
    before = _snapshot(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("ortho-suite: error: "), err
    assert fragment in err, err
    assert _snapshot(tmp_path) == before


def test_global_batch_that_does_not_split_over_the_processes(tmp_path, capsys, monkeypatch):
    """Checked before the process group starts: 16 images per global batch over 3 processes."""
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29999")
    code = main(_pretrain(tmp_path, "--cfg-options", "train_dataloader.batch_size=16",
                          launcher="pytorch"))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "global batch size 16 does not split over 3 processes" in err
    assert not (tmp_path / "run").exists()


def test_unknown_names_list_every_valid_name(tmp_path, capsys):
    for kind, field in [("methods", "method"), ("regularizers", "reg"), ("backbones", "backbone"),
                        ("datasets", "dataset")]:
        assert main(_pretrain(tmp_path, **{field: "nosuch"})) == 2
        err = capsys.readouterr().err
        assert all(name in err for name in catalog.CATALOG[kind]), (kind, err)


# ---------------------------------------------------------------- repeated and concurrent runs

TINY = ["--cfg-options", "model.backbone.width=8", "model.neck.hid_channels=32",
        "model.neck.out_channels=16", "train_dataloader.batch_size=16",
        "train_dataloader.dataset.num_samples=32", "custom_hooks.1.interval=0",
        "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False"]


def _tiny_run(work_dir, *extra, epochs="1") -> list[str]:
    return ["pretrain", "--method", "simclr", "--backbone", "resnet18_cifar", "--dataset",
            "synthetic", "--work-dir", str(work_dir), "--epochs", epochs, *extra, *TINY]


def test_the_same_command_on_a_finished_run_trains_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_tiny_run(run)) == 0
    summary = (run / "summary.json").read_bytes()
    files = _snapshot(run)
    capsys.readouterr()
    for _ in range(2):  # once more, and again
        assert main(_tiny_run(run)) == 0
        out = capsys.readouterr().out
        assert "already finished (finished, 2 iterations); nothing trained" in out, out
    assert (run / "summary.json").read_bytes() == summary and _snapshot(run) == files
    # another config in the same work dir is refused; --restart trains again, explicitly
    assert main(_tiny_run(run, epochs="2")) == 2
    assert "holds a run of another config" in capsys.readouterr().err
    before_restart = (run / "summary.json").stat().st_mtime_ns
    assert main(_tiny_run(run, "--restart")) == 0
    out = capsys.readouterr().out
    assert "nothing trained" not in out and "finished: 2 iterations" in out, out
    assert json.loads((run / "summary.json").read_text())["iterations"] == 2
    # a new run wrote a new summary (its bytes may equal the old one's: the metrics are
    # deterministic and the wall time, rounded to 1 ms, can coincide)
    assert (run / "summary.json").stat().st_mtime_ns != before_restart


def _start(work_dir, epochs: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-m", "ortho_suite", *_tiny_run(work_dir, epochs=epochs)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_training(work_dir, proc, timeout=240.0) -> None:
    """Until the run holds its lock and has written its config (training has begun)."""
    deadline = time.monotonic() + timeout
    while not ((work_dir / CONFIG_FILE).is_file() and runs.lock_holder(work_dir) == proc.pid):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)


def test_one_writer_per_work_dir_and_a_killed_run_does_not_block_its_resume(tmp_path, capsys):
    run = tmp_path / "run"
    first = _start(run, epochs="200")
    try:
        _wait_for_training(run, first)
        assert main(_tiny_run(run, epochs="200")) == 2  # a second pretrain of the same run
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"in use by process {first.pid}" in err, err
        assert main(["evaluate", "--work-dir", str(run), "--out", str(tmp_path / "eval")]) == 2
        assert f"in use by process {first.pid}" in capsys.readouterr().err
        assert not (tmp_path / "eval").exists()
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=60) == -signal.SIGKILL
    finally:
        first.kill()
    assert (run / runs.LOCK_FILE).is_file() and runs.lock_holder(run) is None  # died with it
    assert main(_tiny_run(run, "--restart")) == 0  # the next run is not refused
    # (resuming through a killed run's lock: tests/test_reliability.py, SIGKILL test)


def test_a_second_pretrain_is_refused_while_the_first_finishes_normally(tmp_path, capsys):
    run = tmp_path / "run"
    first = _start(run, epochs="4")
    _wait_for_training(run, first)
    assert main(_tiny_run(run, epochs="4")) == 2
    assert "in use by process" in capsys.readouterr().err
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert "finished: 8 iterations" in out
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"


# ---------------------------------------------------------------- file modes


def test_results_are_readable_by_group_and_others_under_umask_022(tmp_path):
    old = os.umask(0o022)
    try:
        provenance.atomic_write_json(tmp_path / "a" / "metrics.json", {"x": 1})
        fig = plots.plt.figure()
        plots._save(fig, tmp_path / "a" / "plot.png")
        assert main(_tiny_run(tmp_path / "run")) == 0
    finally:
        os.umask(old)
    for path in [tmp_path / "a" / "metrics.json", tmp_path / "a" / "plot.png",
                 tmp_path / "run" / "summary.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    old = os.umask(0o077)  # a private umask is respected too
    try:
        provenance.atomic_write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600


def test_a_resume_that_passes_over_a_damaged_checkpoint_says_so(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_tiny_run(run, epochs="2")) == 0
    (run / "summary.json").unlink()  # as if killed while writing epoch 2's checkpoint
    data = (run / "epoch_2.pth").read_bytes()
    (run / "epoch_2.pth").write_bytes(data[: len(data) // 3])
    capsys.readouterr()
    assert main(_tiny_run(run, epochs="2")) == 0
    assert "resumed at epoch 1" in capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from"] == [{"epoch": 1, "iteration": 2,
                                        "skipped_damaged": ["epoch_2.pth"]}]
    logs = "".join(p.read_text() for p in run.rglob("*.log"))
    assert "epoch_2.pth do not open (cut short by a crash) and are passed over" in logs
