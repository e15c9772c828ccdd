"""Paper tables: declarative definitions, published-vs-reproduced cells, verdicts, rendering.

A table file (``benchmarks/tables/<table-id>.yaml``) names its source and published protocol and
lays out rows x columns; every cell is a *run spec* (method, regularizer, backbone, dataset,
epochs, variant), a *metric* and, where the source prints one, the *published value*. Tables whose
cell values cannot be read (the OR paper's are images) also carry the prose claims of the paper as
*claimed differences* between two run specs ("+3 top-1 with OR").

Rendering matches each cell to the evaluated runs of the active profile with the same spec (one
per seed), averages them over seeds and gives a verdict. Everything read from a table file is
validated first: a malformed file stops with one line naming the file and the field.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import catalog
from .errors import UsageError

# Verdicts (the order of checks in :func:`cell_verdict` is the order of precedence).
DIVERGED = "diverged"
NOT_RUN = "not run in this profile"
UNAVAILABLE = "published value unavailable"
NOT_COMPARED = "not compared"
WITHIN = "within tolerance"
OUTSIDE = "outside tolerance"
CLAIM_HOLDS = "claim holds"
CLAIM_FAILS = "claim fails"

SPEC_FIELDS = ("method", "reg", "backbone", "dataset", "epochs", "variant")
DEFAULT_VARIANT = "standard"
# How many standard deviations over seeds widen the tolerance (0 with a single seed).
STD_FACTOR = 2.0

# What the suite measures, as a path into results/<profile>/runs/<run>/metrics.json.
MEASURED_METRICS = {
    "linear_top1": ("linear_probe", "top1"),
    "linear_top5": ("linear_probe", "top5"),
    "knn200_cosine_top1": ("knn_cosine_k200_top1",),
    "knn5_euclidean_top1": ("knn_euclidean_k5_top1",),
}
# Metrics the papers report that the suite does not measure (yet); their cells are never run.
UNMEASURED_METRICS = {
    "online_linear_top1": "online probe trained during pretraining (the suite probes offline)",
    "subvector_linear_top1": "linear probe on a sub-vector of the representation",
    "transfer_linear_top1": "linear probe on another dataset than the pretraining one",
    "voc_det_ap": "VOC07+12 detection fine-tuning (detectron2)",
    "coco_det_ap": "COCO Mask R-CNN detection fine-tuning", "coco_det_ap50": "as coco_det_ap",
    "coco_det_ap75": "as coco_det_ap", "coco_seg_ap": "COCO instance segmentation fine-tuning",
    "coco_seg_ap50": "as coco_seg_ap", "coco_seg_ap75": "as coco_seg_ap",
    "pretrain_minutes": "wall time on the publisher's GPU (reference only)",
    "or_step_seconds": "per-step OR time (see benchmarks/perf)",
}

_SPEC_KINDS = {"method": "methods", "reg": "regularizers", "backbone": "backbones",
               "dataset": "datasets"}


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    metric: str
    run: dict
    tolerance: float | None  # None: published for reference, never compared
    scale: float = 1.0  # published value x scale = percent (LightlySSL prints fractions)


@dataclass(frozen=True)
class Row:
    id: str
    label: str
    run: dict
    published: dict  # column id -> value as printed in the source


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    where: str
    metric: str
    baseline: dict
    treatments: list  # run specs; the claim is compared for each
    delta: float | None  # claimed difference (treatment - baseline), None: only its sign
    sign: int


@dataclass(frozen=True)
class Table:
    id: str
    path: Path
    title: str
    paper: str
    source: str
    protocol: str
    tolerance: float
    defaults: dict  # run-spec fields shared by every cell and claim
    columns: list
    rows: list
    claims: list = field(default_factory=list)
    unavailable: str | None = None  # why the source's cell values are missing
    note: str | None = None


# ---------------------------------------------------------------------------- loading


class _Fields:
    """Typed access to one mapping of a table file; errors name the file and the field path."""

    def __init__(self, path: Path, where: str, data):
        if not isinstance(data, dict):
            raise UsageError(f"{path}: {where or 'top level'} must be a mapping")
        self.path, self.where, self.data = path, where, data

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, problem: str) -> UsageError:
        return UsageError(f"{self.path}: {self._name(key)}: {problem}")

    def get(self, key: str, kind, required: bool = True, default=None):
        if key not in self.data:
            if required:
                raise self.fail(key, "missing; every table file needs it (see benchmarks/README.md)")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.fail(key, f"expected {getattr(kind, '__name__', kind)}, got {value!r}")
        return value

    def child(self, key: str, required: bool = True) -> "_Fields":
        return _Fields(self.path, self._name(key), self.get(key, dict, required, {}))

    def unknown(self, allowed) -> None:
        extra = sorted(set(self.data) - set(allowed))
        if extra:
            raise self.fail(extra[0], f"unknown field; allowed: {', '.join(allowed)}")


def _spec(fields: _Fields) -> dict:
    fields.unknown(SPEC_FIELDS)
    spec = {}
    for key, value in fields.data.items():
        if key == "epochs":
            spec[key] = fields.get(key, int)
            continue
        value = fields.get(key, str)
        if key in _SPEC_KINDS:
            try:
                catalog.known_or_planned(_SPEC_KINDS[key], value)
            except UsageError as err:
                raise fields.fail(key, str(err)) from None
        spec[key] = value
    return spec


def _metric(fields: _Fields, key: str = "metric") -> str:
    metric = fields.get(key, str)
    if metric not in MEASURED_METRICS and metric not in UNMEASURED_METRICS:
        raise fields.fail(key, f"unknown metric {metric!r}; valid: "
                               f"{', '.join([*MEASURED_METRICS, *UNMEASURED_METRICS])}")
    return metric


def _ids(items: list, kind: str, path: Path) -> None:
    seen = set()
    for item in items:
        if item.id in seen:
            raise UsageError(f"{path}: {kind} id {item.id!r} appears twice; ids must be unique")
        seen.add(item.id)


def load_table(path: str | Path) -> Table:
    """Read and validate one table file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{path}: not valid YAML{where}; fix the syntax") from None
    top = _Fields(path, "", data)
    top.unknown(("title", "paper", "source", "protocol", "tolerance", "defaults", "columns", "rows",
                 "claims", "unavailable", "note"))
    defaults = _spec(top.child("defaults", required=False))
    tolerance = top.get("tolerance", float)
    if tolerance < 0:
        raise top.fail("tolerance", "must be >= 0 (percentage points)")

    columns = []
    for i, raw in enumerate(top.get("columns", list)):
        c = _Fields(path, f"columns[{i}]", raw)
        c.unknown(("id", "label", "metric", "run", "compare", "scale"))
        compare = c.get("compare", bool, required=False, default=True)
        columns.append(Column(c.get("id", str), c.get("label", str), _metric(c),
                              _spec(c.child("run", required=False)),
                              tolerance if compare else None,
                              c.get("scale", float, required=False, default=1.0)))
    if not columns:
        raise top.fail("columns", "needs at least one column")
    _ids(columns, "column", path)
    column_ids = {c.id for c in columns}

    rows = []
    for i, raw in enumerate(top.get("rows", list)):
        r = _Fields(path, f"rows[{i}]", raw)
        r.unknown(("id", "label", "run", "published"))
        published = r.child("published", required=False)
        values = {}
        for key, value in published.data.items():
            if key not in column_ids:
                raise published.fail(key, f"no such column; columns: {', '.join(sorted(column_ids))}")
            values[key] = None if value is None else published.get(key, float)
        rows.append(Row(r.get("id", str), r.get("label", str), _spec(r.child("run", False)), values))
    _ids(rows, "row", path)

    claims = []
    for i, raw in enumerate(top.get("claims", list, required=False, default=[])):
        c = _Fields(path, f"claims[{i}]", raw)
        c.unknown(("id", "text", "where", "metric", "baseline", "treatment", "treatments", "delta",
                   "sign"))
        if "treatment" in c.data:
            treatments = [_spec(c.child("treatment"))]
        else:
            treatments = [_spec(_Fields(path, f"claims[{i}].treatments[{j}]", t))
                          for j, t in enumerate(c.get("treatments", list))]
        delta = c.get("delta", float, required=False)
        sign = c.get("sign", int, required=False, default=0)
        if delta is not None:
            sign = 1 if delta > 0 else -1
        if sign not in (1, -1):
            raise c.fail("sign", "give 'delta' (the claimed difference) or 'sign': 1 or -1")
        claims.append(Claim(c.get("id", str), c.get("text", str), c.get("where", str),
                            _metric(c), _spec(c.child("baseline")), treatments, delta, sign))
    _ids(claims, "claim", path)

    return Table(id=path.stem, path=path, title=top.get("title", str), paper=top.get("paper", str),
                 source=top.get("source", str), protocol=top.get("protocol", str),
                 tolerance=tolerance, defaults=defaults, columns=columns, rows=rows, claims=claims,
                 unavailable=top.get("unavailable", str, required=False),
                 note=top.get("note", str, required=False))


