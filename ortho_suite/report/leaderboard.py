"""The leaderboard of a profile and the index of all results.

The leaderboard ranks methods per dataset and regularizer by linear-probe top-1 (mean over seeds)
and puts the collapse diagnostics of the same runs beside it (representation effective rank, the
eigenvalue power-law decay alpha of Agrawal et al. 2022, collapsed dimensions); below, the
reproduction score of every paper table of the profile.
"""
from __future__ import annotations

import json
from pathlib import Path

from .. import runs as run_record
from ..runs import CELL_FIELDS
from .matching import RunRecord
from .render import comparability_line
from .verdicts import (
    CLAIM_FAILS,
    CLAIM_HOLDS,
    DIVERGED,
    MIN_SEEDS,
    OUTSIDE,
    WITHIN,
    is_inconclusive,
    mean_std,
)

# Methods are ranked within a dataset and a regularizer; an entry is one cell spec (CELL_FIELDS).
RANK_WITHIN = ("dataset", "reg")
# A profile's results page (ortho_suite/report/page.py), beside its leaderboard.
PAGE_FILE = "index.html"
RANK_KEYS = (*RANK_WITHIN, *(k for k in CELL_FIELDS if k not in RANK_WITHIN))


def rankings(runs: list[RunRecord]) -> list[dict]:
    """One entry per (dataset, reg, method, backbone, epochs, variant), seeds averaged, sorted
    by dataset, regularizer and then linear top-1 (best first); diverged runs rank last."""
    groups: dict[tuple, list[RunRecord]] = {}
    for run in runs:
        if run.status in (run_record.EVALUATED, DIVERGED):
            groups.setdefault(tuple(run.spec[k] for k in RANK_KEYS), []).append(run)
    entries = []
    for key, members in groups.items():
        done = [r for r in members if r.status == run_record.EVALUATED]

        def avg(metric, runs=done):
            values = [v for r in runs for v in [run_record.metric(r.metrics, metric)] if v is not None]
            return mean_std(values) if values else (None, None)

        top1, top1_std = avg("linear_top1")
        entries.append({**dict(zip(RANK_KEYS, key)), "runs": [r.id for r in members],
                        "seeds": len(done), "diverged": len(members) - len(done),
                        "linear_top1": top1, "linear_top1_std": top1_std,
                        "online_top1": avg("online_linear_top1")[0],
                        "knn_top1": avg("knn200_cosine_top1")[0],
                        "effective_rank": avg("repr_effective_rank")[0],
                        "dims": avg("repr_dims")[0],
                        "alpha": avg("repr_alpha_req")[0],
                        "collapsed_dims": avg("repr_collapsed_dims")[0]})
    entries.sort(key=lambda e: (e["dataset"], e["reg"], e["linear_top1"] is None,
                                -(e["linear_top1"] or 0.0), e["method"]))
    return entries


def reproduction_score(results: list[dict]) -> dict:
    """Per table and in total, counting conclusive verdicts only (MIN_SEEDS seeds or seed pairs
    or more): published cells, cells with a conclusive verdict and how many are within
    tolerance, how many are inconclusive, and the same for the claims; ``protocol_differs``:
    conclusive cells whose published numbers used another probe than the suite's."""
    per_table = {}
    for res in results:
        run = [c for c in res["cells"] if c["published"] is not None and c["reproduced"]]
        conclusive = [c for c in run if c["verdict"] in (WITHIN, OUTSIDE)]
        claims_run = [c for c in res["claims"] if c["reproduced_delta"] is not None]
        claims_conclusive = [c for c in claims_run if c["verdict"] in (CLAIM_HOLDS, CLAIM_FAILS)]
        per_table[res["table"]] = {
            "published_cells": res["published_cells"], "compared_cells": len(conclusive),
            "within": sum(c["verdict"] == WITHIN for c in conclusive),
            "outside": sum(c["verdict"] == OUTSIDE for c in conclusive),
            "inconclusive": sum(is_inconclusive(c["verdict"]) for c in run),
            "protocol_differs": sum(bool(c["protocol"]) for c in conclusive),
            "diverged": sum(c["verdict"] == DIVERGED for c in res["cells"]),
            "claims": len(res["claims"]), "claims_compared": len(claims_conclusive),
            "claims_reproduced": sum(c["verdict"] == CLAIM_HOLDS for c in claims_conclusive),
            "claims_failed": sum(c["verdict"] == CLAIM_FAILS for c in claims_conclusive),
            "claims_inconclusive": sum(is_inconclusive(c["verdict"]) for c in claims_run)}
    total = {k: sum(t[k] for t in per_table.values()) for k in SCORE_KEYS}
    return {"min_seeds": MIN_SEEDS, "tables": per_table, "total": total}


