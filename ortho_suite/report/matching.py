"""Matching a table's cells and claims to the evaluated runs of the active profile: each cell
takes the runs whose spec agrees with its own (one per seed), their mean and interval over seeds,
with a verdict; a claim pairs its baseline's and treatment's runs by seed."""
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
    REPRODUCED_PROBE,
    cell_spec,
    claim_specs,
    protocol_note,
)
from .verdicts import (
    CONFIDENCE,
    MIN_SEEDS,
    NOT_RUN,
    cell_verdict,
    claim_verdict,
    interval,
)


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


def _seed_values(found: list[RunRecord], metric: str) -> dict[int, float]:
    """Seed -> value of the evaluated runs among ``found`` (seeds are unique: matching_runs)."""
    return {r.seed: v for r in sorted(found, key=lambda r: r.seed) if r.status == runs.EVALUATED
            for v in [r.value(metric)] if v is not None}


def _runs_summary(found: list[RunRecord], metric: str):
    diverged = any(r.status == runs.DIVERGED for r in found)
    return list(_seed_values(found, metric).values()), diverged


def paired_differences(baseline: list[RunRecord], treatment: list[RunRecord],
                       metric: str) -> dict:
    """Treatment minus baseline for every seed both sides evaluated (the runs of a pair differ
    only in the fields the claim changes, since each side matched its own spec), in seed order;
    ``unpaired``: the evaluated runs whose seed the other side lacks."""
    base, treat = _seed_values(baseline, metric), _seed_values(treatment, metric)
    seeds = sorted(set(base) & set(treat))
    by_seed = {(side, r.seed): r.id for side, found in (("b", baseline), ("t", treatment))
               for r in found}
    unpaired = sorted([by_seed["b", s] for s in set(base) - set(treat)]
                      + [by_seed["t", s] for s in set(treat) - set(base)])
    return {"seeds": seeds, "differences": [treat[s] - base[s] for s in seeds],
            "unpaired": unpaired}


def _reproduced(values: list[float], seeds: list[int]) -> dict | None:
    return None if not values else {**interval(values), "values": values, "seeds": seeds}


def evaluate_table(table: Table, runs: list[RunRecord], profile: str) -> dict:
    """Every cell and claim of ``table`` against ``runs``: a JSON-ready record."""
    cells = []
    for row in table.rows:
        for col in table.columns:
            spec = cell_spec(table, row, col)
            found = matching_runs(spec, runs, f"{table.path}: rows.{row.id} x columns.{col.id}")
            seed_values = _seed_values(found, col.metric)
            values, diverged = _runs_summary(found, col.metric)
            printed = row.published.get(col.id)
            published = None if printed is None else printed * col.scale
            verdict = cell_verdict(values, published, col.tolerance, diverged)
            rep = _reproduced(values, list(seed_values))
            cells.append({
                "row": row.id, "row_label": row.label, "column": col.id,
                "column_label": col.label, "metric": col.metric, "spec": spec,
                "published_as_printed": printed, "published": published,
                "probe": {"published": col.probe,
                          "reproduced": REPRODUCED_PROBE.get(col.metric)},
                "protocol": protocol_note(col.probe, col.metric),
                "reproduced": rep,
                "delta": None if rep is None or published is None else rep["mean"] - published,
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
            paired = paired_differences(base, treat, claim.metric)
            verdict = claim_verdict(paired["differences"], claim.delta, claim.sign,
                                    table.tolerance, base_div or treat_div,
                                    runs_missing=not base_values or not treat_values)
            rep = _reproduced(paired["differences"], paired["seeds"])
            missing = spec if not treat else base_spec
            claims.append({
                "claim": claim.id, "text": claim.text, "where": claim.where,
                "metric": claim.metric, "baseline": base_spec, "treatment": spec,
                "claimed_delta": claim.delta, "claimed_sign": claim.sign,
                "probe": {"published": claim.probe,
                          "reproduced": REPRODUCED_PROBE.get(claim.metric)},
                "protocol": protocol_note(claim.probe, claim.metric),
                "reproduced_delta": None if rep is None else rep["mean"],
                "paired": rep, "unpaired": paired["unpaired"], "verdict": verdict,
                "runs": {"baseline": [r.id for r in base], "treatment": [r.id for r in treat]},
                "reason": _not_run_reason(missing, claim.metric, profile)
                if verdict == NOT_RUN and not (base and treat) else None})
    counts: dict[str, int] = {}
    for item in [*cells, *claims]:
        counts[item["verdict"]] = counts.get(item["verdict"], 0) + 1
    used = sorted({r for c in cells for r in c["runs"]} |
                  {r for c in claims for side in c["runs"].values() for r in side})
    by_id = {r.id: r for r in runs}
    return {"table": table.id, "title": table.title, "paper": table.paper,
            "source": table.source, "protocol": table.protocol, "probe": table.probe,
            "tolerance": table.tolerance, "confidence": CONFIDENCE, "min_seeds": MIN_SEEDS,
            "unavailable": table.unavailable, "note": table.note,
            "definition": str(table.path), "profile": profile, "counts": counts,
            "published_cells": sum(c["published"] is not None for c in cells),
            "cells": cells, "claims": claims,
            "runs": {rid: {"seed": by_id[rid].seed, "status": by_id[rid].status,
                           **by_id[rid].provenance} for rid in used}}