def load_tables(directory: str | Path) -> list[Table]:
    directory = Path(directory)
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise UsageError(f"no table files (*.yaml) in {directory}; pass --benchmarks <dir>")
    return [load_table(p) for p in paths]


def cell_spec(table: Table, row: Row, column: Column) -> dict:
    return {**table.defaults, **row.run, **column.run}


def claim_specs(table: Table, claim: Claim) -> tuple[dict, list[dict]]:
    return ({**table.defaults, **claim.baseline},
            [{**table.defaults, **claim.baseline, **t} for t in claim.treatments])


# ---------------------------------------------------------------------------- verdicts


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def cell_verdict(values: list[float], published: float | None, tolerance: float | None,
                 diverged: bool = False) -> str:
    """Verdict of one cell: reproduced ``values`` (one per seed) against ``published``.

    Within tolerance when |mean - published| <= tolerance + STD_FACTOR x std over seeds.
    """
    if diverged:
        return DIVERGED
    if not values:
        return NOT_RUN
    if published is None:
        return UNAVAILABLE
    if tolerance is None:
        return NOT_COMPARED
    mean, std = mean_std(values)
    return WITHIN if abs(mean - published) <= tolerance + STD_FACTOR * std else OUTSIDE


def claim_verdict(baseline: list[float], treatment: list[float], delta: float | None, sign: int,
                  tolerance: float, diverged: bool = False) -> str:
    """Verdict of a claimed difference (treatment minus baseline, in points).

    With a claimed ``delta``: within tolerance when |reproduced - delta| <= tolerance +
    STD_FACTOR x the standard deviation of the difference of the two means. Without one, the
    claim is only its ``sign`` ("improves": +1) and holds when the reproduced difference has it.
    """
    if diverged:
        return DIVERGED
    if not baseline or not treatment:
        return NOT_RUN
    (mb, sb), (mt, st) = mean_std(baseline), mean_std(treatment)
    reproduced = mt - mb
    if delta is None:
        return CLAIM_HOLDS if reproduced * sign > 0 else CLAIM_FAILS
    spread = math.sqrt(sb ** 2 + st ** 2)
    return WITHIN if abs(reproduced - delta) <= tolerance + STD_FACTOR * spread else OUTSIDE