SCORE_KEYS = ("published_cells", "compared_cells", "within", "outside", "inconclusive",
              "protocol_differs", "diverged", "claims", "claims_compared", "claims_reproduced",
              "claims_failed", "claims_inconclusive")


def _fmt(value, spec=".2f"):
    return "–" if value is None else format(value, spec)


def method_text(entry: dict) -> str:
    return entry["method"] + ("" if entry["variant"] == "standard" else f" ({entry['variant']})")


def top1_text(entry: dict) -> str:
    """Linear top-1 of an entry: mean, ± std over several seeds, and its diverged runs."""
    text = _fmt(entry["linear_top1"]) + (f" ± {entry['linear_top1_std']:.2f}"
                                         if entry["seeds"] > 1 else "")
    return text + (f" ({entry['diverged']} diverged)" if entry["diverged"] else "")


def effective_rank_text(entry: dict) -> str:
    return ("–" if entry["effective_rank"] is None
            else f"{entry['effective_rank']:.1f} / {entry['dims']:.0f}")


def leaderboard_groups(entries: list[dict]) -> list[tuple[str, str, list[dict]]]:
    """(dataset, regularizer, its entries in rank order), as the leaderboard lists them."""
    return [(dataset, reg, [e for e in entries if e["dataset"] == dataset and e["reg"] == reg])
            for dataset in sorted({e["dataset"] for e in entries})
            for reg in sorted({e["reg"] for e in entries if e["dataset"] == dataset})]


LEADERBOARD_INTRO = ("Ranked by linear-probe top-1 (the offline probe of the final encoder; mean "
                     "over seeds, ± their sample standard deviation) per dataset and regularizer; "
                     "beside it the online linear probe trained during pretraining (solo-learn's; "
                     "its last epoch) and the k-NN top-1. "
                     "Collapse diagnostics of the frozen representation on test images: effective "
                     "rank (RankMe), eigenvalue decay alpha (power-law fit, larger = faster "
                     "decay), dimensions below 1e-5 of the largest eigenvalue.")


def score_sentence(score: dict) -> str:
    """The reproduction score in one sentence (markdown: bold and code spans)."""
    t = score["total"]
    return (f"Reproduction score, conclusive verdicts only ({score['min_seeds']} or more seeds, "
            f"or seed pairs for a claim): **{t['within']} of {t['compared_cells']}** published "
            f"cells with a conclusive verdict are within tolerance ({t['protocol_differs']} of "
            f"them compared with another probe than the published one); {t['inconclusive']} "
            f"more cells run here are inconclusive; {t['published_cells']} published cells in "
            f"all tables. Claims in the text: {t['claims_reproduced']} of "
            f"{t['claims_compared']} conclusive hold; {t['claims_inconclusive']} more run here "
            f"are inconclusive; {t['claims']} stated.")


