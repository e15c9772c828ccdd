"""The performance harness: every benchmark of this folder with the preset of the machine it runs
on, each writing its JSON to ``results/perf/<benchmark>_<device>.json`` (committed, so a later
run can be compared), then one table of the headline figures.

    uv run python benchmarks/perf/run_all.py            # on a CPU machine: the CPU preset
    python benchmarks/perf/run_all.py                   # on a GPU machine: the GPU preset
    python benchmarks/perf/run_all.py --only train_throughput or_overhead

Benchmarks: ``train_throughput`` (suite vs hand-written loop, and LightlySSL's loop where the
``lightly`` package is importable), ``framework_overhead`` (host time and kernel-launching ops
per step at negligible compute, suite vs hand), ``or_overhead`` (step cost of --reg so/srip), ``eval_times``
(feature extraction, k-NN and linear probes on 50,000 x 512 cached features),
``loader_throughput`` (the suite's data loader alone, no model) and, on CPU,
``dvc_noop`` (a ``dvc repro`` with nothing to do, timed only when ``dvc status`` reports the
pipeline up to date). The smoke pipeline's full ``dvc repro`` takes longer than this harness
should; ``--pipeline`` times it on a fresh clone of HEAD (``pipeline_times`` JSON).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "perf"

PRESETS = {  # device -> benchmark name (JSON stem) -> (script in this folder, its arguments)
    "cpu": {
        "train_throughput": ("train_throughput", [
            "--width", "16", "--batch", "64", "--warmup", "3", "--iters", "6", "--rounds", "2",
            "--workers", "2", "--speed", "fp32"]),
        "or_overhead": ("or_overhead", ["--width", "32", "--batch", "128", "--reps", "4"]),
        "framework_overhead": ("framework_overhead", ["--batch", "512", "--rounds", "3"]),
        "eval_times": ("eval_times", ["--extract", "1024", "--width", "64"]),
        # long windows and 3 rounds: 8 batches swung 6k-114k images/s with the workers'
        # prefetch and the 2 cores shared with the training process
        "loader_throughput": ("loader_throughput", ["--batch", "512", "--workers", "2",
                                                    "--warmup", "4", "--iters", "24",
                                                    "--rounds", "3"]),
    },
    "gpu": {
        "train_throughput": ("train_throughput", [
            "--width", "64", "--batch", "512", "--warmup", "10", "--iters", "30", "--rounds", "2",
            "--workers", "12", "--speed", "fp32", "fast"]),
        "or_overhead": ("or_overhead", ["--width", "64", "--batch", "256", "--reps", "10",
                                        "--speed", "fast"]),
        "framework_overhead": ("framework_overhead", ["--batch", "512", "--rounds", "3"]),
        "or_overhead_fp32": ("or_overhead", ["--width", "64", "--batch", "256", "--reps", "10",
                                             "--speed", "fp32"]),
        "eval_times": ("eval_times", ["--extract", "50000", "--width", "64"]),
        "loader_throughput": ("loader_throughput", ["--batch", "512", "--workers", "12",
                                                    "--iters", "30"]),
    },
}


def run_benchmark(name: str, script: str, args: list[str], device: str) -> Path:
    out = RESULTS / f"{name}_{device}.json"
    if script == "train_throughput" and importlib.util.find_spec("lightly") is not None:
        args = [*args, "--lightly"]
    start = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / f"{script}.py"), *args, "--out", str(out)],
                   check=True, cwd=ROOT)
    print(f"[{name}: {time.perf_counter() - start:.0f} s]", flush=True)
    return out


def dvc_noop(device: str) -> Path | None:
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "--quiet"], cwd=ROOT,
                            capture_output=True)
    if status.returncode != 0:
        print("[dvc_noop: skipped, the pipeline is not up to date; run `make repro` first]")
        return None
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=ROOT, check=True,
                   capture_output=True)
    seconds = time.perf_counter() - start
    return _write(f"dvc_noop_{device}", {"benchmark": "dvc_noop", "noop_repro_s": round(seconds, 2)})


def pipeline_times(device: str, keep: Path | None = None) -> Path:
    """``make repro`` on a fresh clone of HEAD (environment sync included), a second ``make
    repro`` (environment check + no-op pipeline) and a no-op ``dvc repro``. ``keep``: clone into
    this folder and leave it (its ``dvc.lock`` and ``results/`` are the pipeline's outputs)."""
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(keep) if keep else Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        timings = {}
        for label, cmd in [("fresh_make_repro_s", ["make", "repro"]),
                           ("second_make_repro_s", ["make", "repro"]),
                           ("noop_dvc_repro_s", [str(clone / ".venv" / "bin" / "dvc"), "repro"])]:
            start = time.perf_counter()
            subprocess.run(cmd, cwd=clone, check=True, capture_output=True)
            timings[label] = round(time.perf_counter() - start, 1)
    return _write(f"pipeline_times_{device}", {"benchmark": "pipeline_times", **timings})


def _write(stem: str, report: dict) -> Path:
    from ortho_suite import provenance

    report = {**report, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
              "hardware": provenance.hardware(), "git_commit": provenance.git_commit()}
    path = RESULTS / f"{stem}.json"
    provenance.atomic_write_json(path, report)
    return path


def headline(path: Path) -> list[tuple[str, str]]:
    """The figures of one benchmark JSON worth a line in the summary table."""
    report = json.loads(path.read_text())
    kind = report["benchmark"]
    if kind == "train_throughput":
        rows = [(f"train images/s {k}", f"{v:,.0f}") for k, v in report["images_per_s_median"].items()]
        rows += [(f"ratio {k}", f"{v:.2f}") for k, v in report["ratios"].items()]
        return rows + [(f"suite step overhead {k}", f"{v:+.1f} ms")
                       for k, v in report.get("suite_step_overhead_ms", {}).items()]
    if kind == "or_overhead":
        speed = report.get("speed", "fp32")
        return ([(f"OR step overhead {reg} ({speed})", f"{100 * v:+.1f}%")
                 for reg, v in report["step_overhead_vs_none"].items()]
                + [(f"OR penalty alone {reg} / step ({speed})", f"{100 * v:.1f}%")
                   for reg, v in report.get("penalty_share_of_none_step", {}).items()])
    if kind == "framework_overhead":
        rows = []
        for method, m in report["methods"].items():
            ms, ops = m["ms_per_step_median"], m["ops_per_step"]
            rows += [(f"host ms/step {method} suite / hand (negligible compute)",
                      f"{ms['suite']:.1f} / {ms['hand']:.1f}"),
                     (f"kernel-launching ops/step {method} suite / hand",
                      f"{ops['suite']['kernel_ops']} / {ops['hand']['kernel_ops']}")]
        return rows
    if kind == "loader_throughput":
        return [(f"{k} images/s (no model)", f"{v:,.0f}")
                for k, v in report["images_per_s_median"].items()]
    if kind == "eval_times":
        rows = [(k, f"{v:.2f} s") for k, v in report["seconds"].items()]
        if "extraction" in report:
            rows.append(("feature extraction images/s", f"{report['extraction']['images_per_s']:,.0f}"))
        return rows
    return [(k, str(v)) for k, v in report.items() if k.endswith("_s")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None, help="run only these benchmarks")
    parser.add_argument("--pipeline", action="store_true",
                        help="also time `make repro` on a fresh clone (minutes on CPU)")
    parser.add_argument("--keep-clone", type=Path, default=None, metavar="DIR",
                        help="with --pipeline: clone into DIR and keep it")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    device = "gpu" if torch.cuda.is_available() else "cpu"
    written = []
    for name, (script, bench_args) in PRESETS[device].items():
        if args.only is None or name in args.only:
            written.append(run_benchmark(name, script, bench_args, device))
    if device == "cpu" and (args.only is None or "dvc_noop" in args.only):
        written.append(dvc_noop(device))
    if args.pipeline:
        written.append(pipeline_times(device, args.keep_clone))
    print(f"\nperformance summary ({device}; JSON in {RESULTS.relative_to(ROOT)}/)")
    for path in filter(None, written):
        for label, value in headline(path):
            print(f"  {label:<48} {value:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
