"""Render the runs of a profile into versioned result files.

Reads ``<runs_dir>/<run-id>/summary.json`` (pretraining, :mod:`ortho_suite.pretrain`) and, where
present, ``<out_dir>/runs/<run-id>/metrics.json`` (evaluation, :mod:`ortho_suite.evaluate`), and
writes ``<out_dir>/pretrain_summary.md`` (a markdown table), ``<out_dir>/pretrain_summary.json``
(DVC metrics: one flat record per run), ``<out_dir>/provenance.json`` (config hash, commit,
packages, hardware per run) and, for every group of runs that differ only in their
regularizer, overlaid eigenspectra under ``<out_dir>/figures/<group>/``. A run directory
without a summary is reported as missing, never read as done.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from .errors import UsageError
from .provenance import atomic_write_json, atomic_write_text
from .evaluate import METRICS_FILE, SPECTRA_FILE, compare_spectra
from .pretrain import SUMMARY_FILE
from .tables import PROVENANCE_FILE

PRETRAIN_COLUMNS = ["method", "reg", "backbone", "dataset", "aug", "seed", "epochs", "iterations",
                    "loss_first", "loss_last", "reg_penalty_first", "reg_penalty_last", "status",
                    "wall_time_s", "config_sha256"]
EVAL_COLUMNS = ["probe_top1", "knn_top1", "repr_effective_rank", "repr_collapsed_dims",
                "weights_mean_so"]
COLUMNS = ["run", *PRETRAIN_COLUMNS, *EVAL_COLUMNS]
GROUP_KEYS = ("method", "backbone", "dataset", "aug", "seed", "epochs")


def _evaluation_fields(path: Path) -> dict:
    if not path.is_file():
        return {}
    m = json.loads(path.read_text())
    if m.get("status") != "evaluated":  # a diverged run records no metrics
        return {}
    return {"probe_top1": m["linear_probe"]["top1"], "knn_top1": m["knn_cosine_k200_top1"],
            "repr_effective_rank": m["representation"]["effective_rank"],
            "repr_collapsed_dims": m["representation"]["collapsed_dims"],
            "weights_mean_so": m["weights_mean_so_penalty"]}


def collect_runs(runs_dir: Path, run_ids: list[str], results_dir: Path | None = None) -> pd.DataFrame:
    """One row per expected run id; ``status`` is ``missing`` where no summary was written.
    Evaluation columns are filled from ``results_dir/runs/<run-id>/metrics.json`` when present."""
    rows = []
    for run_id in run_ids:
        path = Path(runs_dir) / run_id / SUMMARY_FILE
        if not path.is_file():
            rows.append({"run": run_id, "status": "missing"})
            continue
        summary = json.loads(path.read_text())
        row = {"run": run_id, **{k: summary.get(k) for k in PRETRAIN_COLUMNS}}
        loss = row.get("loss_last")
        if row["status"] == "finished" and (loss is None or not math.isfinite(loss)):
            row["status"] = "diverged"  # a non-finite loss (JSON writes NaN as null downstream)
        if results_dir is not None:
            row.update(_evaluation_fields(Path(results_dir) / "runs" / run_id / METRICS_FILE))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["config_sha256"] = frame["config_sha256"].str.slice(0, 12)
    return frame


PROVENANCE_FIELDS = ("seed", "recipe", "config_sha256", "git_commit", "packages", "hardware",
                     "wall_time_s", "world_size", "batch_size_global", "batch_size_per_process",
                     "resumed_from")


def collect_provenance(runs_dir: Path, run_ids: list[str]) -> dict:
    """What each run's result traces back to (config hash, commit, packages, hardware, wall time),
    kept in results/ so the tables can cite it without the work dirs."""
    out = {}
    for run_id in run_ids:
        path = Path(runs_dir) / run_id / SUMMARY_FILE
        if path.is_file():
            summary = json.loads(path.read_text())
            out[run_id] = {k: summary.get(k) for k in PROVENANCE_FIELDS}
    return out


def render_markdown(frame: pd.DataFrame, profile: str, note: str) -> str:
    # tabulate treats None as missing but prints NaN as "nan": turn NaN into None first.
    table = frame.astype(object).where(frame.notna(), None).to_markdown(
        index=False, floatfmt=".4f", missingval="-")
    return f"# Pretraining runs, profile `{profile}`\n\n{note}\n\n{table}\n"


def regularizer_groups(frame: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """Runs that differ only in their regularizer: {group name: [(reg, run id), ...]}, for
    groups of two or more finished runs."""
    groups: dict[tuple, list[tuple[str, str]]] = {}
    for row in frame.to_dict(orient="records"):
        if row["status"] != "finished":  # missing, or diverged (no spectra)
            continue
        groups.setdefault(tuple(row[k] for k in GROUP_KEYS), []).append((row["reg"], row["run"]))
    return {"_".join(str(v) for v in key): members for key, members in groups.items()
            if len(members) > 1}


def write_summary(runs_dir: Path, run_ids: list[str], out_dir: Path, profile: str,
                  note: str) -> pd.DataFrame:
    if not run_ids:
        raise UsageError("no runs to summarize; list them under 'runs:' in params.yaml")
    out_dir = Path(out_dir)
    frame = collect_runs(runs_dir, run_ids, out_dir)
    metrics = {row["run"]: {k: row[k] for k in ("loss_first", "loss_last", "reg_penalty_last",
                                                "iterations", "wall_time_s", "status",
                                                *EVAL_COLUMNS)}
               for row in json.loads(frame.to_json(orient="records"))}
    figures = out_dir / "figures" / "spectra"
    figures.mkdir(parents=True, exist_ok=True)  # a declared output, even with nothing to overlay
    for group, members in regularizer_groups(frame).items():
        evaluated = {reg: out_dir / "runs" / run for reg, run in members
                     if (out_dir / "runs" / run / SPECTRA_FILE).is_file()}
        if len(evaluated) > 1:
            compare_spectra(evaluated, figures / group)
    atomic_write_json(out_dir / "pretrain_summary.json", metrics)
    atomic_write_json(out_dir / PROVENANCE_FILE, collect_provenance(runs_dir, run_ids))
    atomic_write_text(out_dir / "pretrain_summary.md", render_markdown(frame, profile, note))
    return frame
