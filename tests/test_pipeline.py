"""The DVC pipeline's parameters, its stage list, and the results it renders."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ortho_suite import report
from ortho_suite.cli import main
from ortho_suite.errors import UsageError
from ortho_suite.params import load_params

from .conftest import REPO


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
    frame = report.write_summary(runs_dir, ["a", "b", "c"], out, "smoke", "A note.")
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


def _stage_deps(name: str) -> list[Path]:
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][name]
    stage = stage.get("do", stage)  # foreach stages keep their body under `do`
    return [REPO / dep for dep in stage["deps"] if dep.startswith("ortho_suite")]


@pytest.mark.parametrize("stage,entry", [("pretrain", "ortho_suite.pretrain"),
                                         ("evaluate", "ortho_suite.evaluate"),
                                         ("tables", "ortho_suite.render"),
                                         ("directclr_toy", "ortho_suite.experiments.directclr_toy"),
                                         ("or_proposition1", "ortho_suite.experiments.or_proposition1"),
                                         ("iternorm_mapping",
                                          "ortho_suite.experiments.iternorm_mapping, ortho_suite.evaluate")])
def test_stage_deps_cover_every_module_the_stage_imports(stage, entry):
    """A code change must re-run the stages whose code it touches: every ortho_suite module the
    stage's entry point loads (in a fresh interpreter, with the suite's registrations) lies under
    one of the stage's DVC deps. The package's own __init__ (a docstring) is exempt."""
    # Training and evaluation also load the suite's registered mmselfsup modules.
    register = ("import ortho_suite.pretrain as p; p._register_suite_modules(); "
                if stage in ("pretrain", "evaluate", "iternorm_mapping") else "")
    code = (f"import sys, {entry}; {register}"
            "print('\\n'.join(v.__file__ for k, v in list(sys.modules.items()) "
            "if k.startswith('ortho_suite') and getattr(v, '__file__', None)))")
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                          text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    deps = _stage_deps(stage)
    files = [Path(f) for f in proc.stdout.split()]
    assert len(files) > 2  # the subprocess did list the loaded modules
    uncovered = sorted(str(f.relative_to(REPO)) for f in files
                       if f != REPO / "ortho_suite" / "__init__.py"
                       and not any(f == d or d in f.parents for d in deps))
    assert uncovered == [], f"add these to the {stage} stage's deps in dvc.yaml: {uncovered}"