def render_leaderboard(entries: list[dict], score: dict, profile: dict) -> str:
    lines = []
    first = comparability_line(profile)
    if first:
        lines += [first, ""]
    lines += [f"# Leaderboard, profile `{profile['name']}`", "", score_sentence(score), "",
              LEADERBOARD_INTRO, ""]
    for dataset, reg, group in leaderboard_groups(entries):
        lines += [f"## {dataset}, regularizer `{reg}`", "",
                  "| " + " | ".join(LEADERBOARD_COLUMNS) + " |",
                  "|" + "---|" * len(LEADERBOARD_COLUMNS)]
        for rank, e in enumerate(group, 1):
            runs = ", ".join(f"[{r}](runs/{r}/metrics.json)" for r in e["runs"])
            lines.append("| " + " | ".join([*leaderboard_cells(rank, e), runs]) + " |")
        lines.append("")
    lines += ["## Reproduction score per table", "",
              "| Table | " + " | ".join(SCORE_COLUMNS.values()) + " |",
              "|" + "---|" * (1 + len(SCORE_COLUMNS))]
    for table_id, s in score["tables"].items():
        lines.append(f"| [{table_id}](tables/{table_id}.md) | "
                     + " | ".join(str(s[k]) for k in SCORE_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


LEADERBOARD_COLUMNS = ("Rank", "Method", "Backbone", "Epochs", "Seeds", "Linear top-1",
                       "Online linear top-1", "k-NN top-1", "Effective rank", "Decay alpha", "Collapsed dims", "Runs")
# The per-table score's columns: key -> header.
SCORE_COLUMNS = {"published_cells": "Published cells", "compared_cells": "Conclusive",
                 "within": "Within tolerance", "outside": "Outside",
                 "inconclusive": "Inconclusive", "protocol_differs": "Other probe",
                 "diverged": "Diverged", "claims": "Claims stated",
                 "claims_compared": "Claims conclusive", "claims_reproduced": "Claims hold",
                 "claims_failed": "Claims fail", "claims_inconclusive": "Claims inconclusive"}


def leaderboard_cells(rank: int, e: dict) -> list[str]:
    """An entry's cells in LEADERBOARD_COLUMNS order, without the runs."""
    return [str(rank), method_text(e), e["backbone"], str(e["epochs"]), str(e["seeds"]),
            top1_text(e), _fmt(e["online_top1"]), _fmt(e["knn_top1"]), effective_rank_text(e), _fmt(e["alpha"]),
            _fmt(e["collapsed_dims"], ".0f")]


def render_index(results_root: str | Path) -> str:
    """``results/README.md``: every profile with rendered tables, its score and its files."""
    root = Path(results_root)
    lines = ["# Results", "",
             "Generated by `ortho-suite tables` (the `tables` stage of `dvc.yaml`); do not edit. "
             "One folder per profile: `runs/<run>/metrics.json` (+ spectra, plots) per run, "
             "`tables/<table>.md|csv|json` per paper table, `leaderboard.md`, and "
             "`index.html`, one page with all of it and the figures (open it in a browser, no "
             "server needed). Performance figures are in [perf/](perf/).", ""]
    for board in sorted(root.glob("*/leaderboard.json")):
        data = json.loads(board.read_text())
        profile, t = data["profile"], data["score"]["total"]
        lines += [f"## Profile `{profile['name']}`", "",
                  f"{'Comparable to the published protocols.' if profile.get('comparable') else 'Not comparable to the published protocols (pipeline check).'} "
                  f"{profile.get('summary', '')}", "",
                  f"- [Leaderboard]({board.parent.name}/leaderboard.md): {t['within']} of "
                  f"{t['compared_cells']} published cells with a conclusive verdict within "
                  f"tolerance ({t.get('inconclusive', 0)} inconclusive); "
                  f"{t['claims_reproduced']} of {t['claims_compared']} conclusive claims hold "
                  f"({t.get('claims_inconclusive', 0)} inconclusive). Conclusive: "
                  f"{data['score'].get('min_seeds', MIN_SEEDS)} or more seeds.",
                  *([f"- [Results page]({board.parent.name}/{PAGE_FILE}) (HTML: leaderboard, "
                       "tables, figures)"] if (board.parent / PAGE_FILE).is_file() else []),
                  f"- [Pretraining summary]({board.parent.name}/pretrain_summary.md), "
                  f"{len(data['entries'])} ranked configurations.",
                  "- Tables: " + ", ".join(f"[{tid}]({board.parent.name}/tables/{tid}.md)"
                                           for tid in data["score"]["tables"]), ""]
    return "\n".join(lines)
