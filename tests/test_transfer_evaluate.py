"""`ortho-suite evaluate --transfer` (ortho_suite/evaluate/transfer_targets.py): a tiny synthetic
run's frozen encoder probed with kornblith_lbfgs on fixtures of the transfer datasets' official
formats (tests/test_transfer_datasets.py) and of CIFAR (tests/fixtures.py); bad input; OR Table 6
filled from such a metrics.json; an evaluation without --transfer unchanged."""
from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
import yaml

from ortho_suite import catalog, runs
from ortho_suite.cli import main
from ortho_suite.datasets import cifar
from ortho_suite.datasets.cifar import CIFAR10_FORMAT
from ortho_suite.evaluate import transfer_targets
from ortho_suite.evaluate.transfer import TRANSFER_PROTOCOLS
from ortho_suite.evaluate.evaluate import evaluate_run
from ortho_suite.profiles import eval_settings, params_of
from ortho_suite.report.tables import render_profile
from ortho_suite.runs import RunSpec
from ortho_suite.train import pretrain as training

from .conftest import REPO
from .fixtures import make_cifar
from .test_transfer_datasets import make_dtd, make_food101

# 64 generated images in batches of 16, one epoch: a width-8 ResNet-18 at 32 px
OPTIONS = ["model.backbone.width=8", "model.neck.hid_channels=64", "model.neck.out_channels=32",
           "train_dataloader.batch_size=16", "train_dataloader.dataset.num_samples=64"]
# Food-101 fixture: 3 classes x 2 images per split; DTD: 3 classes x 1 image per split (fold 1)
COUNTS = {"food101": (6, None, 6), "dtd": (3, 3, 3)}


@pytest.fixture(autouse=True)
def _short_grid(monkeypatch):
    """kornblith_lbfgs with 4 of its 45 L2 values and 100 L-BFGS iterations: on a few separable
    fixture images the weak-L2 fits run to the iteration cap (minutes on 2 cores). The full
    protocol is checked in tests/test_transfer_probe.py; its name and everything else stay."""
    full = TRANSFER_PROTOCOLS["kornblith_lbfgs"]
    monkeypatch.setitem(TRANSFER_PROTOCOLS, "kornblith_lbfgs", dataclasses.replace(
        full, l2_grid=full.l2_grid[::15], max_iter=100))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("transfer") / "run"
    training.pretrain(RunSpec("simclr", "resnet18_cifar", "synthetic", epochs=1,
                              cfg_options=OPTIONS), work)
    return work


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer_data")
    make_food101(root)
    make_dtd(root)
    return root


def _cli(*args):
    return main(["evaluate", *map(str, args), "--probe-epochs", "1"])


def test_transfer_records_for_two_formats(run, data, tmp_path, capsys):
    out = tmp_path / "eval"
    assert _cli("--work-dir", run, "--out", out, "--transfer", "food101,dtd",
                "--transfer-root", data) == 0
    assert "transfer food101 (kornblith_lbfgs) top-1" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["transfer"]) == ["food101", "dtd"]
    for name, (train, val, test) in COUNTS.items():
        record = metrics["transfer"][name]
        assert record["protocol"] == "kornblith_lbfgs"
        assert (record["train"], record["val"], record["test"]) == (train, val, test)
        assert 0 <= record["top1"] <= 100 and record["top5"] is None  # 3 classes: no top-5
        assert record["l2"] in TRANSFER_PROTOCOLS["kornblith_lbfgs"].l2_grid
        assert record["image_size"] == 32 and record["classes"] == 3
        assert runs.metric(metrics, f"transfer_{name}_top1") == record["top1"]
    # DTD's official val split chooses the L2; Food-101 holds out part of train
    assert metrics["transfer"]["dtd"]["validation"] == "the dataset's validation split"
    assert metrics["transfer"]["food101"]["validation"].startswith("random 0.1 of train")
    assert metrics["transfer"]["food101"]["n_fit"] + metrics["transfer"]["food101"]["n_val"] == 6


def test_cifar_target_upsampled_to_an_imagenet_encoder_input(run, tmp_path, monkeypatch):
    """CIFAR's 32 px images at 224 px (bicubic) for a 224 px encoder; at 32 px, as stored."""
    monkeypatch.setattr(cifar, "_check_md5", lambda path, expected: None)  # fixture, not official
    make_cifar(tmp_path, CIFAR10_FORMAT)
    cfg = runs.load_finished_run(run)[0]
    native = transfer_targets.prepare_targets(cfg, ("cifar10",), tmp_path)["cifar10"]
    assert native["size"] == 32 and native["view"].startswith("as stored")
    cfg.ortho_suite["dataset"] = "imagenet"  # an ImageNet encoder's size
    target = transfer_targets.prepare_targets(cfg, ("cifar10",), tmp_path)["cifar10"]
    assert target["size"] == 224 and "resized to 224 (bicubic)" in target["view"]
    split, dataset = target["splits"]["test"]
    assert split == "test" and "val" not in target["splits"]
    image = dataset[0]["inputs"][0]
    assert tuple(image.shape) == (3, 224, 224) and image.dtype == torch.uint8
    # a flat-coloured fixture image stays that colour (but the pixel (0, 1) the fixture marks)
    assert int(image[1, 100, 100]) == 100 and int(image[2, 100, 100]) == 200


