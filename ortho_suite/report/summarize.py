"""The ``summarize`` stage: the runs of a profile rendered into versioned result files.

Reads ``<runs_dir>/<run-id>/summary.json`` (pretraining, ortho_suite/train/) and, where
present, ``<out_dir>/runs/<run-id>/metrics.json`` (evaluation, ortho_suite/evaluate/), and
writes ``<out_dir>/pretrain_summary.md`` (a markdown table), ``<out_dir>/pretrain_summary.json``
(DVC metrics: one flat record per run), ``<out_dir>/provenance.json`` (config hash, commit,
packages, hardware per run) and, for every group of runs that differ only in their
regularizer, overlaid eigenspectra under ``<out_dir>/figures/<group>/``. A run directory
without a summary is reported as missing, never read as done.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import runs
from ..errors import UsageError
from ..provenance import atomic_write_json, atomic_write_text
from ..runs import PROVENANCE_FILE, RECORD_FIELDS, SPECTRA_FILE
from .overlays import compare_spectra

PRETRAIN_COLUMNS = [*RECORD_FIELDS, "epochs", "iterations", "loss_first", "loss_last",
                    "reg_penalty_first", "reg_penalty_last", "status", "wall_time_s",
                    "config_sha256"]
# The evaluation's columns: column name -> metric (runs.METRICS).
EVAL_COLUMNS = {"probe_top1": "linear_top1", "online_top1": "online_linear_top1",
                "knn_top1": "knn200_cosine_top1",
                "repr_effective_rank": "repr_effective_rank",
                "repr_collapsed_dims": "repr_collapsed_dims",
                "weights_mean_so": "weights_mean_so_penalty"}
COLUMNS = ["run", *PRETRAIN_COLUMNS, *EVAL_COLUMNS]
# Runs that differ only in their regularizer share these (their spectra are overlaid).
GROUP_KEYS = tuple(k for k in (*RECORD_FIELDS, "epochs") if k != "reg")


def _evaluation_fields(run_results: Path) -> dict:
    metrics = runs.read_metrics(run_results)  # None for a diverged run: it records no metrics
    if metrics is None:
        return {}
    return {column: runs.metric(metrics, name) for column, name in EVAL_COLUMNS.items()}


def collect_runs(runs_dir: Path, run_ids: list[str], results_dir: Path | None = None) -> pd.DataFrame:
    """One row per expected run id; ``status`` is ``missing`` where no summary was written.
    Evaluation columns are filled from ``results_dir/runs/<run-id>/metrics.json`` when present."""
    rows = []
    for run_id in run_ids:
        summary = runs.read_summary(Path(runs_dir) / run_id)
        if summary is None:
            rows.append({"run": run_id, "status": runs.MISSING})
            continue
        row = {"run": run_id, **{k: summary.get(k) for k in PRETRAIN_COLUMNS}}
        row["status"] = runs.train_status(summary)
        if results_dir is not None:
            row.update(_evaluation_fields(Path(results_dir) / runs.RUNS_DIR / run_id))
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
        summary = runs.read_summary(Path(runs_dir) / run_id)
        if summary is not None:
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
        if row["status"] != runs.FINISHED:  # missing, or diverged (no spectra)
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
        evaluated = {reg: out_dir / runs.RUNS_DIR / run for reg, run in members
                     if (out_dir / runs.RUNS_DIR / run / SPECTRA_FILE).is_file()}
        if len(evaluated) > 1:
            compare_spectra(evaluated, figures / group)
    atomic_write_json(out_dir / runs.PRETRAIN_SUMMARY_FILE, metrics)
    atomic_write_json(out_dir / PROVENANCE_FILE, collect_provenance(runs_dir, run_ids))
    atomic_write_text(out_dir / "pretrain_summary.md", render_markdown(frame, profile, note))
    return frame
