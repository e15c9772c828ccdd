"""DVC's own views of the pipeline stay readable: `dvc metrics show` lists one row of headline
scalars per run (the tables stage's headline/ files), not the full records with their arrays."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ortho_suite.report.headline import HEADLINE_DIR

from .conftest import REPO

DVC = shutil.which("dvc", path=str(Path(sys.executable).parent))
HEADLINES = REPO / "results" / "smoke" / HEADLINE_DIR


def test_the_only_dvc_metrics_are_the_headline_files():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    declared = {name: [next(iter(m)) if isinstance(m, dict) else m
                       for m in stage.get("do", stage).get("metrics", [])]
                for name, stage in stages.items()}
    assert {k: v for k, v in declared.items() if v} == {
        "tables": [f"results/${{profile}}/{HEADLINE_DIR}"]}


@pytest.mark.skipif(not HEADLINES.is_dir(), reason="results/smoke/headline is not rendered "
                    "(dvc repro -s tables)")
def test_dvc_metrics_show_is_one_narrow_row_per_run():
    proc = subprocess.run([DVC, "metrics", "show"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    run_ids = yaml.safe_load((REPO / "params.yaml").read_text())["runs"]
    assert len(lines) == 1 + len(run_ids), proc.stdout
    assert max(map(len, lines)) <= 200, max(lines, key=len)
    for run_id in run_ids:
        row = next(line for line in lines if f"/{run_id}.json " in line)
        record = json.loads((HEADLINES / f"{run_id}.json").read_text())
        assert record["status"] in row
