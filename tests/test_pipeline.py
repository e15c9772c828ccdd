"""The DVC pipeline's parameters, its stage list, and the results it renders."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ortho_suite.cli import main
from ortho_suite.datasets.fmnist import DEFAULT_ROOT
from ortho_suite.errors import UsageError
from ortho_suite.profiles import load_params
from ortho_suite.report import summarize

from .conftest import REPO, TINY_OPTIONS

FMNIST = DEFAULT_ROOT / "train-images-idx3-ubyte.gz"


def test_repository_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params["profile"] == "smoke" and params["runs"]
    methods = {run["method"] for run in params["runs"].values()}
    from ortho_suite.catalog import METHODS

    assert methods == set(METHODS), "the smoke profile trains every method at least once"
    regs = {run["reg"] for run in params["runs"].values()}
    assert {"none", "so", "srip"} <= regs


def test_dvc_defines_pretrain_and_evaluate_stages_per_run():
    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent))
    proc = subprocess.run([dvc, "stage", "list", "--name-only"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    stages = set(proc.stdout.split())
    runs = yaml.safe_load((REPO / "params.yaml").read_text())["runs"]
    assert stages == ({f"pretrain@{run_id}" for run_id in runs}
                      | {f"evaluate@{run_id}" for run_id in runs} | {"summarize", "tables", "directclr_toy", "or_proposition1",
                         "iternorm_mapping"})


def _write_params(tmp_path, runs, **top) -> Path:
    params = {"profile": "smoke", "profile_note": "note", "runs": runs, **top}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


GOOD_RUN = dict(method="simclr", reg="none", backbone="resnet18_cifar", dataset="synthetic",
                aug="solo_cifar_symmetric", seed=0, epochs=1, cfg_options="")


@pytest.mark.parametrize("runs,message", [
    ({"r1": {**GOOD_RUN, "method": "nosuch"}}, "runs.r1.method: unknown method 'nosuch'"),
    ({"r1": {k: v for k, v in GOOD_RUN.items() if k != "seed"}}, "runs.r1 is missing seed"),
    ({"r1": {**GOOD_RUN, "aug": "nosuch"}}, "runs.r1.aug: unknown augmentation 'nosuch'"),
    ({}, "'runs' must map run ids"),
])
def test_bad_params_name_file_and_field(tmp_path, runs, message):
    path = _write_params(tmp_path, runs)
    with pytest.raises(UsageError, match=message) as err:
        load_params(path)
    assert str(path) in str(err.value)


def test_unparseable_params_exit_2_without_output(tmp_path, capsys):
    path = tmp_path / "params.yaml"
    path.write_text("runs: [unclosed\n")
    out = tmp_path / "results"
    code = main(["summarize", "--params", str(path), "--runs-dir", str(tmp_path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not valid YAML" in err
    assert not out.exists()


def _fake_summary(run_dir: Path, **fields) -> None:
    run_dir.mkdir(parents=True)
    base = dict(status="finished", method="simclr", reg="so", backbone="resnet18_cifar",
                dataset="synthetic", seed=0, epochs=2, iterations=16, loss_first=4.0,
                loss_last=2.5, reg_penalty_first=700.0, reg_penalty_last=650.0, wall_time_s=1.5,
                config_sha256="ab" * 32)
    (run_dir / "summary.json").write_text(json.dumps({**base, **fields}))


def _fake_metrics(run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps({
        "status": "evaluated", "linear_probe": {"top1": 71.25}, "knn_cosine_k200_top1": 70.5,
        "representation": {"effective_rank": 14.25, "collapsed_dims": 3},
        "weights_mean_so_penalty": 61.5}))


def test_summary_renders_runs_and_marks_missing_ones(tmp_path):
    runs_dir, out = tmp_path / "runs", tmp_path / "results"
    _fake_summary(runs_dir / "a")
    _fake_metrics(out / "runs" / "a")
    (runs_dir / "b").mkdir(parents=True)  # started, never finished: no summary.json
    _fake_summary(runs_dir / "c", loss_last=float("nan"))  # trained to a non-finite loss
    frame = summarize.write_summary(runs_dir, ["a", "b", "c"], out, "smoke", "A note.")
    assert list(frame["status"]) == ["finished", "missing", "diverged"]
    markdown = (out / "pretrain_summary.md").read_text()
    assert markdown.splitlines()[0] == "# Pretraining runs, profile `smoke`"
    assert "A note." in markdown
    row_a = next(line for line in markdown.splitlines() if line.startswith("| a "))
    assert "2.5000" in row_a and "650.0000" in row_a and "abababababab" in row_a
    assert "71.2500" in row_a and "70.5000" in row_a and "14.2500" in row_a and "61.5000" in row_a
    row_b = next(line for line in markdown.splitlines() if line.startswith("| b "))
    assert "missing" in row_b and "nan" not in row_b.lower()
    metrics = json.loads((out / "pretrain_summary.json").read_text())
    assert metrics["a"]["loss_last"] == 2.5 and metrics["b"]["status"] == "missing"
    assert metrics["a"]["probe_top1"] == 71.25 and (out / "figures" / "spectra").is_dir()
    assert not list(out.glob(".*.tmp")), "temporary files must be renamed or removed"


def _stage(name: str) -> dict:
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][name]
    return stage.get("do", stage)  # foreach stages keep their body under `do`


def _code_deps(name: str) -> list[str]:
    return [dep for dep in _stage(name)["deps"] if dep.startswith("ortho_suite")]


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


def _uncovered(files: list[str], deps: list[str]) -> list[str]:
    return [f for f in files if not _covered(f, deps)]


def _unused(files: list[str], deps: list[str]) -> list[str]:
    return [dep for dep in deps if not any(_covered(f, [dep]) for f in files)]


# The test-size run every stage command is executed on: one run of the smoke profile (so that
# `tables` accepts the params file), trained on synthetic images for one epoch.
DEPS_RUN_ID = "simclr_so_resnet18w8_fmnist"
DEPS_RUN = {"method": "simclr", "reg": "so", "backbone": "resnet18_cifar", "dataset": "synthetic",
            "aug": "solo_cifar_symmetric", "seed": 0, "epochs": 1,
            "cfg_options": " ".join(TINY_OPTIONS), "recipe": "paper"}
# iternorm_mapping pretrains INTL on Fashion-MNIST: one T, one epoch of two batches.
SHRINK_ITERNORM = (
    "import ortho_suite.experiments.iternorm_mapping as m; m.TRAINING_ITERS = (4,); "
    "m.TRAINING_EPOCHS = 1; m.PROBE_IMAGES = 64; m.TRAINING_OPTIONS = [o.replace('=2048', '=256') "
    "for o in m.TRAINING_OPTIONS]")
EVAL = {"protocol": "or", "probe_epochs": 1, "train_images": 48, "test_images": "all",
        "transfer": "", "transfer_root": ""}
STAGES = ("pretrain", "evaluate", "summarize", "tables", "directclr_toy", "or_proposition1",
          "iternorm_mapping")


def _command(name: str) -> list[str]:
    """The stage's `cmd` from dvc.yaml, interpolated as DVC would for DEPS_RUN."""
    context = {"launch": {"prefix": "", "launcher": "none"}, "eval": EVAL,
               "item": DEPS_RUN, "key": DEPS_RUN_ID, "profile": "smoke"}

    def value(match):
        node = context
        for part in match.group(1).split("."):
            node = node[part]
        return str(node)

    return shlex.split(re.sub(r"\$\{([^}]+)\}", value, _stage(name)["cmd"]))


