"""Paper tables: published values against the reference, verdicts, rendering, bad input."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from ortho_suite.cli import main
from ortho_suite.errors import UsageError
from ortho_suite.profiles import (
    DEFAULT_LAUNCH,
    check_params,
    load_profile,
    params_of,
    profile_runs,
    write_params,
)
from ortho_suite.report import render, table_specs, verdicts
from ortho_suite.report.tables import render_profile
from ortho_suite.runs import DEFAULT_VARIANT, RunSpec
from ortho_suite.train import compose

from .conftest import REPO

# The curated reference of published numbers lives beside the repository on the project's machines.
REFERENCE = next((p for p in [Path(os.environ.get("ORTHO_SUITE_REFERENCE", "/nonexistent")),
                              REPO.parent / "shared" / "reference" / "published_numbers.md",
                              Path("/work/shared/reference/published_numbers.md")] if p.is_file()),
                 REPO.parent / "shared" / "reference" / "published_numbers.md")
# Numbers in the reference that are protocol settings, not results (lr 4.8, tau / temperature
# 0.1, probe lr 0.4 or 0.2) and arXiv ids.
PROTOCOL_NUMBERS = {4.8, 0.1, 0.4, 0.2}


def _published_values() -> list[float]:
    return [v for t in table_specs.load_tables(REPO / "benchmarks" / "tables") for r in t.rows
            for v in r.published.values() if v is not None]


@pytest.mark.skipif(not REFERENCE.is_file(), reason=f"{REFERENCE} is not on this machine")
def test_every_reference_number_is_a_published_value_and_back():
    text = REFERENCE.read_text()
    numbers = {float(n) for n in re.findall(r"(?<![\d.])\d+\.\d+(?!\.?\d)", text)
               if not re.fullmatch(r"\d{4}\.\d{5}", n)} - PROTOCOL_NUMBERS
    published = set(_published_values())
    assert numbers - published == set(), "reference numbers missing from benchmarks/tables"
    assert published - numbers == set(), "benchmarks/tables values not in the reference"
    assert len(numbers) > 100  # the regex still finds the tables (111 distinct values today)


# Placement: an independent transcription of cells from published_numbers.md (table, row, column).
SPOT_CHECKS = [
    ("directclr_t1", "simclr_mlp2", "top1", 66.5), ("directclr_t1", "directclr", "top1", 62.7),
    ("directclr_t2", "orthogonal", "top1", 52.2), ("directclr_t2", "fixed_lowrank", "top1", 62.3),
    ("directclr_appendix_f", "directclr", "subvector_top1", 47.9),
    ("directclr_appendix_f", "random_subset", "top1", 43.0),
    ("intl_small_medium", "cifar100", "knn5_top1", 61.90),
    ("intl_small_medium", "imagenet100", "linear_top5", 95.42),
    ("intl_imagenet", "ema_mc_400", "top1", 76.1), ("intl_imagenet", "two_views_800", "top1", 73.1),
    ("intl_coco", "intl", "seg_ap75", 38.1), ("intl_coco", "intl", "det_ap50", 61.2),
    ("solo_learn_cifar", "mocov3", "c10_top1", 93.10), ("solo_learn_cifar", "wmse", "c100_top5", 87.26),
    ("solo_learn_cifar", "swav", "c100_top1", 64.88),
    ("solo_learn_imagenet100", "simsiam", "offline_top1", 78.72),
    ("solo_learn_imagenet100", "simclr", "offline_top1", None),
    ("solo_learn_imagenet100", "wmse", "online_top1", 67.60),
    ("lightly_cifar10", "barlowtwins", "minutes_200ep", 153.3),
    ("lightly_cifar10", "simsiam", "knn_800ep", 0.904),
]


@pytest.mark.parametrize("table,row,column,value", SPOT_CHECKS)
def test_published_values_sit_in_their_cells(table, row, column, value):
    t = table_specs.load_table(REPO / "benchmarks" / "tables" / f"{table}.yaml")
    published = next(r for r in t.rows if r.id == row).published
    assert published.get(column) == value


def test_every_table_names_its_source_and_or_tables_state_their_claims():
    loaded = table_specs.load_tables(REPO / "benchmarks" / "tables")
    ids = {t.id for t in loaded}
    assert {"or_t1", "or_t2", "or_t3", "or_t4", "or_t5", "or_t6", "or_t7", "or_t8", "or_t10",
            "directclr_t1", "directclr_t2", "intl_small_medium", "intl_imagenet",
            "solo_learn_cifar", "solo_learn_imagenet100", "lightly_cifar10",
            "fmnist_or_study"} <= ids
    for t in loaded:
        assert t.paper and t.source and t.protocol
        if t.id.startswith("or_"):
            assert t.unavailable and all(not r.published for r in t.rows)
            assert t.claims or t.id == "or_t10"


# Verdict rules, intervals and pairing: tests/test_verdicts.py.


# ---------------------------------------------------------------------------- rendering

TOY_TABLE = {
    "title": "Toy table", "paper": "Doe et al., Toy Paper 2030", "source": "Table 9",
    "protocol": "toy protocol; top-1 %.", "probe": "offline", "tolerance": 1.0,
    "defaults": {"backbone": "resnet18_cifar", "dataset": "synthetic", "epochs": 2},
    "columns": [{"id": "none", "label": "none top-1", "metric": "linear_top1", "run": {"reg": "none"}},
                {"id": "so", "label": "SO top-1", "metric": "linear_top1", "run": {"reg": "so"}}],
    "rows": [{"id": "simclr", "label": "SimCLR", "run": {"method": "simclr"},
              "published": {"none": 71.0, "so": 75.0}},
             {"id": "byol", "label": "BYOL", "run": {"method": "byol"},
              "published": {"none": 60.0, "so": 58.0}},
             {"id": "voc", "label": "SimCLR on VOC07+12", "run": {"method": "simclr", "dataset": "voc0712"},
              "published": {"none": 50.0}}],
    "claims": [{"id": "so_gain", "text": "SO adds 3 points", "where": "Sec. 9", "metric": "linear_top1",
                "baseline": {"method": "simclr", "reg": "none"}, "treatment": {"reg": "so"},
                "delta": 3.0},
               {"id": "so_helps", "text": "SO improves SimCLR", "where": "Sec. 9",
                "metric": "linear_top1", "baseline": {"method": "simclr", "reg": "none"},
                "treatment": {"reg": "so"}, "sign": 1}],
}
TOY_RUNS = {  # run id: (method, reg, seed, linear top-1 or None for a diverged run)
    "simclr_none_s0": ("simclr", "none", 0, 70.8), "simclr_none_s1": ("simclr", "none", 1, 71.0),
    "simclr_none_s2": ("simclr", "none", 2, 71.2),
    "simclr_so_s0": ("simclr", "so", 0, 73.25), "simclr_so_s1": ("simclr", "so", 1, 73.0),
    "simclr_so_s2": ("simclr", "so", 2, 73.5),
    "byol_none_s0": ("byol", "none", 0, None), "byol_so_s0": ("byol", "so", 0, 58.5),
}


def _toy_project(root: Path, comparable: bool = True) -> tuple[Path, Path, Path]:
    """A benchmarks/ folder with the toy table and a profile, params.yaml, and the results a
    finished `dvc repro` would leave (metrics.json per run, pretrain summary, provenance)."""
    bench, results = root / "benchmarks", root / "results" / "smoke"
    (bench / "tables").mkdir(parents=True)
    (bench / "tables" / "toy.yaml").write_text(yaml.safe_dump(TOY_TABLE))
    runs, summary, provenance = {}, {}, {}
    for run_id, (method, reg, seed, top1) in TOY_RUNS.items():
        runs[run_id] = dict(method=method, reg=reg, backbone="resnet18_cifar", dataset="synthetic",
                            aug="solo_cifar_symmetric", seed=seed, epochs=2, cfg_options="")
        summary[run_id] = {"status": "finished", "loss_last": 2.0 if top1 else float("nan")}
        provenance[run_id] = {"seed": seed, "config_sha256": f"{seed}" * 64, "git_commit": "c0ffee" * 7,
                              "packages": {"torch": "2.13.0", "mmselfsup": "1.0.0"},
                              "hardware": {"cpu_count": 2, "cuda": False}, "wall_time_s": 12.0}
        if top1 is not None:
            run_dir = results / "runs" / run_id
            run_dir.mkdir(parents=True)
            (run_dir / "metrics.json").write_text(json.dumps({
                "status": "evaluated", "linear_probe": {"top1": top1, "top5": 99.0},
                "knn_cosine_k200_top1": top1 + 1,
                "representation": {"effective_rank": 10.0 + seed, "dims": 64, "alpha_req": 1.5,
                                   "collapsed_dims": 0}}))
    results.mkdir(parents=True, exist_ok=True)
    (results / "pretrain_summary.json").write_text(json.dumps(summary))
    (results / "provenance.json").write_text(json.dumps(provenance))
    profile = {"summary": "toy profile", "comparable": comparable, "note": "toy", "eval": {"protocol": "or"},
               "runs": runs}
    (bench / "profiles").mkdir()
    (bench / "profiles" / "smoke.yaml").write_text(yaml.safe_dump(profile))
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(params_of({"name": "smoke", **profile})))
    return params, bench, results


def test_rendered_table_matches_golden_markdown(tmp_path):
    params, bench, results = _toy_project(tmp_path)
    render_profile(params, bench, results, tmp_path / "results" / "README.md")
    rendered = (results / "tables" / "toy.md").read_text().replace(str(bench), "BENCH")
    golden = REPO / "tests" / "golden" / "toy_table.md"
    assert rendered == golden.read_text()


def _t95(n: int) -> float:
    return pytest.importorskip("scipy.stats").t.ppf(0.975, n - 1)


def test_rendered_cells_verdicts_csv_and_leaderboard(tmp_path):
    params, bench, results = _toy_project(tmp_path)
    score = render_profile(params, bench, results, tmp_path / "results" / "README.md")
    data = json.loads((results / "tables" / "toy.json").read_text())
    cells = {(c["row"], c["column"]): c for c in data["cells"]}
    # SimCLR none: 70.8, 71.0, 71.2 -> mean 71, std 0.2, 95% t interval 71 ± t(2) 0.2 / sqrt(3)
    none = cells["simclr", "none"]["reproduced"]
    half = _t95(3) * 0.2 / math.sqrt(3)
    assert none["mean"] == pytest.approx(71.0) and none["seeds"] == [0, 1, 2]
    assert (none["low"], none["high"]) == pytest.approx((71 - half, 71 + half))
    assert cells["simclr", "none"]["verdict"] == verdicts.WITHIN              # 71 inside
    # SimCLR SO: 73.25, 73.0, 73.5 -> 73.25 ± 0.62, widened by 1: up to 74.87 < 75 published
    so = cells["simclr", "so"]["reproduced"]
    assert so["high"] + 1.0 == pytest.approx(73.25 + _t95(3) * 0.25 / math.sqrt(3) + 1.0)
    assert so["high"] + 1.0 < 75.0 and cells["simclr", "so"]["verdict"] == verdicts.OUTSIDE
    assert cells["byol", "none"]["verdict"] == verdicts.DIVERGED                 # NaN loss
    assert cells["byol", "so"]["verdict"] == "inconclusive (1 seed)"             # 58.5 vs 58
    assert cells["voc", "none"]["verdict"] == verdicts.NOT_RUN
    assert "not implemented yet: voc0712 (dataset)" in cells["voc", "none"]["reason"]
    # Claims on the paired differences 73.25 - 70.8, 73.0 - 71.0, 73.5 - 71.2 (by seed)
    gain, helps = data["claims"]
    diffs = [73.25 - 70.8, 73.0 - 71.0, 73.5 - 71.2]
    assert gain["paired"]["values"] == pytest.approx(diffs)
    stats = pytest.importorskip("scipy.stats")
    low, high = stats.t.interval(0.95, 2, loc=sum(diffs) / 3, scale=stats.sem(diffs))
    assert (gain["paired"]["low"], gain["paired"]["high"]) == pytest.approx((low, high))
    assert low < 3.0 - 1.0 <= high and gain["verdict"] == "inconclusive (interval spans +2.00)"
    assert low > 0 and helps["verdict"] == verdicts.CLAIM_HOLDS
    assert score["total"] == {"published_cells": 5, "compared_cells": 2, "within": 1,
                              "outside": 1, "inconclusive": 1, "protocol_differs": 0,
                              "diverged": 1, "claims": 2, "claims_compared": 1,
                              "claims_reproduced": 1, "claims_failed": 0,
                              "claims_inconclusive": 1}
    csv_lines = (results / "tables" / "toy.csv").read_text().splitlines()
    assert csv_lines[0].split(",") == render.CSV_COLUMNS and len(csv_lines) == 1 + 6
    board = (results / "leaderboard.md").read_text()
    assert board.startswith("# Leaderboard, profile `smoke`")
    assert "conclusive verdicts only (3 or more seeds" in board
    assert "**1 of 2**" in board and "(1 diverged)" in board
    index = (tmp_path / "results" / "README.md").read_text()
    assert "[Leaderboard](smoke/leaderboard.md)" in index and "[toy](smoke/tables/toy.md)" in index
    assert not list(results.rglob(".*.tmp"))


def test_table_header_states_method_tolerance_probe_and_hardware(tmp_path):
    params, bench, results = _toy_project(tmp_path)
    render_profile(params, bench, results)
    header = (results / "tables" / "toy.md").read_text().split("\n\n| Row")[0]
    assert "95% Student t confidence interval (n − 1 degrees of freedom)" in header
    assert "lo − 1 ≤ p ≤ hi + 1" in header, "the tolerance rule stays visible"
    assert "- Probe (published → reproduced): none top-1, SO top-1, claims: offline → offline." in header
    assert "- Hardware: CPU, 2 cores (8 runs); results are bitwise reproducible only on the same hardware type" in header


def test_a_published_online_probe_is_compared_offline_and_marked(tmp_path):
    params, bench, results = _toy_project(tmp_path)
    (bench / "tables" / "toy.yaml").write_text(yaml.safe_dump(dict(TOY_TABLE, probe="online")))
    score = render_profile(params, bench, results)
    data = json.loads((results / "tables" / "toy.json").read_text())
    cell = next(c for c in data["cells"] if (c["row"], c["column"]) == ("simclr", "none"))
    assert cell["probe"] == {"published": "online", "reproduced": "offline"}
    assert cell["protocol"] == "protocol differs: published online, reproduced offline"
    assert cell["verdict"] == verdicts.WITHIN  # compared, not dropped
    md = (results / "tables" / "toy.md").read_text()
    assert "| within tolerance; protocol differs: published online, reproduced offline |" in md
    assert score["total"]["protocol_differs"] == 2  # the two conclusive cells


@pytest.mark.parametrize("probe,message", [
    (None, "probe: missing; columns[0] (linear_top1) is a linear probe's"),
    ("linear", "probe: unknown probe 'linear'; valid: online, offline, knn, unknown"),
])
def test_a_linear_probe_table_must_name_its_probe(tmp_path, probe, message):
    table = {k: v for k, v in TOY_TABLE.items() if k != "probe"}
    if probe is not None:
        table["probe"] = probe
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(table))
    with pytest.raises(UsageError, match=re.escape(message)):
        table_specs.load_table(path)


def test_every_repository_table_names_the_probe_of_its_published_numbers():
    """From each file's own protocol text: solo-learn's tables are online probes, the OR paper's
    A.6 tables offline, unknown where the source does not say (never guessed)."""
    tables = {t.id: t for t in table_specs.load_tables(REPO / "benchmarks" / "tables")}
    assert tables["solo_learn_cifar"].probe == "online"
    assert {c.id: c.probe for c in tables["solo_learn_imagenet100"].columns} == {
        "online_top1": "online", "offline_top1": "offline"}
    assert {tables[t].probe for t in ("or_t1", "or_t2", "or_t3", "or_t8")} == {"offline"}
    assert {tables[t].probe for t in ("or_t4", "or_t5", "or_t7")} == {"unknown"}
    for t in tables.values():
        for c in t.columns:
            assert (c.probe is None) == (c.metric not in table_specs.REPRODUCED_PROBE), (t.id, c.id)
    assert not [p for p in (REPO / "benchmarks").rglob("*.yaml")
                if "shared/reference" in p.read_text()], "cite the paper, not a file outside the repo"


def test_smoke_rendering_is_inconclusive_with_one_seed(tmp_path):
    """The repository's smoke results (one seed per run) rendered afresh: no claim holds or
    fails, every claim with runs is `inconclusive (1 seed)`."""
    smoke = REPO / "results" / "smoke"
    results = tmp_path / "smoke"
    for name in ("pretrain_summary.json", "provenance.json"):
        (results).mkdir(exist_ok=True)
        shutil.copy(smoke / name, results / name)
    for metrics in (smoke / "runs").glob("*/metrics.json"):
        (results / "runs" / metrics.parent.name).mkdir(parents=True)
        shutil.copy(metrics, results / "runs" / metrics.parent.name / "metrics.json")
    score = render_profile(REPO / "params.yaml", REPO / "benchmarks", results)
    study = json.loads((results / "tables" / "fmnist_or_study.json").read_text())
    run_claims = [c for c in study["claims"] if c["reproduced_delta"] is not None]
    assert run_claims and {c["verdict"] for c in run_claims} == {"inconclusive (1 seed)"}
    assert score["total"]["claims_compared"] == 0 and score["total"]["compared_cells"] == 0
    assert score["total"]["claims_inconclusive"] == len(run_claims)
    md = (results / "tables" / "fmnist_or_study.md").read_text()
    assert "| inconclusive (1 seed) |" in md and "claim holds" not in md and "claim fails" not in md


def test_profile_not_comparable_says_so_in_the_first_line(tmp_path):
    params, bench, results = _toy_project(tmp_path, comparable=False)
    render_profile(params, bench, results)
    for path in [results / "tables" / "toy.md", results / "leaderboard.md"]:
        assert path.read_text().splitlines()[0].startswith(
            "**Not comparable to the published protocol: profile `smoke`")


def test_truncated_metrics_is_never_read_as_done(tmp_path):
    params, bench, results = _toy_project(tmp_path)
    (results / "runs" / "simclr_so_s0" / "metrics.json").write_text('{"status": "evalu')
    render_profile(params, bench, results)
    data = json.loads((results / "tables" / "toy.json").read_text())
    cell = next(c for c in data["cells"] if c["row"] == "simclr" and c["column"] == "so")
    assert cell["reproduced"]["seeds"] == [1, 2] and cell["verdict"] == "inconclusive (2 seeds)"


# ---------------------------------------------------------------------------- bad input


def _mutate(table: dict, path: str, value) -> dict:
    table = json.loads(json.dumps(table))
    node, keys = table, path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[int(keys[-1]) if isinstance(node, list) else keys[-1]] = value
    return table


_DELETE = object()


@pytest.mark.parametrize("path,value,message", [
    ("title", _DELETE, "title: missing"),
    ("tolerance", "one", "tolerance: expected float"),
    ("tolerance", -1, "tolerance: must be >= 0"),
    ("columns.0.metric", "top1", "columns[0].metric: unknown metric 'top1'"),
    ("rows.0.run.method", "simclr2", "rows[0].run.method: unknown method 'simclr2'"),
    ("rows.0.published.nosuch", 1.0, "rows[0].published.nosuch: no such column"),
    ("rows.0.published.none", "71", "rows[0].published.none: expected float"),
    ("rows.1.id", "simclr", "row id 'simclr' appears twice"),
    ("claims.0.delta", _DELETE, "claims[0].sign: give 'delta'"),
    ("defaults.seed", 3, "defaults.seed: unknown field"),
    ("probe", _DELETE, "probe: missing; columns[0] (linear_top1) is a linear probe's"),
    ("columns.0.probe", "linear", "columns[0].probe: unknown probe 'linear'"),
])
def test_malformed_table_exits_2_naming_file_and_field_and_writes_nothing(
        tmp_path, capsys, path, value, message):
    params, bench, results = _toy_project(tmp_path)
    table_file = bench / "tables" / "toy.yaml"
    table_file.write_text(yaml.safe_dump(_mutate(TOY_TABLE, path, value)))
    before = sorted(p for p in tmp_path.rglob("*"))
    code = main(["tables", "--params", str(params), "--benchmarks", str(bench),
                 "--results", str(results), "--index", str(tmp_path / "results" / "README.md")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert str(table_file) in err and message in err
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_unparseable_table_file(tmp_path):
    params, bench, results = _toy_project(tmp_path)
    (bench / "tables" / "toy.yaml").write_text("rows: [unclosed\n")
    with pytest.raises(UsageError, match="toy.yaml: not valid YAML at line 2"):
        render_profile(params, bench, results)


def test_params_of_another_profile_are_refused(tmp_path):
    params, bench, results = _toy_project(tmp_path)
    data = yaml.safe_load(params.read_text())
    data["profile"] = "cifar100"  # what `dvc exp run -S profile=cifar100` would do
    params.write_text(yaml.safe_dump(data))
    shutil.copy(REPO / "benchmarks" / "profiles" / "cifar100.yaml", bench / "profiles")
    with pytest.raises(UsageError, match="ortho-suite profile cifar100"):
        render_profile(params, bench, results)


# ---------------------------------------------------------------------------- profiles


def test_repository_params_are_the_smoke_profile():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params == params_of(load_profile("smoke", REPO / "benchmarks" / "profiles"))


def test_profile_switch_keeps_the_machines_launch_section(tmp_path):
    """`launch` says how this machine starts each pretraining command (torchrun, srun): a
    machine setting that selecting another profile must not reset."""
    params, profiles = tmp_path / "params.yaml", REPO / "benchmarks" / "profiles"
    write_params("smoke", params, profiles)
    data = yaml.safe_load(params.read_text())
    assert data["launch"] == DEFAULT_LAUNCH
    data["launch"] = {"prefix": "srun --ntasks 8", "launcher": "slurm"}
    params.write_text(yaml.safe_dump(data))
    write_params("cifar100", params, profiles)
    data = yaml.safe_load(params.read_text())
    assert data["profile"] == "cifar100"
    assert data["launch"] == {"prefix": "srun --ntasks 8", "launcher": "slurm"}
    cmd = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["pretrain"]["do"]["cmd"]
    assert cmd.startswith("${launch.prefix} ortho-suite pretrain --launcher ${launch.launcher}")
    # every run names the recipe it trains with, and the pretrain stages pass it on
    assert "--recipe ${item.recipe}" in cmd
    assert {run["recipe"] for run in data["runs"].values()} == {"paper"}
    write_params("cifar10", params, profiles)
    recipes = {run_id: run["recipe"] for run_id, run in yaml.safe_load(params.read_text())["runs"].items()}
    assert {r for run_id, r in recipes.items() if "lightly" in run_id} == {"lightly"}
    assert "paper" in recipes.values()


@pytest.mark.parametrize("name", ["smoke", "fmnist", "cifar10", "cifar100", "imagenet100", "imagenet"])
def test_every_profile_run_composes_a_valid_config(name, tmp_path):
    profile = load_profile(name, REPO / "benchmarks" / "profiles")
    for run_id, run in profile_runs(profile).items():
        cfg = compose.compose_config(RunSpec(run["method"], run["backbone"], run["dataset"], reg=run["reg"], seed=run["seed"], epochs=run["epochs"], aug=run["aug"], cfg_options=run["cfg_options"].split()), tmp_path / run_id)
        assert cfg.train_cfg.max_epochs == run["epochs"]


def test_paper_profiles_fill_paper_cells_and_smoke_fills_none(tmp_path):
    """Every run of a paper profile lands in at least one paper-table cell or claim; the smoke
    profile's runs land only in the suite's own Fashion-MNIST table."""
    tables = table_specs.load_tables(REPO / "benchmarks" / "tables")
    for name in ["smoke", "cifar10", "cifar100", "imagenet100", "imagenet"]:
        profile = load_profile(name, REPO / "benchmarks" / "profiles")
        for run_id, run in profile["runs"].items():
            spec = {**{k: run[k] for k in ("method", "reg", "backbone", "dataset", "epochs")},
                    "variant": run.get("variant", DEFAULT_VARIANT)}
            used_by = set()
            for t in tables:
                specs = [table_specs.cell_spec(t, r, c) for r in t.rows for c in t.columns]
                specs += [s for c in t.claims for s in [table_specs.claim_specs(t, c)[0], *table_specs.claim_specs(t, c)[1]]]
                if any(all(spec.get(k) == v for k, v in {"variant": "standard", **s}.items())
                       for s in specs):
                    used_by.add(t.id)
            if name == "smoke":
                assert used_by <= {"fmnist_or_study"}, (run_id, used_by)
            else:
                assert used_by - {"fmnist_or_study"}, f"{name}: {run_id} fills no paper table"


# ---------------------------------------------------------------------------- seeds


def _seeded_profile(tmp_path: Path, **changes) -> Path:
    """A copy of the fmnist profile with two runs and ``changes`` to its top level."""
    data = yaml.safe_load((REPO / "benchmarks" / "profiles" / "fmnist.yaml").read_text())
    data["runs"] = dict(list(data["runs"].items())[:2])
    data.update(changes)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "fmnist.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return tmp_path / "profiles"


def test_a_profile_with_seeds_trains_every_run_once_per_seed(tmp_path):
    profiles = _seeded_profile(tmp_path, seeds=[0, 1, 2])
    profile = load_profile("fmnist", profiles)
    written = profile["runs"]
    runs = profile_runs(profile)
    assert list(runs) == [f"{r}_s{s}" for r in written for s in (0, 1, 2)]
    for run_id, run in written.items():
        for seed in (0, 1, 2):
            seeded = runs[f"{run_id}_s{seed}"]
            assert seeded == {**run, "seed": seed}, "the seeds differ in the seed only"
            assert list(seeded) == ["method", "reg", "backbone", "dataset", "aug", "seed",
                                    "epochs", "cfg_options"], "params.yaml's field order"
    params = write_params("fmnist", tmp_path / "params.yaml", profiles)
    assert params["runs"] == {run_id: {**run, "recipe": "paper"} for run_id, run in runs.items()}
    assert set(check_params(tmp_path / "params.yaml", profiles)["specs"]) == set(runs)
    assert {spec.seed for spec in check_params(tmp_path / "params.yaml", profiles)["specs"]
            .values()} == {0, 1, 2}


@pytest.mark.parametrize("seeds,message", [
    ([0, 0, 1], "seeds: expected a list of distinct non-negative integers"),
    ([0, -1], "seeds: expected a list of distinct non-negative integers"),
    ("0, 1, 2", "seeds: expected a list of distinct non-negative integers"),
    ([], "seeds: expected a list of distinct non-negative integers"),
])
def test_bad_seeds_are_refused(tmp_path, seeds, message):
    profiles = _seeded_profile(tmp_path, seeds=seeds)
    with pytest.raises(UsageError, match=re.escape(message)):
        load_profile("fmnist", profiles)


def test_bad_seeds_exit_2_with_one_line_and_leave_params_alone(tmp_path, capsys):
    profiles = _seeded_profile(tmp_path, seeds=[0, 0])
    params = tmp_path / "params.yaml"
    params.write_text("untouched\n")
    code = main(["profile", "fmnist", "--params", str(params), "--benchmarks", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "seeds: expected a list" in err, err
    assert params.read_text() == "untouched\n"


def test_a_run_of_a_seeded_profile_gives_no_seed_of_its_own(tmp_path):
    data = yaml.safe_load((REPO / "benchmarks" / "profiles" / "fmnist.yaml").read_text())
    first = next(iter(data["runs"]))
    runs = {first: {**data["runs"][first], "seed": 4}}
    profiles = _seeded_profile(tmp_path, seeds=[0, 1, 2], runs=runs)
    with pytest.raises(UsageError, match=re.escape(f"runs.{first}.seed: the profile's seeds")):
        load_profile("fmnist", profiles)


def test_claiming_profiles_run_three_seeds_of_every_cell_and_smoke_one():
    for name in ["fmnist", "cifar10", "cifar100", "imagenet100", "imagenet"]:
        profile = load_profile(name, REPO / "benchmarks" / "profiles")
        assert len(profile["seeds"]) >= verdicts.MIN_SEEDS, name
        runs = profile_runs(profile)
        cells: dict[tuple, set] = {}
        for run in runs.values():
            key = tuple(run.get(k, DEFAULT_VARIANT) for k in
                        ("method", "reg", "backbone", "dataset", "epochs", "variant"))
            cells.setdefault(key, set()).add(run["seed"])
        assert all(len(s) >= verdicts.MIN_SEEDS for s in cells.values()), name
    smoke = load_profile("smoke", REPO / "benchmarks" / "profiles")
    assert "seeds" not in smoke and {r["seed"] for r in smoke["runs"].values()} == {0}
