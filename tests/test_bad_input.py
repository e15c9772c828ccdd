"""Every kind of bad input, one table: exit status 2, one line naming the problem (and the fix),
and nothing written or changed anywhere under the test's folder.

Each case builds what it needs under ``tmp`` (a pre-existing run, a damaged dataset, a copy of a
benchmarks folder) before the snapshot is taken, so "nothing written" covers those files too.
"""
from __future__ import annotations

import gzip

import pytest
import torch
import yaml

from ortho_suite import catalog
from ortho_suite.cli import main
from ortho_suite.datasets.cifar import CIFAR10_FORMAT
from ortho_suite.runs import CONFIG_FILE, RunSpec
from ortho_suite.train import compose

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