def test_cifar_target_end_to_end(run, tmp_path, monkeypatch):
    monkeypatch.setattr(cifar, "_check_md5", lambda path, expected: None)
    make_cifar(tmp_path / "data", CIFAR10_FORMAT)  # 5 x 6 train, 6 test images
    result = evaluate_run(run, tmp_path / "eval", probe_epochs=1, transfer=["cifar10"],
                          transfer_root=tmp_path / "data")
    record = result["transfer"]["cifar10"]
    assert (record["train"], record["val"], record["test"]) == (30, None, 6)
    assert 0 <= record["top1"] <= 100 and record["classes"] == 10 and record["top5"] is not None


def _damage_food(root):
    (make_food101(root) / "images" / "beignets" / "201.jpg").unlink()


def _undecodable_dtd(root):
    (make_dtd(root) / "images" / "blotchy" / "blotchy_0001.jpg").write_bytes(b"not a jpeg")


@pytest.mark.parametrize("args,damage,fragment", [
    (["--transfer", "food101,imagenet"], None, "unknown transfer target 'imagenet'"),
    (["--transfer", "food101"], None, "--transfer needs --transfer-root"),
    (["--transfer", "food101", "--transfer-root", "DATA"], _damage_food, "image(s) listed in"),
    (["--transfer", "dtd", "--transfer-root", "DATA"], _undecodable_dtd, "an image cannot be read"),
], ids=["unknown", "no-root", "missing-image", "undecodable"])
def test_bad_transfer_input_exits_2_with_one_line_and_writes_nothing(run, tmp_path, capsys, args,
                                                                      damage, fragment):
    if damage is not None:
        damage(tmp_path / "data")
    args = [str(tmp_path / "data") if a == "DATA" else a for a in args]
    out = tmp_path / "eval"
    assert _cli("--work-dir", run, "--out", out, "--cache-dir", tmp_path / "cache", *args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]  # progress bars aside
    assert len(errors) == 1 and "Traceback" not in err and fragment in errors[0], err
    assert err.endswith(errors[0] + "\n") and errors[0].startswith("ortho-suite: error:")
    if damage is not _undecodable_dtd:  # before anything ran: the one line alone
        assert err.count("\n") == 1, err
    assert not out.exists(), "nothing may be written"
    if damage is not _undecodable_dtd:  # the files are checked before any feature is extracted
        assert not (tmp_path / "cache").exists()


def test_without_transfer_the_evaluation_is_unchanged(run, data, tmp_path):
    """Same keys, same values (but the wall time) as an evaluation that never heard of it; with
    it, the same in-domain values plus the transfer record."""
    plain = evaluate_run(run, tmp_path / "a", probe_epochs=1)
    again = evaluate_run(run, tmp_path / "b", probe_epochs=1, transfer="")
    both = evaluate_run(run, tmp_path / "c", probe_epochs=1, transfer=["dtd"], transfer_root=data)
    assert "transfer" not in plain and "transfer" not in again
    drop = lambda m: {k: v for k, v in m.items() if k not in ("wall_time_s", "transfer")}  # noqa: E731
    assert drop(plain) == drop(again) == drop(both)
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert list(a) == list(b) and drop(a) == drop(b)
    assert (tmp_path / "a" / "spectra.json").read_bytes() == (tmp_path / "c" / "spectra.json").read_bytes()
    assert all(runs.metric(a, name) is None for name in runs.TRANSFER_METRICS)


