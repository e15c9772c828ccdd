"""The ``tables`` stage: paper tables, leaderboard, headline metrics (the DVC metrics), the
results page and the results index of the active profile.

Everything is read and validated before the first file is written, and every file is written
atomically, so bad input leaves the previous results untouched and an interrupted render never
leaves a truncated table.
"""
from __future__ import annotations

from pathlib import Path

from ..profiles import check_params
from ..provenance import atomic_write_json, atomic_write_text
from .headline import HEADLINE_DIR, headline
from .leaderboard import PAGE_FILE, rankings, render_index, render_leaderboard, reproduction_score
from .matching import evaluate_table, load_runs
from .page import render_page
from .render import render_table_csv, render_table_markdown
from .table_specs import load_tables


def profile_header(params: dict) -> dict:
    return {"name": params["profile"], "summary": params.get("profile_summary", ""),
            "comparable": bool(params.get("comparable", False)),
            # the evaluation settings; an empty one ('' transfer targets: none) is not shown
            "eval": " ".join(f"{k}={v}" for k, v in (params.get("eval") or {}).items()
                             if v != "")}


def render_profile(params_path: str | Path, benchmarks: str | Path, results_dir: str | Path,
                   index: str | Path | None = None) -> dict:
    benchmarks, results_dir = Path(benchmarks), Path(results_dir)
    params = check_params(params_path, benchmarks / "profiles")
    tables = load_tables(benchmarks / "tables")
    profile = profile_header(params)
    runs = load_runs(params["specs"], results_dir)
    results = [evaluate_table(t, runs, profile["name"]) for t in tables]
    entries = rankings(runs)
    score = reproduction_score(results)
    # The DVC metrics: one small file of headline scalars per run (report/headline.py).
    headlines = {run.id: headline(run) for run in runs}
    page = render_page(profile, results, entries, score, runs, headlines, results_dir)

    out = results_dir / "tables"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():  # tables removed from benchmarks/ must not linger
        if stale.stem not in {t.id for t in tables}:
            stale.unlink()
    for res in results:
        atomic_write_json(out / f"{res['table']}.json", res)
        atomic_write_text(out / f"{res['table']}.csv", render_table_csv(res))
        atomic_write_text(out / f"{res['table']}.md", render_table_markdown(res, profile))
    atomic_write_json(results_dir / "leaderboard.json",
                      {"profile": profile, "score": score, "entries": entries})
    atomic_write_json(results_dir / "reproduction_score.json", score)
    atomic_write_text(results_dir / "leaderboard.md", render_leaderboard(entries, score, profile))
    heads = results_dir / HEADLINE_DIR
    heads.mkdir(exist_ok=True)
    for stale in heads.iterdir():  # runs removed from the profile must not linger
        if stale.stem not in headlines:
            stale.unlink()
    for run_id, record in headlines.items():
        atomic_write_json(heads / f"{run_id}.json", record)
    atomic_write_text(results_dir / PAGE_FILE, page)
    if index is not None:
        atomic_write_text(Path(index), render_index(Path(index).parent))
    return score
