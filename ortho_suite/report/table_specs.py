"""Paper table definitions: the declarative files of ``benchmarks/tables/``, read and validated.

A table file (``benchmarks/tables/<table-id>.yaml``) names its source and published protocol and
lays out rows x columns; every cell is a *run spec* (method, regularizer, backbone, dataset,
epochs, variant), a *metric* and, where the source prints one, the *published value*. Tables whose
cell values cannot be read (the OR paper's are images) also carry the prose claims of the paper as
*claimed differences* between two run specs ("+3 top-1 with OR").

Everything read from a table file is validated first: a malformed file stops with one line naming
the file and the field. Matching cells to runs is :mod:`.matching`, verdicts :mod:`.verdicts`,
rendering :mod:`.render`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .. import catalog
from ..errors import UsageError, read_yaml
from ..runs import CELL_FIELDS, METRICS, NAMED_FIELDS, TRANSFER_METRICS

# What the suite measures (the metrics of ortho_suite/runs.py) and what it does not (yet).
MEASURED_METRICS = METRICS
# Metrics the papers report that the suite does not measure (yet); their cells are never run.
# Detection fine-tuning is not supported (README "Transfer and detection"): the papers use
# detectron2's R50-C4 recipe of MoCo v1, and neither detectron2 nor MMDetection installs here.
_DETECTION = ("not supported: needs detectron2 (no official PyPI release) or MMDetection (mmcv's "
              "compiled ops; the suite has mmcv-lite), see README 'Transfer and detection'")
UNMEASURED_METRICS = {
    "subvector_linear_top1": "linear probe on a sub-vector of the representation",
    "voc_det_ap": f"VOC07+12 detection fine-tuning {_DETECTION}",
    **{f"coco_{task}_{ap}": f"COCO Mask R-CNN {name} fine-tuning {_DETECTION}"
       for task, name in (("det", "detection"), ("seg", "segmentation"))
       for ap in ("ap", "ap50", "ap75")},
    "pretrain_minutes": "wall time on the publisher's GPU (reference only)",
    "or_step_seconds": "per-step OR time (see benchmarks/perf)",
}

# The probes a published classifier number can come from: an online linear probe (trained during
# pretraining on detached features, solo-learn's), an offline one (trained on the frozen final
# encoder), a k-NN classifier; "unknown" where the source does not say (never guessed).
PROBES = ("online", "offline", "knn", "unknown")
# The probe with which the suite measures each classifier metric (runs.METRICS names). Other
# metrics have no probe.
REPRODUCED_PROBE = {"linear_top1": "offline", "linear_top5": "offline",
                    "knn200_cosine_top1": "knn", "knn5_euclidean_top1": "knn",
                    "monitor_knn_top1": "knn", "monitor_knn_best_top1": "knn",
                    "online_linear_top1": "online", "online_linear_top5": "online",
                    "online_linear_best_top1": "online",
                    # the transfer probe is trained on the frozen final encoder's features
                    **{name: "offline" for name in TRANSFER_METRICS}}

# The named fields of a cell's run spec (aug is not a cell field).
SPEC_KINDS = {k: v for k, v in NAMED_FIELDS.items() if k in CELL_FIELDS}


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    metric: str
    run: dict
    tolerance: float | None  # None: published for reference, never compared
    scale: float = 1.0  # published value x scale = percent (LightlySSL prints fractions)
    probe: str | None = None  # PROBES: the probe of the published numbers; None: not a classifier


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
    probe: str | None = None  # PROBES, as a column's: the table's, or knn for a k-NN metric


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
    probe: str | None = None  # PROBES: the probe of the published classifier numbers (claims too)


def protocol_note(published: str | None, metric: str) -> str | None:
    """What a reader must know when the published numbers' probe is not the one the suite
    measures ``metric`` with: None when they agree or the metric is not a classifier's."""
    reproduced = REPRODUCED_PROBE.get(metric)
    if published is None or reproduced is None or published == reproduced:
        return None
    if published == "unknown":
        return f"published probe unknown, reproduced {reproduced}"
    return f"protocol differs: published {published}, reproduced {reproduced}"


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
    fields.unknown(CELL_FIELDS)
    spec = {}
    for key, value in fields.data.items():
        if key == "epochs":
            spec[key] = fields.get(key, int)
            continue
        value = fields.get(key, str)
        if key in SPEC_KINDS:
            try:
                catalog.known_or_planned(SPEC_KINDS[key], value)
            except UsageError as err:
                raise fields.fail(key, str(err)) from None
        spec[key] = value
    return spec


def metric_range(metric: str) -> tuple[float, float]:
    """The values a published ``metric`` can take (after the column's scale): accuracies and
    average precisions are percentages in [0, 100]; times, ranks, dimensions and penalties are
    non-negative; a spectrum's decay exponent is any number."""
    if metric.endswith(("_top1", "_top5")) or "_ap" in metric:
        return 0.0, 100.0
    if metric == "repr_alpha_req":
        return -math.inf, math.inf
    return 0.0, math.inf


