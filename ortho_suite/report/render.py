"""Rendering a table's evaluated cells and claims: markdown (the first line says when the profile
cannot be compared to the published protocols) and CSV."""
from __future__ import annotations

import csv
import io

from ..runs import DEFAULT_VARIANT
from .verdicts import METHOD_TEXT, tolerance_text

# Said under every table: why the hardware is shown (README "Profiles and paper tables").
HARDWARE_CAVEAT = ("results are bitwise reproducible only on the same hardware type (the same "
                   "seeds and code gave different smoke numbers on an Intel Xeon and an AMD EPYC)")


def num(value, fmt: str = ".2f") -> str:
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


def reproduced_text(rep: dict | None, fmt: str = ".2f") -> str:
    """A reproduced mean with its confidence interval [low, high] and the number of seeds
    (a cell's) or of seed pairs (a claim's paired differences)."""
    if rep is None:
        return "–"
    ci = "" if rep["low"] is None else f" [{rep['low']:{fmt}}, {rep['high']:{fmt}}]"
    return f"{rep['mean']:{fmt}}{ci} (n={rep['n']})"


def claim_reproduced_text(claim: dict) -> str:
    return reproduced_text(claim["paired"], "+.2f")


def verdict_text(item: dict) -> str:
    """A cell's or claim's verdict, with what differs in the protocol."""
    return item["verdict"] + (f"; {item['protocol']}" if item.get("protocol") else "")


def hardware_text(hw: dict | None) -> str:
    """A run's hardware as provenance.json names it: the GPU model, else the CPU model."""
    if not hw:
        return "–"
    if hw.get("gpu"):
        return f"{hw['gpu']} x{hw.get('gpu_count', 1)}"
    return f"{hw.get('cpu') or 'CPU'}, {hw.get('cpu_count', '?')} cores"


def hardware_summary(result: dict) -> str:
    """The hardware the table's runs ran on, with how many runs each."""
    counts: dict[str, int] = {}
    for r in result["runs"].values():
        key = hardware_text(r.get("hardware"))
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "no run of this profile"
    return "; ".join(f"{k} ({v} run{'s' if v != 1 else ''})" for k, v in sorted(counts.items()))


def probe_summary(result: dict) -> str:
    """Which probe the published numbers used and which one the suite reproduces them with, per
    column (and for the claims), as ``published → reproduced``."""
    groups: dict[tuple, list[str]] = {}
    for c in result["cells"]:
        key = (c["probe"]["published"], c["probe"]["reproduced"], c["protocol"])
        if key[0] is not None and c["column_label"] not in groups.get(key, []):
            groups.setdefault(key, []).append(c["column_label"])
    for c in result["claims"]:
        key = (c["probe"]["published"], c["probe"]["reproduced"], c["protocol"])
        if key[0] is not None and "claims" not in groups.get(key, []):
            groups.setdefault(key, []).append("claims")
    if not groups:
        return "none (no classifier metric)"
    return "; ".join(f"{', '.join(labels)}: {pub} → {rep}" + (f" ({note})" if note else "")
                     for (pub, rep, note), labels in groups.items())


def published_text(cell: dict) -> str:
    return "unavailable" if cell["published"] is None else num(cell["published"])


def claimed_text(claim: dict) -> str:
    """A claim's claimed difference, or only its sign."""
    if claim["claimed_delta"] is not None:
        return num(claim["claimed_delta"], "+.1f")
    return "> 0" if claim["claimed_sign"] > 0 else "< 0"


def claim_change_text(claim: dict) -> str:
    """The baseline's spec and what the treatment changes in it."""
    changed = {k: v for k, v in claim["treatment"].items() if claim["baseline"].get(k) != v}
    return f"{_spec_text(claim['baseline'])} → {_spec_text(changed)}"


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
              f"- Probe (published → reproduced): {probe_summary(result)}.",
              f"- Hardware: {hardware_summary(result)}; {HARDWARE_CAVEAT}.",
              f"- Uncertainty: {METHOD_TEXT}. Reproduced values read mean [interval] (n).",
              f"- Tolerance: {tolerance_text(tol)}.",
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
        runs = _run_links(c["runs"]) or (c["reason"] or "–")
        lines.append(f"| {c['row_label']} | {c['column_label']} | {published_text(c)} | "
                     f"{reproduced_text(c['reproduced'])} | "
                     f"{num(c['delta'], '+.2f')} | {verdict_text(c)} | {runs} |")
    if result["claims"]:
        lines += ["", "## Claims in the text, compared as differences", "",
                  "| Claim | Where | Baseline → treatment | Claimed Δ | Reproduced Δ (paired by "
                  "seed) | Verdict | Runs |",
                  "|---|---|---|---|---|---|---|"]
        for c in result["claims"]:
            runs = _run_links(c["runs"]["baseline"] + c["runs"]["treatment"]) or c["reason"]
            if c["unpaired"]:
                runs += f" (no seed partner: {', '.join(c['unpaired'])})"
            lines.append(f"| {c['text']} | {c['where']} | {claim_change_text(c)} | "
                         f"{claimed_text(c)} | {claim_reproduced_text(c)} | {verdict_text(c)} "
                         f"| {runs} |")
    if result["runs"]:
        lines += ["", "## Runs", "",
                  "| Run | Seed | Status | Config SHA-256 | Commit | Hardware | Wall time (s) | "
                  "torch / mmselfsup |", "|---|---|---|---|---|---|---|---|"]
        for rid, r in result["runs"].items():
            device = hardware_text(r.get("hardware"))
            pk = r.get("packages") or {}
            lines.append(f"| [{rid}](../runs/{rid}/metrics.json) | {r['seed']} | {r['status']} | "
                         f"`{(r.get('config_sha256') or '–')[:12]}` | "
                         f"`{(r.get('git_commit') or '–')[:12]}` | {device} | "
                         f"{num(r.get('wall_time_s'), '.1f')} | "
                         f"{pk.get('torch', '–')} / {pk.get('mmselfsup', '–')} |")
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ["table", "row", "column", "metric", "published_as_printed", "published",
               "reproduced_mean", "reproduced_std", "seeds", "ci_low", "ci_high", "delta",
               "verdict", "probe_published", "probe_reproduced", "protocol", "runs"]


def render_table_csv(result: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in result["cells"]:
        rep = c["reproduced"] or {}
        writer.writerow([result["table"], c["row"], c["column"], c["metric"],
                         c["published_as_printed"], c["published"], rep.get("mean"),
                         rep.get("std"), rep.get("n", 0), rep.get("low"), rep.get("high"),
                         c["delta"], c["verdict"], c["probe"]["published"],
                         c["probe"]["reproduced"], c["protocol"], " ".join(c["runs"])])
    return out.getvalue()
