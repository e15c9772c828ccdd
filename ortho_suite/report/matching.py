"""Matching a table's cells and claims to the evaluated runs of the active profile: each cell
takes the runs whose spec agrees with its own (one per seed), averaged over seeds, with a verdict."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .. import catalog, runs
from ..errors import UsageError
from ..runs import DEFAULT_VARIANT, RunSpec
from .table_specs import (
    MEASURED_METRICS,
    SPEC_KINDS,
    UNMEASURED_METRICS,
    Table,
    cell_spec,
    claim_specs,
)
from .verdicts import NOT_RUN, STD_FACTOR, cell_verdict, claim_verdict, mean_std


@dataclass(frozen=True)
class RunRecord:
    """One evaluated (or failed) run of the active profile, as the tables see it."""
    id: str
    spec: dict  # the cell fields of its RunSpec (runs.CELL_FIELDS)
    seed: int
    status: str  # evaluated | diverged | missing | <pretraining status>
    metrics: dict
    provenance: dict

    def value(self, metric: str) -> float | None:
        """The run's value of a table metric; None for a metric the suite does not measure."""
        if metric not in MEASURED_METRICS:
            return None
        node = runs.metric(self.metrics, metric)
        return float(node) if isinstance(node, (int, float)) else None


def matching_runs(spec: dict, runs: list[RunRecord], where: str) -> list[RunRecord]:
    """The runs whose spec agrees with every field of ``spec`` (variant defaults to standard).
    Two matches with the same seed are ambiguous and an error."""
    wanted = {"variant": DEFAULT_VARIANT, **spec}
    found = [r for r in runs if all(r.spec.get(k) == v for k, v in wanted.items())]
    seeds = [r.seed for r in found]
    if len(set(seeds)) != len(seeds):
        ids = ", ".join(r.id for r in found)
        raise UsageError(f"{where}: runs {ids} match the same cell with the same seed; give them "
                         f"different seeds or a 'variant' in params.yaml")
    return found


def load_runs(specs: dict[str, RunSpec], results_dir: str | Path) -> list[RunRecord]:
    """The runs of the active profile (``specs``: run id -> RunSpec, from ``params.yaml``) with
    their metrics and provenance.

    A run counts as evaluated only when ``runs/<id>/metrics.json`` is complete with status
    ``evaluated``; a pretraining record that diverged (runs.train_status) marks it diverged.
    """
    results_dir = Path(results_dir)
    summary_path = results_dir / runs.PRETRAIN_SUMMARY_FILE
    summaries = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    prov_path = results_dir / runs.PROVENANCE_FILE
    provenance = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    records = []
    for run_id, spec in specs.items():
        status = runs.train_status(summaries.get(run_id))
        metrics = None
        if status != runs.DIVERGED:
            metrics = runs.read_metrics(results_dir / runs.RUNS_DIR / run_id)
            status = runs.EVALUATED if metrics is not None else status
        records.append(RunRecord(run_id, spec.cell(), int(spec.seed), status, metrics or {},
                                 provenance.get(run_id, {})))
    return records


def _not_run_reason(spec: dict, metric: str, profile: str) -> str:
    if metric in UNMEASURED_METRICS:
        return f"not measured by the suite: {UNMEASURED_METRICS[metric]}"
    planned = [f"{spec[k]} ({k})" for k, kind in SPEC_KINDS.items()
               if k in spec and spec[k] in catalog.PLANNED.get(kind, {})]
    if planned:
        return "not implemented yet: " + ", ".join(planned)
    return f"no run with this spec in profile {profile}"


def _runs_summary(found: list[RunRecord], metric: str):
    diverged = any(r.status == runs.DIVERGED for r in found)
    values = [v for r in found if r.status == runs.EVALUATED for v in [r.value(metric)]
              if v is not None]
    return values, diverged


def evaluate_table(table: Table, runs: list[RunRecord], profile: str) -> dict:
    """Every cell and claim of ``table`` against ``runs``: a JSON-ready record."""
    cells = []
    for row in table.rows:
        for col in table.columns:
            spec = cell_spec(table, row, col)
            found = matching_runs(spec, runs, f"{table.path}: rows.{row.id} x columns.{col.id}")
            values, diverged = _runs_summary(found, col.metric)
            printed = row.published.get(col.id)
            published = None if printed is None else printed * col.scale
            verdict = cell_verdict(values, published, col.tolerance, diverged)
            mean, std = mean_std(values) if values else (None, None)
            cells.append({
                "row": row.id, "row_label": row.label, "column": col.id,
                "column_label": col.label, "metric": col.metric, "spec": spec,
                "published_as_printed": printed, "published": published,
                "reproduced": None if mean is None else
                {"mean": mean, "std": std, "n": len(values), "values": values},
                "delta": None if mean is None or published is None else mean - published,
                "verdict": verdict, "runs": [r.id for r in found],
                "reason": _not_run_reason(spec, col.metric, profile) if verdict == NOT_RUN
                and not found else None})
    claims = []
    for claim in table.claims:
        base_spec, treat_specs = claim_specs(table, claim)
        base = matching_runs(base_spec, runs, f"{table.path}: claims.{claim.id}")
        base_values, base_div = _runs_summary(base, claim.metric)
        for spec in treat_specs:
            treat = matching_runs(spec, runs, f"{table.path}: claims.{claim.id}")
            treat_values, treat_div = _runs_summary(treat, claim.metric)
            verdict = claim_verdict(base_values, treat_values, claim.delta, claim.sign,
                                    table.tolerance, base_div or treat_div)
            reproduced = (mean_std(treat_values)[0] - mean_std(base_values)[0]
                          if base_values and treat_values else None)
            missing = spec if not treat else base_spec
            claims.append({
                "claim": claim.id, "text": claim.text, "where": claim.where,
                "metric": claim.metric, "baseline": base_spec, "treatment": spec,
                "claimed_delta": claim.delta, "claimed_sign": claim.sign,
                "reproduced_delta": reproduced, "verdict": verdict,
                "runs": {"baseline": [r.id for r in base], "treatment": [r.id for r in treat]},
                "reason": _not_run_reason(missing, claim.metric, profile)
                if verdict == NOT_RUN else None})
    counts: dict[str, int] = {}
    for item in [*cells, *claims]:
        counts[item["verdict"]] = counts.get(item["verdict"], 0) + 1
    used = sorted({r for c in cells for r in c["runs"]} |
                  {r for c in claims for side in c["runs"].values() for r in side})
    by_id = {r.id: r for r in runs}
    return {"table": table.id, "title": table.title, "paper": table.paper,
            "source": table.source, "protocol": table.protocol, "tolerance": table.tolerance,
            "std_factor": STD_FACTOR, "unavailable": table.unavailable, "note": table.note,
            "definition": str(table.path), "profile": profile, "counts": counts,
            "published_cells": sum(c["published"] is not None for c in cells),
            "cells": cells, "claims": claims,
            "runs": {rid: {"seed": by_id[rid].seed, "status": by_id[rid].status,
                           **by_id[rid].provenance} for rid in used}}
