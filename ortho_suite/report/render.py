"""Rendering a table's evaluated cells and claims: markdown (the first line says when the profile
cannot be compared to the published protocols) and CSV."""
from __future__ import annotations

import csv
import io

from ..runs import DEFAULT_VARIANT
from .verdicts import STD_FACTOR


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


def reproduced_text(rep: dict | None) -> str:
    """A cell's reproduced value: the mean, with ± std (n) over several seeds."""
    if rep is None:
        return "–"
    return f"{rep['mean']:.2f}" + (f" ± {rep['std']:.2f} (n={rep['n']})" if rep["n"] > 1 else "")


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
        runs = _run_links(c["runs"]) or (c["reason"] or "–")
        lines.append(f"| {c['row_label']} | {c['column_label']} | {published_text(c)} | "
                     f"{reproduced_text(c['reproduced'])} | "
                     f"{num(c['delta'], '+.2f')} | {c['verdict']} | {runs} |")
    if result["claims"]:
        lines += ["", "## Claims in the text, compared as differences", "",
                  "| Claim | Where | Baseline → treatment | Claimed Δ | Reproduced Δ | Verdict | Runs |",
                  "|---|---|---|---|---|---|---|"]
        for c in result["claims"]:
            runs = _run_links(c["runs"]["baseline"] + c["runs"]["treatment"]) or c["reason"]
            lines.append(f"| {c['text']} | {c['where']} | {claim_change_text(c)} | "
                         f"{claimed_text(c)} | "
                         f"{num(c['reproduced_delta'], '+.2f')} | {c['verdict']} | {runs} |")
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
                         f"{num(r.get('wall_time_s'), '.1f')} | "
                         f"{pk.get('torch', '–')} / {pk.get('mmselfsup', '–')} |")
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ["table", "row", "column", "metric", "published_as_printed", "published",
               "reproduced_mean", "reproduced_std", "seeds", "delta", "verdict", "runs"]


def render_table_csv(result: dict) -> str:
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
