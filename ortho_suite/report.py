"""Render the pretraining runs of a profile into versioned result files.

Reads ``<runs_dir>/<run-id>/summary.json`` (written by :mod:`ortho_suite.pretrain`) and writes
``<out_dir>/pretrain_summary.md`` (a markdown table) and ``<out_dir>/pretrain_summary.json``
(DVC metrics: one flat record per run). A run directory without a summary is reported as
missing, never read as done.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .errors import UsageError
from .provenance import atomic_write_json, atomic_write_text
from .pretrain import SUMMARY_FILE

COLUMNS = ["run", "method", "reg", "backbone", "dataset", "seed", "epochs", "iterations",
           "loss_first", "loss_last", "reg_penalty_first", "reg_penalty_last", "status",
           "wall_time_s", "config_sha256"]


def collect_runs(runs_dir: Path, run_ids: list[str]) -> pd.DataFrame:
    """One row per expected run id; ``status`` is ``missing`` where no summary was written."""
    rows = []
    for run_id in run_ids:
        path = Path(runs_dir) / run_id / SUMMARY_FILE
        if not path.is_file():
            rows.append({"run": run_id, "status": "missing"})
            continue
        summary = json.loads(path.read_text())
        rows.append({"run": run_id, **{k: summary.get(k) for k in COLUMNS if k != "run"}})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["config_sha256"] = frame["config_sha256"].str.slice(0, 12)
    return frame


def render_markdown(frame: pd.DataFrame, profile: str, note: str) -> str:
    # tabulate treats None as missing but prints NaN as "nan": turn NaN into None first.
    table = frame.astype(object).where(frame.notna(), None).to_markdown(
        index=False, floatfmt=".4f", missingval="-")
    return f"# Pretraining runs, profile `{profile}`\n\n{note}\n\n{table}\n"


def write_summary(runs_dir: Path, run_ids: list[str], out_dir: Path, profile: str,
                  note: str) -> pd.DataFrame:
    if not run_ids:
        raise UsageError("no runs to summarize; list them under 'runs:' in params.yaml")
    frame = collect_runs(runs_dir, run_ids)
    out_dir = Path(out_dir)
    metrics = {row["run"]: {k: row[k] for k in ("loss_first", "loss_last", "reg_penalty_last",
                                                "iterations", "wall_time_s", "status")}
               for row in json.loads(frame.to_json(orient="records"))}
    atomic_write_json(out_dir / "pretrain_summary.json", metrics)
    atomic_write_text(out_dir / "pretrain_summary.md", render_markdown(frame, profile, note))
    return frame