def _in_range(metric: str, value: float) -> bool:
    low, high = metric_range(metric)
    return low <= value <= high


def _metric(fields: _Fields, key: str = "metric") -> str:
    metric = fields.get(key, str)
    if metric not in MEASURED_METRICS and metric not in UNMEASURED_METRICS:
        raise fields.fail(key, f"unknown metric {metric!r}; valid: "
                               f"{', '.join([*MEASURED_METRICS, *UNMEASURED_METRICS])}")
    return metric


def _probe(fields: _Fields, required: bool) -> str | None:
    probe = fields.get("probe", str, required=required)
    if probe is not None and probe not in PROBES:
        raise fields.fail("probe", f"unknown probe {probe!r}; valid: {', '.join(PROBES)}")
    return probe


def _default_probe(top: _Fields, metric: str, table_probe: str | None, where: str) -> str | None:
    """A column's or claim's probe when it names none: None for a metric that is not a
    classifier's, knn for a k-NN metric, else the table's (which must then be given)."""
    reproduced = REPRODUCED_PROBE.get(metric)
    if reproduced is None:
        return None
    if reproduced == "knn":
        return "knn"
    if table_probe is None:
        raise top.fail("probe", f"missing; {where} ({metric}) is a linear probe's: say which probe "
                                f"the published numbers used, one of {', '.join(PROBES)} "
                                "(unknown when the source does not say)")
    return table_probe


def _ids(items: list, kind: str, path: Path) -> None:
    seen = set()
    for item in items:
        if item.id in seen:
            raise UsageError(f"{path}: {kind} id {item.id!r} appears twice; ids must be unique")
        seen.add(item.id)


def load_table(path: str | Path) -> Table:
    """Read and validate one table file."""
    path = Path(path)
    data = read_yaml(path, "table file")
    top = _Fields(path, "", data)
    top.unknown(("title", "paper", "source", "protocol", "probe", "tolerance", "defaults",
                 "columns", "rows", "claims", "unavailable", "note"))
    defaults = _spec(top.child("defaults", required=False))
    tolerance = top.get("tolerance", float)
    if tolerance < 0:
        raise top.fail("tolerance", "must be >= 0 (percentage points)")

    table_probe = _probe(top, required=False)
    columns = []
    for i, raw in enumerate(top.get("columns", list)):
        c = _Fields(path, f"columns[{i}]", raw)
        c.unknown(("id", "label", "metric", "run", "compare", "scale", "probe"))
        compare = c.get("compare", bool, required=False, default=True)
        metric = _metric(c)
        probe = _probe(c, required=False)
        if REPRODUCED_PROBE.get(metric) is None:
            if probe is not None:
                raise c.fail("probe", f"metric {metric} is not a classifier's; remove 'probe'")
        elif probe is None:
            probe = _default_probe(top, metric, table_probe, f"columns[{i}]")
        columns.append(Column(c.get("id", str), c.get("label", str), metric,
                              _spec(c.child("run", required=False)),
                              tolerance if compare else None,
                              c.get("scale", float, required=False, default=1.0), probe))
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
            column = next(c for c in columns if c.id == key)
            if values[key] is not None and not _in_range(column.metric, values[key] * column.scale):
                low, high = metric_range(column.metric)
                raise published.fail(key, f"{values[key]:g} (x scale {column.scale:g}) is outside "
                                          f"[{low:g}, {high:g}] for metric {column.metric}; "
                                          "check the number against the source")
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
        metric = _metric(c)
        if delta is not None and metric_range(metric)[1] == 100.0 and not -100 <= delta <= 100:
            raise c.fail("delta", f"{delta:g} points is not a difference of two percentages")
        sign = c.get("sign", int, required=False, default=0)
        if delta is not None:
            sign = 1 if delta > 0 else -1
        if sign not in (1, -1):
            raise c.fail("sign", "give 'delta' (the claimed difference) or 'sign': 1 or -1")
        probe = _default_probe(top, metric, table_probe, f"claims[{i}]")
        claims.append(Claim(c.get("id", str), c.get("text", str), c.get("where", str),
                            metric, _spec(c.child("baseline")), treatments, delta, sign, probe))
    _ids(claims, "claim", path)

    return Table(id=path.stem, path=path, title=top.get("title", str), paper=top.get("paper", str),
                 source=top.get("source", str), protocol=top.get("protocol", str),
                 tolerance=tolerance, defaults=defaults, columns=columns, rows=rows, claims=claims,
                 unavailable=top.get("unavailable", str, required=False),
                 note=top.get("note", str, required=False), probe=table_probe)


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
