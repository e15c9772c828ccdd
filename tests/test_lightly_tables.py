"""LightlySSL's CIFAR-10 table and OR Table 4's CIFAR-10 rows against the cifar10 profile's runs,
matched without training (no results: every cell finds its runs, none is 'no run with this spec')."""
from __future__ import annotations

from ortho_suite import profiles
from ortho_suite.report.matching import evaluate_table, load_runs
from ortho_suite.report.table_specs import load_table

from .conftest import REPO

PROFILES, TABLES = REPO / "benchmarks" / "profiles", REPO / "benchmarks" / "tables"


def _evaluate(table: str, tmp_path) -> dict:
    runs = profiles.profile_runs(profiles.load_profile("cifar10", PROFILES))
    specs = profiles.validate_runs(PROFILES / "cifar10.yaml", runs)
    return evaluate_table(load_table(TABLES / f"{table}.yaml"), load_runs(specs, tmp_path), "cifar10")


def test_every_lightly_cifar10_cell_and_or_t4_cifar10_cell_has_its_runs(tmp_path):
    lightly = _evaluate("lightly_cifar10", tmp_path)
    assert len(lightly["cells"]) == 30
    for cell in lightly["cells"]:
        assert cell["reason"] is None and len(cell["runs"]) == 3, cell  # three seeds each
        epochs = 800 if cell["column"] == "knn_800ep" else 200
        assert all(r.endswith(f"_lightly{epochs}_s{s}") for r, s in zip(cell["runs"], (0, 1, 2)))
    # OR Table 4: its CIFAR-10 rows and claims (pinned to the 200-epoch runs); the other datasets'
    # rows are other profiles' (variant lightly) and are not checked here.
    t4 = _evaluate("or_t4", tmp_path)
    cells = [c for c in t4["cells"] if c["spec"]["dataset"] == "cifar10"]
    claims = [c for c in t4["claims"] if c["baseline"]["dataset"] == "cifar10"]
    assert len(cells) == 20 and len(claims) == 10
    for cell in cells:
        assert cell["reason"] is None and len(cell["runs"]) == 3, cell
        assert all("_lightly200_" in r for r in cell["runs"])
    for claim in claims:
        assert claim["reason"] is None, claim
        assert [len(v) for v in claim["runs"].values()] == [3, 3]
        assert all("_lightly200_" in r for v in claim["runs"].values() for r in v)
