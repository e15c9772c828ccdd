"""The run record (ortho_suite/runs.py): the fields that identify a run, the status rule every
stage reads a run by, and the reader that never takes a truncated metrics file for a result."""
from __future__ import annotations

import json

import pytest

from ortho_suite import runs
from ortho_suite.errors import UsageError
from ortho_suite.runs import RunSpec, spec_from_params


@pytest.mark.parametrize("summary,status", [
    (None, "missing"),
    ({"status": "finished", "loss_last": 2.5}, "finished"),
    ({"status": "finished", "loss_last": float("nan")}, "diverged"),
    ({"status": "finished", "loss_last": float("inf")}, "diverged"),
    ({"status": "finished", "loss_last": None}, "diverged"),  # NaN written as null by a writer
    ({"status": "diverged", "loss_last": 3.0}, "diverged"),
    ({"status": "missing", "loss_last": None}, "missing"),  # a summary's placeholder row
])
def test_train_status_marks_every_non_finite_end_as_diverged(summary, status):
    assert runs.train_status(summary) == status


def test_read_metrics_takes_only_a_complete_evaluated_file(tmp_path):
    assert runs.read_metrics(tmp_path) is None
    (tmp_path / runs.METRICS_FILE).write_text('{"status": "evalu')  # cut short by a crash
    assert runs.read_metrics(tmp_path) is None
    (tmp_path / runs.METRICS_FILE).write_text(json.dumps({"status": "diverged"}))
    assert runs.read_metrics(tmp_path) is None
    done = {"status": "evaluated", "linear_probe": {"top1": 71.5}, "representation": {"dims": 64}}
    (tmp_path / runs.METRICS_FILE).write_text(json.dumps(done))
    assert runs.read_metrics(tmp_path) == done
    assert runs.metric(done, "linear_top1") == 71.5 and runs.metric(done, "repr_dims") == 64
    assert runs.metric(done, "knn200_cosine_top1") is None


def test_spec_from_params_reads_a_run_and_names_the_field_at_fault(tmp_path):
    path = tmp_path / "params.yaml"
    run = {"method": "simclr", "reg": "so", "backbone": "resnet18_cifar", "dataset": "fmnist",
           "aug": "solo_cifar_symmetric", "seed": 1, "epochs": 2,
           "cfg_options": "model.backbone.width=8 train_dataloader.batch_size=64"}
    spec = spec_from_params(path, "r1", run)
    assert spec == RunSpec("simclr", "resnet18_cifar", "fmnist", reg="so",
                           aug="solo_cifar_symmetric", seed=1, epochs=2,
                           cfg_options=("model.backbone.width=8", "train_dataloader.batch_size=64"))
    assert spec.cell() == {"method": "simclr", "reg": "so", "backbone": "resnet18_cifar",
                           "dataset": "fmnist", "epochs": 2, "variant": "standard"}
    assert spec_from_params(path, "r1", {**run, "variant": "linear"}).variant == "linear"
    with pytest.raises(UsageError, match=r"params.yaml: runs.r1.backbone: unknown backbone 'rn18'"):
        spec_from_params(path, "r1", {**run, "backbone": "rn18"})
    with pytest.raises(UsageError, match=r"runs.r1 is missing seed, epochs"):
        spec_from_params(path, "r1", {k: v for k, v in run.items() if k not in ("seed", "epochs")})


def test_the_record_fields_are_the_head_of_every_run_list():
    """summary.json, metrics.json and params.yaml name a run by the same fields, in one order."""
    assert set(runs.RECORD_FIELDS) <= set(RunSpec.field_names())
    assert runs.PARAMS_FIELDS[:len(runs.RECORD_FIELDS)] == runs.RECORD_FIELDS
    assert set(runs.CELL_FIELDS) <= set(RunSpec.field_names())
    assert set(runs.NAMED_FIELDS) <= set(RunSpec.field_names())
