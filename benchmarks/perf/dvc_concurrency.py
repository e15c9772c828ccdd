"""Is it safe to run many ``dvc repro -s <stage>`` at once in one repository? (issue 22)

Builds a throw-away DVC repository (git + dvc init in a temporary folder) whose pipeline is one
``foreach`` stage of ``--stages`` independent items (each sleeps ``--sleep`` s, then writes its
parameter to an uncached output, as the suite's pretrain stages do), and for ``--rounds`` rounds
changes every item's parameter and starts one ``dvc repro -s stage@<item>`` per item at the same
moment. After each round it checks that every process exited 0, that ``dvc.lock`` parses and
records every item with this round's parameter and output hash, and that ``dvc status`` is clean.
Both ways of calling DVC are measured: plain ``dvc repro`` (DVC's repo lock gives up after 3 s)
and ``dvc --wait-for-lock repro`` (waits as long as it takes), which ``ortho-suite sweep`` uses.

    uv run python benchmarks/perf/dvc_concurrency.py --stages 8 --rounds 5 \
        --out results/perf/dvc_concurrency.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from ortho_suite import provenance

DVC_YAML = """stages:
  work:
    foreach: ${items}
    do:
      cmd: python -c "import time, pathlib; time.sleep(${sleep});
        pathlib.Path('out/${key}.txt').write_text('${item}')"
      params:
        - items.${key}
      outs:
        - out/${key}.txt:
            cache: false
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stages", type=int, default=8, help="concurrent dvc repro -s per round")
    p.add_argument("--rounds", type=int, default=5, help="rounds (every stage stale in each)")
    p.add_argument("--sleep", type=float, default=1.0, help="seconds each stage's command runs")
    p.add_argument("--dvc", default=None, help="dvc executable (default: beside this Python)")
    p.add_argument("--out", required=True, help="JSON report")
    return p


def _dvc() -> str:
    beside = Path(sys.executable).parent / "dvc"
    return str(beside) if beside.is_file() else (shutil.which("dvc") or "dvc")


def make_repo(root: Path, stages: int, sleep: float) -> None:
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([DVC, "init", "-q"], cwd=root, check=True)
    (root / "out").mkdir()
    (root / "dvc.yaml").write_text(DVC_YAML)
    write_params(root, stages, sleep, 0)


def write_params(root: Path, stages: int, sleep: float, value: int) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(
        {"sleep": sleep, "items": {f"i{k}": f"round{value}_{k}" for k in range(stages)}}))


def one_round(root: Path, stages: int, wait: bool, value: int) -> dict:
    extra = ["--wait-for-lock"] if wait else []  # a global option: before the command
    start = time.perf_counter()
    procs = [subprocess.Popen([DVC, *extra, "repro", "-s", f"work@i{k}"], cwd=root,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for k in range(stages)]
    outputs = [p.communicate()[0] for p in procs]
    wall = time.perf_counter() - start
    failed = [(k, p.returncode, next((line for line in out.splitlines() if "ERROR" in line),
                                     (out.strip().splitlines() or [""])[-1])[:200])
              for k, (p, out) in enumerate(zip(procs, outputs)) if p.returncode != 0]
    try:
        lock = yaml.safe_load((root / "dvc.lock").read_text()) or {}
        lock_ok = True
    except (OSError, yaml.YAMLError):
        lock, lock_ok = {}, False
    recorded = 0
    for k in range(stages):
        entry = lock.get("stages", {}).get(f"work@i{k}", {})
        param = entry.get("params", {}).get("params.yaml", {}).get(f"items.i{k}")
        if param == f"round{value}_{k}":
            recorded += 1
    # a failed process whose command had run: its output is there, its record is not
    ran_unrecorded = sum((root / "out" / f"i{k}.txt").is_file()
                         and (root / "out" / f"i{k}.txt").read_text() == f"round{value}_{k}"
                         for k, _, _ in failed)
    status = subprocess.run([DVC, "status", "--json"], cwd=root, capture_output=True, text=True)
    try:
        clean = status.returncode == 0 and json.loads(status.stdout or "{}") == {}
    except json.JSONDecodeError:
        clean = False
    return {"wall_s": round(wall, 2), "exit_nonzero": len(failed), "failures": failed,
            "failed_after_running_the_command": ran_unrecorded,
            "dvc_lock_parses": lock_ok, "stages_recorded": recorded,
            "stages_lost": stages - recorded, "dvc_status_clean": clean}


def run_mode(base: Path, stages: int, rounds: int, sleep: float, wait: bool) -> dict:
    root = base / ("wait" if wait else "plain")
    make_repo(root, stages, sleep)
    results = []
    for r in range(1, rounds + 1):
        write_params(root, stages, sleep, r)
        results.append(one_round(root, stages, wait, r))
    return {"command": f"dvc{' --wait-for-lock' if wait else ''} repro -s work@<item>",
            "rounds": results,
            "processes_failed": sum(r["exit_nonzero"] for r in results),
            "stages_lost_from_dvc_lock": sum(r["stages_lost"] for r in results),
            "failed_after_running_the_command": sum(r["failed_after_running_the_command"]
                                                    for r in results),
            "dvc_lock_always_parsed": all(r["dvc_lock_parses"] for r in results),
            "rounds_with_dirty_status": sum(not r["dvc_status_clean"] for r in results)}


def main(argv: list[str] | None = None) -> int:
    global DVC
    args = build_parser().parse_args(argv)
    DVC = args.dvc or _dvc()
    version = subprocess.run([DVC, "--version"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="dvc_concurrency_") as tmp:
        modes = {name: run_mode(Path(tmp), args.stages, args.rounds, args.sleep, wait)
                 for name, wait in (("plain", False), ("wait_for_lock", True))}
    report = {"benchmark": "dvc_concurrency",
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
              "dvc_version": version, "stages": args.stages, "rounds": args.rounds,
              "sleep_s": args.sleep, "modes": modes,
              "hardware": provenance.hardware(), "git_commit": provenance.git_commit()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    provenance.atomic_write_json(Path(args.out), report)
    for name, mode in modes.items():
        print(f"{name}: {mode['processes_failed']} of {args.stages * args.rounds} processes "
              f"failed, {mode['stages_lost_from_dvc_lock']} stages lost from dvc.lock, "
              f"{mode['rounds_with_dirty_status']} rounds with dvc status not clean")
    return 0


DVC = "dvc"

if __name__ == "__main__":
    sys.exit(main())
