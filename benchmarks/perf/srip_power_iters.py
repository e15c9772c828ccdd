"""Cost and accuracy of SRIP's penalty at 2 (the paper's) vs more power-iteration products.

On the suite's CIFAR ResNet-18 (width 64 by default: the full network) at initialisation, the
penalty step (``orthogonality_penalty(backbone, "srip", power_iters=n)`` forward + backward) is
timed for each ``--iters`` value in turn, round after round, so that the ratios hold on a noisy
machine; and the summed estimate is compared with the exact sum of spectral norms
(``torch.linalg.matrix_norm(A, 2)`` per weight).

    uv run python benchmarks/perf/srip_power_iters.py --iters 2 10 --reps 20 \
        --shared yes --out results/perf/srip_power_iters.json

``--shared yes|no|unknown`` records whether other work ran on the machine meanwhile (the script
cannot tell); /proc/loadavg is recorded before and after as well.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from ortho_suite import build, provenance
from ortho_suite.regularizers import gram_deviation, orthogonality_penalty, regularized_weights
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose


def _loadavg() -> str | None:
    path = Path("/proc/loadavg")
    return path.read_text().strip() if path.is_file() else None


def _backbone(width: int):
    cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic", reg="srip",
                                         cfg_options=[f"model.backbone.width={width}"]),
                                 "/tmp/unused")
    torch.manual_seed(0)
    return build.build_model(cfg).backbone.train()


def _penalty_step(backbone, power_iters: int) -> float:
    start = time.perf_counter()
    penalty = orthogonality_penalty(backbone, "srip", power_iters=power_iters)
    penalty.backward()
    elapsed = time.perf_counter() - start
    backbone.zero_grad(set_to_none=True)
    return elapsed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--iters", type=int, nargs="+", default=[2, 10])
    parser.add_argument("--reps", type=int, default=20, help="timed rounds (after 2 warm-up rounds)")
    parser.add_argument("--starts", type=int, default=10, help="random starts for the accuracy")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--shared", choices=("yes", "no", "unknown"), default="unknown")
    parser.add_argument("--out", type=Path, default=None)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if any(n < 1 for n in args.iters) or args.reps < 1 or args.starts < 1:
        print("srip_power_iters: --iters, --reps and --starts must be >= 1", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = _loadavg()
    backbone = _backbone(args.width)
    weights = regularized_weights(backbone)

    times: dict[int, list[float]] = {n: [] for n in args.iters}
    for round_ in range(args.reps + 2):
        for n in args.iters:
            elapsed = _penalty_step(backbone, n)
            if round_ >= 2:
                times[n].append(elapsed)

    with torch.no_grad():
        exact = sum(torch.linalg.matrix_norm(gram_deviation(w.double()), 2).item()
                    for _, w in weights)
        accuracy = {}
        for n in args.iters:
            sums = []
            for seed in range(args.starts):
                torch.manual_seed(seed)
                sums.append(orthogonality_penalty(backbone, "srip", power_iters=n).item())
            accuracy[n] = {"mean_ratio_to_exact": statistics.mean(sums) / exact,
                           "min_ratio": min(sums) / exact, "max_ratio": max(sums) / exact}

    base = statistics.median(times[args.iters[0]])
    report = {
        "what": "SRIP penalty step (forward + backward of orthogonality_penalty over every "
                "Conv2d/Linear weight of the backbone) at each number of power-iteration "
                "products, and the summed estimate / exact sum of spectral norms at init",
        "backbone": f"resnet18_cifar width {args.width}", "weights": len(weights),
        "device": "cpu", "threads": torch.get_num_threads(), "reps": args.reps,
        "starts": args.starts,
        "penalty_step_ms": {str(n): {"median": 1e3 * statistics.median(t),
                                     "min": 1e3 * min(t), "max": 1e3 * max(t)}
                            for n, t in times.items()},
        "median_ratio_to_first": {str(n): statistics.median(t) / base for n, t in times.items()},
        "exact_sum_spectral_norms": exact,
        "estimate": {str(n): v for n, v in accuracy.items()},
        "machine_shared": args.shared, "loadavg_before": load_before, "loadavg_after": _loadavg(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hardware": provenance.hardware(), "git_commit": provenance.git_commit(),
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        provenance.atomic_write_text(args.out, text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