@pytest.fixture(scope="module")
def stage_files(tmp_path_factory) -> dict[str, list[str]]:
    """Every stage's real command, run in order in a fresh interpreter each on a test-size
    project: {stage: the ortho_suite files it imported or read}."""
    root = tmp_path_factory.mktemp("deps")
    (root / "benchmarks").symlink_to(REPO / "benchmarks")
    (root / "params.yaml").write_text(yaml.safe_dump({
        "profile": "smoke", "profile_note": "deps test", "eval": EVAL,
        "runs": {DEPS_RUN_ID: DEPS_RUN}}))
    env = dict(os.environ, PYTHONWARNINGS="ignore", PYTHONPATH=str(REPO))
    found = {}
    for name in STAGES:
        if name == "iternorm_mapping" and not FMNIST.is_file():
            continue
        out = root / f"{name}.files.json"
        setup = SHRINK_ITERNORM if name == "iternorm_mapping" else ""
        proc = subprocess.run([sys.executable, "-m", "tests.stage_files", str(out), setup, "--",
                               *_command(name)], cwd=root, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, f"{name}: {proc.stderr[-3000:]}"
        found[name] = json.loads(out.read_text())["files"]
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_stage_deps_are_exactly_the_code_the_stage_runs(stage, stage_files):
    """A code change must re-run the stages whose code it touches, and only those: every
    ortho_suite file the stage's real command imports or reads (run in a fresh interpreter)
    lies under one of its DVC deps, and every code dep it declares holds such a file, so that
    removing any one of them fails here."""
    if stage not in stage_files:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    files, deps = stage_files[stage], _code_deps(stage)
    assert "ortho_suite/cli.py" in files and len(files) > 5  # the command did run and report
    assert _uncovered(files, deps) == [], f"add these to the {stage} stage's deps in dvc.yaml"
    assert _unused(files, deps) == [], f"the {stage} stage never uses these deps in dvc.yaml"
    # the check itself: without its last code dep the stage's files are no longer covered
    assert _uncovered(files, deps[:-1])
