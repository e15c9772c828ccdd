"""Training curves (ortho_suite/train/curves.py): DVCLive's files, written during a real run,
equal after a resume, copied by evaluate, declared as DVC plots."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from ortho_suite.evaluate import evaluate as evaluation
from ortho_suite.runs import SUMMARY_FILE, RunSpec
from ortho_suite.train import curves
from ortho_suite.train import pretrain as training

from .conftest import REPO

# 64 generated images in batches of 16: 4 iterations per epoch, logged every iteration
OPTIONS = ["model.backbone.width=8", "model.neck.hid_channels=64", "model.neck.out_channels=32",
           "train_dataloader.batch_size=16", "train_dataloader.dataset.num_samples=64",
           "model.encoder_regularizer.gamma=0.01"]


def _files(directory):
    return {str(p.relative_to(directory)): p.read_text()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_the_writer_writes_what_dvclive_writes(tmp_path, monkeypatch):
    pytest.importorskip("dvclive")
    from dvclive import Live

    monkeypatch.chdir(tmp_path)  # outside any Git/DVC repository
    rows = [(1, "train/loss", 8.25), (1, "train/lr", 0.05), (2, "train/loss", 7.125),
            (2, "train/lr", 0.0375), (4, "monitor/knn_top1", 31.5)]
    live = Live(str(tmp_path / "live"), save_dvc_exp=False, dvcyaml=None, report=None)
    for step, name, value in rows:
        live.step = step
        live.log_metric(name, value, timestamp=False)
    live.make_summary()
    writer = curves.CurveWriter(tmp_path / "ours")
    writer.reset()
    writer.log_rows(rows[:2])
    writer.log_rows(rows[2:])  # appended in two calls, as once per epoch
    writer.make_summary()
    assert _files(tmp_path / "ours") == _files(tmp_path / "live")


def test_record_rows_skip_the_iteration_field():
    assert curves.record_rows([{"iter": 3, "loss": 1.5, "reg_penalty": 0.25}]) == [
        (3, "train/loss", 1.5), (3, "train/reg_penalty", 0.25)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("curves") / "run"
    spec = RunSpec("simclr", "resnet18_cifar", "synthetic", reg="so", epochs=2, cfg_options=OPTIONS)
    summary = training.pretrain(spec, work)
    return spec, work, summary


def _tsv(path):
    lines = path.read_text().splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def test_a_run_writes_its_curves(trained):
    _, work, summary = trained
    metrics = work / curves.CURVES_DIR / "plots" / "metrics"
    names = {str(p.relative_to(metrics)) for p in metrics.rglob("*.tsv")}
    assert {"train/loss.tsv", "train/reg_penalty.tsv", "train/lr.tsv",
            "monitor/knn_top1.tsv", "monitor/effective_rank.tsv"} <= names
    header, rows = _tsv(metrics / "train" / "loss.tsv")
    assert header == ["step", "loss"]
    assert [int(s) for s, _ in rows] == [r["iter"] for r in summary["train_log"]] == list(range(1, 9))
    assert [float(v) for _, v in rows] == [r["loss"] for r in summary["train_log"]]
    _, lr = _tsv(metrics / "train" / "lr.tsv")
    assert [int(s) for s, _ in lr] == list(range(1, 9))
    _, knn = _tsv(metrics / "monitor" / "knn_top1.tsv")
    assert [int(s) for s, _ in knn] == [4, 8]  # after each epoch of 4 iterations
    assert [float(v) for _, v in knn] == [m["knn_top1"] for m in summary["monitor"]]
    last = json.loads((work / curves.CURVES_DIR / "metrics.json").read_text())
    assert last["step"] == 8 and last["train"]["loss"] == summary["loss_last"]


def test_a_resumed_run_has_the_curves_of_an_uninterrupted_one(trained, tmp_path):
    spec, work, _ = trained
    resumed = tmp_path / "resumed"
    shutil.copytree(work, resumed)
    # as if killed during epoch 2: its checkpoint and summary gone, the curves holding more rows
    (resumed / SUMMARY_FILE).unlink()
    (resumed / "epoch_2.pth").unlink()
    (resumed / "last_checkpoint").write_text(str(resumed / "epoch_1.pth"))
    with open(resumed / curves.CURVES_DIR / "plots" / "metrics" / "train" / "loss.tsv", "a") as f:
        f.write("5\t99.0\n")
    training.pretrain(spec, resumed)
    assert _files(resumed / curves.CURVES_DIR) == _files(work / curves.CURVES_DIR)


def test_evaluate_copies_the_curves(trained, tmp_path):
    _, work, _ = trained
    evaluation.copy_curves(work, tmp_path)
    assert _files(tmp_path / evaluation.CURVES_DIR) == _files(work / "curves" / "plots" / "metrics")
    evaluation.copy_curves(tmp_path / "no_such_run", tmp_path)  # a run from before the curves
    assert list(_files(tmp_path / evaluation.CURVES_DIR)) == ["README.md"]
    assert evaluation.CURVES_DIR == curves.CURVES_DIR


def test_dvc_yaml_declares_the_curves_as_plots_of_each_evaluation():
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    stage = pipeline["stages"]["evaluate"]["do"]
    plots = {k: v for entry in stage["plots"] for k, v in entry.items()}
    assert plots == {"results/${profile}/runs/${key}/curves": {"cache": False, "x": "step"},
                     "results/${profile}/runs/${key}/plots": {"cache": False}}
    # each declared once: no top-level plots entry covers a run's folder again
    assert not any(entry.startswith("results/${profile}/runs") for entry in pipeline["plots"])


def test_the_runtime_config_registers_the_hook_last():
    from mmengine.config import Config

    cfg = Config.fromfile(str(REPO / "ortho_suite/configs/_base_/default_runtime.py"))
    assert cfg.custom_hooks[-1]["type"] == "ortho_suite.train.curves.TrainingCurvesHook"