# ---------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class RunRecord:
    """One evaluated (or failed) run of the active profile, as the tables see it."""
    id: str
    spec: dict  # method, reg, backbone, dataset, epochs, variant
    seed: int
    status: str  # evaluated | diverged | missing | <pretraining status>
    metrics: dict
    provenance: dict

    def value(self, metric: str) -> float | None:
        node = self.metrics
        for key in MEASURED_METRICS.get(metric, ()):
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return float(node) if isinstance(node, (int, float)) and metric in MEASURED_METRICS \
            else None


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


def load_runs(params: dict, results_dir: str | Path) -> list[RunRecord]:
    """The runs of the active profile (``params.yaml``) with their metrics and provenance.

    A run counts as evaluated only when ``runs/<id>/metrics.json`` is complete with status
    ``evaluated``; a pretraining summary with status ``diverged`` or a non-finite last loss marks
    it diverged.
    """
    import json

    results_dir = Path(results_dir)
    summary_path = results_dir / "pretrain_summary.json"
    summaries = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    prov_path = results_dir / PROVENANCE_FILE
    provenance = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    records = []
    for run_id, run in params["runs"].items():
        spec = {k: run[k] for k in ("method", "reg", "backbone", "dataset", "epochs")}
        spec["variant"] = run.get("variant", DEFAULT_VARIANT)
        summary = summaries.get(run_id, {})
        loss = summary.get("loss_last")
        status = summary.get("status", "missing")
        if status == "diverged" or (isinstance(loss, float) and not math.isfinite(loss)):
            status = DIVERGED
        metrics = {}
        path = results_dir / "runs" / run_id / "metrics.json"
        if status != DIVERGED and path.is_file():
            try:
                metrics = json.loads(path.read_text())
            except json.JSONDecodeError:
                metrics = {}  # truncated by an interrupted writer: never read as done
            status = "evaluated" if metrics.get("status") == "evaluated" else status
        records.append(RunRecord(run_id, spec, int(run["seed"]), status, metrics,
                                 provenance.get(run_id, {})))
    return records


PROVENANCE_FILE = "provenance.json"


def _not_run_reason(spec: dict, metric: str, profile: str) -> str:
    if metric in UNMEASURED_METRICS:
        return f"not measured by the suite: {UNMEASURED_METRICS[metric]}"
    planned = [f"{spec[k]} ({k})" for k, kind in _SPEC_KINDS.items()
               if k in spec and spec[k] in catalog.PLANNED.get(kind, {})]
    if planned:
        return "not implemented yet: " + ", ".join(planned)
    return f"no run with this spec in profile {profile}"


def _runs_summary(found: list[RunRecord], metric: str):
    diverged = any(r.status == DIVERGED for r in found)
    values = [v for r in found if r.status == "evaluated" for v in [r.value(metric)] if v is not None]
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


# ---------------------------------------------------------------------------- rendering


def _num(value, fmt: str = ".2f") -> str:
    return "–" if value is None else format(value, fmt)


def _spec_text(spec: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in spec.items() if not (k == "variant"
                                                                 and v == DEFAULT_VARIANT))


