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
from ortho_suite.profiles import DEFAULT_LAUNCH, load_profile, params_of, write_params
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


# ---------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize("values,published,tolerance,diverged,expected", [
    ([70.0], 71.0, 1.0, False, verdicts.WITHIN),            # |delta| == tolerance is within
    ([69.9], 71.0, 1.0, False, verdicts.OUTSIDE),
    ([72.5], 71.0, 1.0, False, verdicts.OUTSIDE),
    ([69.0, 71.0], 72.5, 1.0, False, verdicts.WITHIN),     # mean 70, std 1.414: 2.5 <= 1 + 2.83
    ([69.9, 70.1], 72.5, 1.0, False, verdicts.OUTSIDE),    # mean 70, std 0.141: 2.5 > 1.28
    ([], 71.0, 1.0, False, verdicts.NOT_RUN),
    ([70.0], None, 1.0, False, verdicts.UNAVAILABLE),
    ([70.0], 71.0, None, False, verdicts.NOT_COMPARED),
    ([70.0], 71.0, 1.0, True, verdicts.DIVERGED),          # a diverged seed outranks everything
    ([], None, 1.0, True, verdicts.DIVERGED),
])
def test_cell_verdict(values, published, tolerance, diverged, expected):
    assert verdicts.cell_verdict(values, published, tolerance, diverged) == expected


@pytest.mark.parametrize("baseline,treatment,delta,sign,diverged,expected", [
    ([70.0], [73.0], 3.0, 1, False, verdicts.WITHIN),
    ([70.0], [71.0], 3.0, 1, False, verdicts.OUTSIDE),      # +1 reproduced against a claimed +3
    ([70.0], [74.5], 3.0, 1, False, verdicts.OUTSIDE),
    ([70.0], [70.5], None, 1, False, verdicts.CLAIM_HOLDS),
    ([70.0], [70.0], None, 1, False, verdicts.CLAIM_FAILS),  # no change is not an improvement
    ([70.0], [69.0], None, -1, False, verdicts.CLAIM_HOLDS),
    ([70.0], [], None, 1, False, verdicts.NOT_RUN),
    ([70.0], [71.0], None, 1, True, verdicts.DIVERGED),
])
def test_claim_verdict(baseline, treatment, delta, sign, diverged, expected):
    assert verdicts.claim_verdict(baseline, treatment, delta, sign, 1.0, diverged) == expected


def test_mean_std_is_the_sample_standard_deviation():
    mean, std = verdicts.mean_std([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3)
    assert std == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))


# ---------------------------------------------------------------------------- rendering

TOY_TABLE = {
    "title": "Toy table", "paper": "Doe et al., Toy Paper 2030", "source": "Table 9",
    "protocol": "toy protocol; top-1 %.", "tolerance": 1.0,
    "defaults": {"backbone": "resnet18_cifar", "dataset": "synthetic", "epochs": 2},
    "columns": [{"id": "none", "label": "none top-1", "metric": "linear_top1", "run": {"reg": "none"}},
                {"id": "so", "label": "SO top-1", "metric": "linear_top1", "run": {"reg": "so"}}],
    "rows": [{"id": "simclr", "label": "SimCLR", "run": {"method": "simclr"},
              "published": {"none": 71.0, "so": 75.0}},
             {"id": "byol", "label": "BYOL", "run": {"method": "byol"}, "published": {"none": 60.0}},
             {"id": "nnclr", "label": "NNCLR", "run": {"method": "nnclr"}, "published": {"none": 50.0}}],
    "claims": [{"id": "so_gain", "text": "SO adds 3 points", "where": "Sec. 9", "metric": "linear_top1",
                "baseline": {"method": "simclr", "reg": "none"}, "treatment": {"reg": "so"},
                "delta": 3.0}],
}
TOY_RUNS = {  # run id: (method, reg, seed, linear top-1 or None for a diverged run)
    "simclr_none_s0": ("simclr", "none", 0, 70.0), "simclr_none_s1": ("simclr", "none", 1, 71.0),
    "simclr_so_s0": ("simclr", "so", 0, 73.25), "byol_none_s0": ("byol", "none", 0, None),
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


def test_rendered_cells_verdicts_csv_and_leaderboard(tmp_path):
    params, bench, results = _toy_project(tmp_path)
    score = render_profile(params, bench, results, tmp_path / "results" / "README.md")
    data = json.loads((results / "tables" / "toy.json").read_text())
    cells = {(c["row"], c["column"]): c for c in data["cells"]}
    assert cells["simclr", "none"]["reproduced"]["mean"] == 70.5          # two seeds averaged
    assert cells["simclr", "none"]["verdict"] == verdicts.WITHIN                # 0.5 <= 1 + 2 x 0.707
    assert cells["simclr", "so"]["verdict"] == verdicts.OUTSIDE                 # 73.25 vs 75
    assert cells["byol", "none"]["verdict"] == verdicts.DIVERGED                 # NaN loss
    assert cells["byol", "so"]["verdict"] == verdicts.NOT_RUN
    assert cells["nnclr", "none"]["verdict"] == verdicts.NOT_RUN
    assert "not implemented yet: nnclr (method)" in cells["nnclr", "none"]["reason"]
    (claim,) = data["claims"]
    assert claim["reproduced_delta"] == pytest.approx(2.75) and claim["verdict"] == verdicts.WITHIN
    assert score["total"] == {"published_cells": 4, "compared_cells": 2, "within": 1, "outside": 1,
                              "diverged": 1, "claims": 1, "claims_compared": 1,
                              "claims_reproduced": 1, "claims_failed": 0}
    csv_lines = (results / "tables" / "toy.csv").read_text().splitlines()
    assert csv_lines[0].split(",") == render.CSV_COLUMNS and len(csv_lines) == 1 + 6
    board = (results / "leaderboard.md").read_text()
    assert board.startswith("# Leaderboard, profile `smoke`")
    assert "**1 of 2**" in board and "(1 diverged)" in board
    index = (tmp_path / "results" / "README.md").read_text()
    assert "[Leaderboard](smoke/leaderboard.md)" in index and "[toy](smoke/tables/toy.md)" in index
    assert not list(results.rglob(".*.tmp"))


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
    assert next(c for c in data["cells"] if c["row"] == "simclr" and c["column"] == "so")[
        "verdict"] == verdicts.NOT_RUN


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


@pytest.mark.parametrize("name", ["smoke", "fmnist", "cifar10", "cifar100", "imagenet100", "imagenet"])
def test_every_profile_run_composes_a_valid_config(name, tmp_path):
    profile = load_profile(name, REPO / "benchmarks" / "profiles")
    for run_id, run in profile["runs"].items():
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