def test_or_table_6_cells_filled_from_transfer_metrics(tmp_path):
    """OR Table 6 (benchmarks/tables/or_t6.yaml) through the report code: a run's
    metrics.json with a transfer record fills its column."""
    bench, results = tmp_path / "benchmarks", tmp_path / "results" / "imagenet"
    (bench / "tables").mkdir(parents=True)
    shutil.copy(REPO / "benchmarks" / "tables" / "or_t6.yaml", bench / "tables")
    table = yaml.safe_load((bench / "tables" / "or_t6.yaml").read_text())
    assert [c["metric"] for c in table["columns"]] == [
        f"transfer_{t}_top1" for t in catalog.TRANSFER_TARGETS]
    run_ids, top1 = {}, {"none": 70.0, "so": 73.0}
    for reg, value in top1.items():
        run_id = f"byol_{reg}_resnet50_imagenet_100ep_s0"
        run_ids[run_id] = dict(method="byol", reg=reg, backbone="resnet50", dataset="imagenet",
                               aug="byol_imagenet", seed=0, epochs=100, cfg_options="")
        folder = results / "runs" / run_id
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({
            "status": "evaluated", "linear_probe": {"top1": 60.0, "top5": 80.0},
            "representation": {"effective_rank": 10.0, "dims": 2048, "alpha_req": 1.0,
                               "collapsed_dims": 0},
            "transfer": {"food101": {"top1": value, "top5": 90.0, "protocol": "kornblith_lbfgs"}}}))
    (results / "pretrain_summary.json").write_text(json.dumps(
        {r: {"status": "finished", "loss_last": 1.0} for r in run_ids}))
    profile = {"summary": "toy", "comparable": True, "note": "toy",
               "eval": {"protocol": "imagenet", "transfer": ["food101"],
                        "transfer_root": "data/transfer"}, "runs": run_ids}
    (bench / "profiles").mkdir()
    (bench / "profiles" / "imagenet.yaml").write_text(yaml.safe_dump(profile))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(params_of({"name": "imagenet", **profile})))
    render_profile(params, bench, results)
    cells = {(c["row"], c["column"]): c
             for c in json.loads((results / "tables" / "or_t6.json").read_text())["cells"]}
    for reg, value in top1.items():
        assert cells[reg, "food101"]["reproduced"]["mean"] == pytest.approx(value)
        assert cells[reg, "food101"]["reproduced"]["seeds"] == [0]
        assert cells[reg, "food101"]["probe"] == {"published": "offline", "reproduced": "offline"}
        assert cells[reg, "dtd"]["reproduced"] is None  # no DTD record in its metrics
    assert "| 70.00" in (results / "tables" / "or_t6.md").read_text() or \
        "70.0" in (results / "tables" / "or_t6.md").read_text()


def test_profile_transfer_list_is_validated_and_comma_joined_for_the_evaluate_stage():
    """The evaluate stages pass eval.transfer and eval.transfer_root on (dvc.yaml); '' is none."""
    none = eval_settings("p.yaml", {"protocol": "or"})
    assert (none["transfer"], none["transfer_root"]) == ("", "")
    assert eval_settings("p.yaml", {"protocol": "or", "transfer": []})["transfer"] == ""
    both = eval_settings("p.yaml", {"protocol": "or", "transfer": ["dtd", "gtsrb"],
                                    "transfer_root": "data/transfer"})
    assert (both["transfer"], both["transfer_root"]) == ("dtd,gtsrb", "data/transfer")
    for bad, message in ((["dtd", "mnist"], "unknown transfer target 'mnist'"),
                         ("dtd", "expected a list"), (["dtd", "dtd"], "named twice"),
                         (["dtd"], "no eval.transfer_root")):
        with pytest.raises(Exception, match=message):
            eval_settings("p.yaml", {"protocol": "or", "transfer": bad})
    imagenet = yaml.safe_load((REPO / "benchmarks" / "profiles" / "imagenet.yaml").read_text())
    assert imagenet["eval"]["transfer"] == list(catalog.TRANSFER_TARGETS)
    assert eval_settings("imagenet.yaml", imagenet["eval"])["transfer"] == \
        ",".join(catalog.TRANSFER_TARGETS)
    smoke = yaml.safe_load((REPO / "benchmarks" / "profiles" / "smoke.yaml").read_text())
    assert "transfer" not in smoke["eval"]
    committed = yaml.safe_load((REPO / "params.yaml").read_text())["eval"]
    assert eval_settings("smoke.yaml", smoke["eval"]) == committed
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["evaluate"]["do"]["cmd"]
    assert "--transfer '${eval.transfer}' --transfer-root '${eval.transfer_root}'" in stage


def test_the_pipelines_empty_transfer_options_evaluate_no_target(run, data, tmp_path, capsys):
    """What the smoke profile's evaluate stage passes (--transfer '' --transfer-root ''): no
    transfer record, exit 0."""
    out = tmp_path / "eval"
    assert main(["evaluate", "--work-dir", str(run), "--out", str(out), "--probe-epochs", "1",
                 "--transfer", "", "--transfer-root", ""]) == 0
    assert "transfer" not in json.loads((out / "metrics.json").read_text())


def test_view_pipeline_replaces_the_transfer_size():
    cfg = transfer_targets._target_config("food101")
    pipeline = transfer_targets.view_pipeline(cfg, 224, 32)
    assert [t["type"] for t in pipeline] == ["LoadRGBImage", "mmcls.ResizeEdge", "CenterCrop",
                                             "PackSelfSupInputs"]
    assert pipeline[1]["scale"] == 32 and pipeline[2]["crop_size"] == 32
    assert cfg.feature_data.pipeline[1]["scale"] == 224, "the config itself is left as it is"
    assert np.all([t["type"] != "mmcls.ResizeEdge" for t in transfer_targets.view_pipeline(
        transfer_targets._target_config("cifar10"), 32, 32)])
