"""One static page of a profile's results, ``results/<profile>/index.html`` (the ``tables`` stage).

The leaderboard, the reproduction score, every paper table with its verdicts in colour, the
papers' small experiments, the overlaid spectra and every run's headline metrics and plots.
Self-contained: inline CSS, no script, no external resource; figures are the PNG files beside
it, linked relatively, so the page opens from the file system (or any static host) and every
link resolves inside ``results/<profile>/``. Only figures that exist are linked.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from ..catalog import EXPERIMENTS
from ..runs import EVALUATED, METRICS_FILE, RUNS_DIR
from . import verdicts
from .headline import HEADLINE_DIR, HEADLINE_DISPLAY, HEADLINE_METRICS
from .leaderboard import (
    LEADERBOARD_COLUMNS,
    LEADERBOARD_INTRO,
    SCORE_COLUMNS,
    leaderboard_cells,
    leaderboard_groups,
    score_sentence,
)
from .render import (
    claim_change_text,
    claimed_text,
    HARDWARE_CAVEAT,
    claim_reproduced_text,
    comparability_line,
    hardware_summary,
    num,
    probe_summary,
    published_text,
    reproduced_text,
    verdict_text,
)

FIGURES_DIR = "figures"
SPECTRA_FIGURES = "spectra"  # the summary's overlays: figures/spectra/<group>/*.png
RUN_PLOTS = "plots"  # each run's plots: runs/<run>/plots/*.png
# Verdict -> CSS class (its colour): reproduced, not reproduced, diverged, nothing to compare.
VERDICT_CLASS = {verdicts.WITHIN: "ok", verdicts.CLAIM_HOLDS: "ok",
                 verdicts.OUTSIDE: "bad", verdicts.CLAIM_FAILS: "bad",
                 verdicts.DIVERGED: "diverged", verdicts.NOT_RUN: "none",
                 verdicts.UNAVAILABLE: "none", verdicts.NOT_COMPARED: "none"}

CSS = """
:root { --ok: #d7f0dd; --bad: #f9d6d5; --diverged: #ffe0b2; --none: #eeeeee;
        --inconclusive: #dde7f5; --line: #d0d4d9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1d2125; background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.7rem; margin: .6rem 0; }
h2 { font-size: 1.35rem; margin-top: 2.2rem; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.1rem; margin-top: 1.6rem; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, monospace; background: #f3f4f6;
       padding: 0 .2em; border-radius: 3px; }
.warning { background: #fff4ce; border-left: 4px solid #e0a800; padding: .5rem .8rem; }
nav ul { columns: 3 16rem; padding-left: 1.2rem; }
.scroll { overflow-x: auto; margin: .4rem 0 1rem; }
table { border-collapse: collapse; font-size: .88rem; }
th, td { border: 1px solid var(--line); padding: .2rem .45rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ok { background: var(--ok); } .bad { background: var(--bad); }
.diverged { background: var(--diverged); } .none { background: var(--none); color: #555; }
.inconclusive { background: var(--inconclusive); }
.legend span { display: inline-block; padding: .1rem .5rem; margin-right: .4rem;
               border: 1px solid var(--line); }
ul.meta { padding-left: 1.2rem; margin: .3rem 0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr));
           gap: 1rem; }
figure { margin: 0; }
figure.wide { grid-column: 1 / -1; }
img { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figcaption { font-size: .85rem; color: #444; }
details { margin: .3rem 0; }
summary { cursor: pointer; }
pre.note { white-space: pre-wrap; font-size: .82rem; background: #f6f8fa; padding: .6rem;
           max-height: 24rem; overflow: auto; }
footer { margin-top: 3rem; font-size: .8rem; color: #666; }
"""


def _inline(text) -> str:
    """Escaped text with the markdown the suite's sentences use: **bold**, `code`,
    [label](link)."""
    out = html.escape(str(text), quote=False)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)",
                  lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', out)


def _attr(value) -> str:
    return html.escape(str(value), quote=True)


def _run_linker(results_dir: Path):
    """A run id as a link to its metrics.json, or as text where the run has none (never a
    link that does not resolve)."""
    def link(run_id: str) -> str:
        rel = f"{RUNS_DIR}/{run_id}/{METRICS_FILE}"
        if not (results_dir / rel).is_file():
            return html.escape(run_id)
        return f'<a href="{_attr(rel)}">{html.escape(run_id)}</a>'
    return link


def _table(headers, rows, numeric=()) -> str:
    """An HTML table; each row is a list of (html, css class) or html; ``numeric`` column
    indices are right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            content, css = cell if isinstance(cell, tuple) else (cell, "")
            css = " ".join(c for c in (css, "num" if i in numeric else "") if c)
            cells.append(f'<td class="{css}">{content}</td>' if css else f"<td>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>'
            + "\n".join(body) + "</tbody></table></div>")


def _verdict(item: dict) -> tuple[str, str]:
    """A cell's or claim's verdict text and its class (one for every inconclusive verdict)."""
    css = ("inconclusive" if verdicts.is_inconclusive(item["verdict"])
           else VERDICT_CLASS.get(item["verdict"], "none"))
    return html.escape(verdict_text(item)), css


def _figure(src: Path, base: Path, caption: str, wide: bool = False) -> str:
    rel = src.relative_to(base).as_posix()
    css = ' class="wide"' if wide else ""
    return (f'<figure{css}><a href="{_attr(rel)}">'
            f'<img src="{_attr(rel)}" alt="{_attr(caption)}"></a>'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _leaderboard(entries: list[dict], score: dict, run_link) -> list[str]:
    parts = ['<h2 id="leaderboard">Leaderboard</h2>', f"<p>{_inline(score_sentence(score))}</p>",
             f"<p>{_inline(LEADERBOARD_INTRO)}</p>"]
    if not entries:
        parts.append("<p>No run of this profile has been evaluated yet.</p>")
    for dataset, reg, group in leaderboard_groups(entries):
        rows = [[*map(html.escape, leaderboard_cells(rank, e)),
                 ", ".join(run_link(r) for r in e["runs"])] for rank, e in enumerate(group, 1)]
        parts += [f"<h3>{html.escape(dataset)}, regularizer <code>{html.escape(reg)}</code></h3>",
                  _table(LEADERBOARD_COLUMNS, rows, numeric=(0, 3, 4, 5, 6, 7, 8, 9, 10))]
    rows = [[f'<a href="#table-{_attr(tid)}">{html.escape(tid)}</a>',
             *(str(s[k]) for k in SCORE_COLUMNS)] for tid, s in score["tables"].items()]
    parts += ['<h3 id="score">Reproduction score per table</h3>',
              _table(("Table", *SCORE_COLUMNS.values()), rows,
                     numeric=tuple(range(1, 1 + len(SCORE_COLUMNS))))]
    return parts


def _paper_table(res: dict, run_link) -> list[str]:
    meta = [f"Source: {_inline(res['paper'])}; {_inline(res['source'])}. Definition: "
            f"<code>{html.escape(res['definition'])}</code>, rendered as "
            f'<a href="tables/{_attr(res["table"])}.md">tables/{html.escape(res["table"])}.md</a> '
            f'(<a href="tables/{_attr(res["table"])}.csv">csv</a>, '
            f'<a href="tables/{_attr(res["table"])}.json">json</a>)',
            f"Published protocol: {_inline(res['protocol'])}",
            f"Probe (published → reproduced): {html.escape(probe_summary(res))}",
            f"Hardware: {html.escape(hardware_summary(res))}; {html.escape(HARDWARE_CAVEAT)}",
            f"Uncertainty: {html.escape(verdicts.METHOD_TEXT)}. Reproduced values read mean "
            "[interval] (n)",
            f"Tolerance: {html.escape(verdicts.tolerance_text(res['tolerance']))}"]
    if res["unavailable"]:
        meta.append(f"Published cell values unavailable: {_inline(res['unavailable'])}")
    if res["note"]:
        meta.append(f"Note: {_inline(res['note'])}")
    counts = ", ".join(f"{v} {html.escape(k)}" for k, v in sorted(res["counts"].items()))
    meta.append(f"Verdicts (cells and claims): {counts}")
    parts = [f'<h3 id="table-{_attr(res["table"])}">{html.escape(res["title"])}</h3>',
             '<ul class="meta">' + "".join(f"<li>{m}</li>" for m in meta) + "</ul>"]
    rows = [[html.escape(c["row_label"]), html.escape(c["column_label"]),
             html.escape(published_text(c)), html.escape(reproduced_text(c["reproduced"])),
             html.escape(num(c["delta"], "+.2f")), _verdict(c),
             ", ".join(run_link(r) for r in c["runs"]) or html.escape(c["reason"] or "–")]
            for c in res["cells"]]
    if rows:
        parts.append(_table(("Row", "Column", "Published", "Reproduced", "Δ", "Verdict", "Runs"),
                            rows, numeric=(2, 3, 4)))
    if res["claims"]:
        rows = [[html.escape(c["text"]), html.escape(c["where"]),
                 html.escape(claim_change_text(c)), html.escape(claimed_text(c)),
                 html.escape(claim_reproduced_text(c)), _verdict(c),
                 ", ".join(run_link(r) for r in c["runs"]["baseline"] + c["runs"]["treatment"])
                 or html.escape(c["reason"] or "–")] for c in res["claims"]]
        parts += ["<p>Claims in the text, compared as differences:</p>",
                  _table(("Claim", "Where", "Baseline → treatment", "Claimed Δ",
                          "Reproduced Δ (paired by seed)", "Verdict", "Runs"), rows,
                         numeric=(3, 4))]
    return parts


def _figures(results_dir: Path) -> list[str]:
    figures = results_dir / FIGURES_DIR
    parts = ['<h2 id="figures">Figures</h2>']
    for name in EXPERIMENTS:
        pngs = sorted((figures / name).glob("*.png"))
        notes = sorted((figures / name).glob("*.md"))
        if not pngs and not notes:
            continue
        parts.append(f'<h3 id="figure-{_attr(name)}">The papers\' small experiments: '
                     f"<code>{html.escape(name)}</code></h3>")
        parts.append('<div class="figures">' + "".join(
            _figure(p, results_dir, f"{name}: {p.name}", wide=True) for p in pngs) + "</div>")
        for note in notes:
            rel = note.relative_to(results_dir).as_posix()
            parts.append(f'<details><summary>Note: <a href="{_attr(rel)}">{html.escape(rel)}</a>'
                         f'</summary><pre class="note">{html.escape(note.read_text())}</pre>'
                         "</details>")
    groups = sorted(p for p in (figures / SPECTRA_FIGURES).glob("*") if p.is_dir())
    if groups:
        parts.append('<h3 id="figure-spectra">Eigenspectra of runs that differ only in their '
                     "regularizer (OR paper, Figs. 3-4)</h3>")
    for group in groups:
        pngs = sorted(group.glob("*.png"))
        parts += [f"<h4><code>{html.escape(group.name)}</code></h4>",
                  '<div class="figures">' + "".join(
                      _figure(p, results_dir, p.stem) for p in pngs) + "</div>"]
    return parts


def _runs(runs, headlines: dict, results_dir: Path, run_link) -> list[str]:
    parts = ['<h2 id="runs">Runs</h2>',
             f"<p>The headline metrics of every run of the profile (the DVC metrics, "
             f"<code>{HEADLINE_DIR}/&lt;run&gt;.json</code>; <code>dvc metrics show</code>), "
             "each run's full record (<code>metrics.json</code>) and its plots.</p>"]
    rows = []
    for run in runs:
        record = headlines[run.id]
        status = record["status"]
        css = "" if status == EVALUATED else VERDICT_CLASS.get(status, "none")
        rows.append([run_link(run.id), (html.escape(status), css),
                     *(html.escape(num(record.get(m), HEADLINE_DISPLAY[m][1]))
                       for m in HEADLINE_METRICS)])
    parts.append(_table(("Run", "Status", *(HEADLINE_DISPLAY[m][0] for m in HEADLINE_METRICS)),
                        rows,
                        numeric=tuple(range(2, 2 + len(HEADLINE_METRICS)))))
    for run in runs:
        pngs = sorted((results_dir / RUNS_DIR / run.id / RUN_PLOTS).glob("*.png"))
        if pngs:
            parts.append(f"<details><summary>Plots of <code>{html.escape(run.id)}</code> "
                         f'({len(pngs)})</summary><div class="figures">'
                         + "".join(_figure(p, results_dir, p.stem) for p in pngs)
                         + "</div></details>")
    return parts


def render_page(profile: dict, results: list[dict], entries: list[dict], score: dict, runs,
                headlines: dict, results_dir: str | Path) -> str:
    """The HTML of ``results_dir/index.html``: ``results`` as evaluate_table returns them,
    ``entries`` and ``score`` the leaderboard's, ``runs`` the profile's RunRecords and
    ``headlines`` their headline records (run id -> record)."""
    results_dir = Path(results_dir)
    name = profile["name"]
    parts = [f"<h1>Results, profile <code>{html.escape(name)}</code></h1>"]
    first = comparability_line(profile)
    if first:
        parts.append(f'<p class="warning">{_inline(first)}</p>')
    summary = profile.get("summary", "").strip()
    summary += "" if not summary or summary.endswith(".") else "."
    parts.append(f"<p>{_inline(summary)} Evaluation: "
                 f"<code>{html.escape(profile.get('eval', ''))}</code>. "
                 f"{len(runs)} runs, {len(results)} paper tables.</p>")
    toc = ['<a href="#leaderboard">Leaderboard</a>', '<a href="#score">Reproduction score</a>',
           *(f'<a href="#table-{_attr(r["table"])}">{html.escape(r["title"])}</a>'
             for r in results),
           '<a href="#figures">Figures</a>', '<a href="#runs">Runs</a>']
    parts.append("<nav><ul>" + "".join(f"<li>{t}</li>" for t in toc) + "</ul></nav>")
    link = _run_linker(results_dir)
    parts += _leaderboard(entries, score, link)
    legend = "".join(f'<span class="{css}">{html.escape(label)}</span>' for css, label in (
        ("ok", "within tolerance / claim holds"), ("bad", "outside tolerance / claim fails"),
        ("inconclusive", f"inconclusive (fewer than {verdicts.MIN_SEEDS} seeds, or the interval "
                         "spans the claim's threshold)"),
        ("diverged", "diverged"), ("none", "not run, unavailable or not compared")))
    parts += ['<h2 id="tables">Paper tables</h2>', f'<p class="legend">Verdicts: {legend}</p>']
    for res in results:
        parts += _paper_table(res, link)
    parts += _figures(results_dir)
    parts += _runs(runs, headlines, results_dir, link)
    parts.append("<footer>Generated by <code>ortho-suite tables</code> (the <code>tables</code> "
                 "stage of <code>dvc.yaml</code>); do not edit.</footer>")
    body = "\n".join(parts)
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>ortho-suite results, profile {html.escape(name)}</title>\n"
            '<link rel="icon" href="data:,">\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")