def comparability_line(profile: dict) -> str | None:
    """The first line of every rendered file of a profile that cannot be compared to the
    published protocols, or None."""
    if profile.get("comparable", False):
        return None
    return (f"**Not comparable to the published protocol: profile `{profile['name']}` "
            f"({profile.get('summary', '')}). Reproduced numbers check the pipeline, "
            f"not the papers.**")


def _run_links(run_ids: list[str]) -> str:
    return ", ".join(f"[{r}](../runs/{r}/metrics.json)" for r in run_ids)


def render_table_markdown(result: dict, profile: dict) -> str:
    tol = result["tolerance"]
    lines = []
    first = comparability_line(profile)
    if first:
        lines += [first, ""]
    lines += [f"# {result['title']}", "",
              f"- Source: {result['paper']}; {result['source']}. Definition: "
              f"`{result['definition']}`.",
              f"- Published protocol: {result['protocol']}",
              f"- Reproduced: profile `{profile['name']}`, evaluation `{profile.get('eval', '')}`.",
              f"- Tolerance: a cell is within tolerance when |reproduced − published| ≤ {tol:g} "
              f"percentage points + {STD_FACTOR:g} × the standard deviation over seeds (0 with one seed); "
              f"a claimed difference likewise, with the standard deviation of the difference.",
              ]
    if result["unavailable"]:
        lines.append(f"- Published cell values unavailable: {result['unavailable']}")
    if result["note"]:
        lines.append(f"- Note: {result['note']}")
    counts = ", ".join(f"{v} {k}" for k, v in sorted(result["counts"].items()))
    lines += [f"- Verdicts (cells and claims): {counts}.", ""]
    lines += ["| Row | Column | Published | Reproduced | Δ | Verdict | Runs |",
              "|---|---|---|---|---|---|---|"]
    for c in result["cells"]:
        rep = c["reproduced"]
        rep_text = "–" if rep is None else (
            f"{rep['mean']:.2f}" + (f" ± {rep['std']:.2f} (n={rep['n']})" if rep["n"] > 1 else ""))
        published = "unavailable" if c["published"] is None else _num(c["published"])
        runs = _run_links(c["runs"]) or (c["reason"] or "–")
        lines.append(f"| {c['row_label']} | {c['column_label']} | {published} | {rep_text} | "
                     f"{_num(c['delta'], '+.2f')} | {c['verdict']} | {runs} |")
    if result["claims"]:
        lines += ["", "## Claims in the text, compared as differences", "",
                  "| Claim | Where | Baseline → treatment | Claimed Δ | Reproduced Δ | Verdict | Runs |",
                  "|---|---|---|---|---|---|---|"]
        for c in result["claims"]:
            changed = {k: v for k, v in c["treatment"].items() if c["baseline"].get(k) != v}
            claimed = (_num(c["claimed_delta"], "+.1f") if c["claimed_delta"] is not None
                       else ("> 0" if c["claimed_sign"] > 0 else "< 0"))
            runs = _run_links(c["runs"]["baseline"] + c["runs"]["treatment"]) or c["reason"]
            lines.append(f"| {c['text']} | {c['where']} | {_spec_text(c['baseline'])} → "
                         f"{_spec_text(changed)} | {claimed} | "
                         f"{_num(c['reproduced_delta'], '+.2f')} | {c['verdict']} | {runs} |")
    if result["runs"]:
        lines += ["", "## Runs", "",
                  "| Run | Seed | Status | Config SHA-256 | Commit | Hardware | Wall time (s) | "
                  "torch / mmselfsup |", "|---|---|---|---|---|---|---|---|"]
        for rid, r in result["runs"].items():
            hw = r.get("hardware") or {}
            device = hw.get("gpu") or (f"CPU x{hw['cpu_count']}" if hw else "–")
            pk = r.get("packages") or {}
            lines.append(f"| [{rid}](../runs/{rid}/metrics.json) | {r['seed']} | {r['status']} | "
                         f"`{(r.get('config_sha256') or '–')[:12]}` | "
                         f"`{(r.get('git_commit') or '–')[:12]}` | {device} | "
                         f"{_num(r.get('wall_time_s'), '.1f')} | "
                         f"{pk.get('torch', '–')} / {pk.get('mmselfsup', '–')} |")
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ["table", "row", "column", "metric", "published_as_printed", "published",
               "reproduced_mean", "reproduced_std", "seeds", "delta", "verdict", "runs"]


def render_table_csv(result: dict) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in result["cells"]:
        rep = c["reproduced"] or {}
        writer.writerow([result["table"], c["row"], c["column"], c["metric"],
                         c["published_as_printed"], c["published"], rep.get("mean"),
                         rep.get("std"), rep.get("n", 0), c["delta"], c["verdict"],
                         " ".join(c["runs"])])
    return out.getvalue()
