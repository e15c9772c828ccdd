"""Cost of orthogonality regularization relative to a training step, measured side by side.

For one model (the suite's own, built from the composed config) the three variants
--reg none | so | srip take turns, step after step, on the same batch, so that the ratios hold
on a noisy machine. A step is forward + backward + SGD update of the SSL loss (plus the penalty).
Also times the penalty alone (forward + backward).

    uv run python benchmarks/perf/or_overhead.py --method simclr --width 64 --batch 256 \
        --reps 3 --out results/perf/or_overhead_cpu.json

``--speed fast`` (GPU) trains as ``speed.bf16=True speed.channels_last=True`` does: channels-last
weights and views, the backbone under bf16 autocast; the penalties stay float32.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone

import torch

from ortho_suite import build, provenance
from ortho_suite.regularizers import orthogonality_penalty, regularized_weights
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose

REGS = ("none", "so", "srip")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _build(method: str, reg: str, width: int, device: torch.device, fast: bool):
    options = [f"model.backbone.width={width}", f"speed.channels_last={fast}"]
    cfg = compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", reg=reg, cfg_options=options), "/tmp/unused")
    torch.manual_seed(0)
    model = build.build_model(cfg).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return model, optimizer


def _step(model, optimizer, views, fast: bool = False) -> None:
    with torch.autocast(device_type=views[0].device.type, dtype=torch.bfloat16, enabled=fast):
        losses = model.loss(views, data_samples=[])
    total = sum(v for k, v in losses.items() if "loss" in k)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="simclr")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--speed", default="fp32", choices=["fp32", "fast"])
    parser.add_argument("--out", default=None)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fast = args.speed == "fast"
    if fast and device.type != "cuda":
        parser.error("--speed fast needs a CUDA GPU")
    memory_format = torch.channels_last if fast else torch.contiguous_format
    views = [torch.randn(args.batch, 3, 32, 32, device=device).contiguous(memory_format=memory_format)
             for _ in range(2)]
    variants = {reg: _build(args.method, reg, args.width, device, fast) for reg in REGS}
    for _ in range(2):  # warm-up
        for model, optimizer in variants.values():
            _step(model, optimizer, views, fast)
    times = {reg: [] for reg in REGS}
    for _ in range(args.reps):
        for reg, (model, optimizer) in variants.items():
            _sync(device)
            start = time.perf_counter()
            _step(model, optimizer, views, fast)
            _sync(device)
            times[reg].append(time.perf_counter() - start)

    backbone = variants["none"][0].backbone
    penalty_times = {}
    for kind in ("so", "srip"):
        samples = []
        for _ in range(max(args.reps, 5)):
            backbone.zero_grad(set_to_none=True)
            _sync(device)
            start = time.perf_counter()
            orthogonality_penalty(backbone, kind).backward()
            _sync(device)
            samples.append(time.perf_counter() - start)
        penalty_times[kind] = statistics.median(samples)

    step = {reg: statistics.median(v) for reg, v in times.items()}
    report = {
        "benchmark": "or_overhead",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "method": args.method, "backbone": f"resnet18_cifar width {args.width}",
        "device": device.type, "speed": args.speed,
        "batch_per_view": args.batch, "views": 2, "reps": args.reps,
        "regularized_layers": len(regularized_weights(backbone)),
        "step_time_s_median": step,
        "step_time_s_samples": times,
        "step_overhead_vs_none": {reg: step[reg] / step["none"] - 1 for reg in ("so", "srip")},
        "penalty_fwd_bwd_s_median": penalty_times,
        "penalty_share_of_none_step": {k: t / step["none"] for k, t in penalty_times.items()},
        "hardware": provenance.hardware(),
        "packages": provenance.package_versions(),
        "git_commit": provenance.git_commit(),
    }
    print(f"{args.method} ResNet-18(width {args.width}) batch {args.batch}x2 on {device.type}, "
          f"{args.speed}:")
    print(f"{'reg':<6} {'step s (median)':>16} {'overhead':>9}")
    for reg in REGS:
        overhead = "" if reg == "none" else f"{100 * report['step_overhead_vs_none'][reg]:+.1f}%"
        print(f"{reg:<6} {step[reg]:>16.4f} {overhead:>9}")
    for kind, t in penalty_times.items():
        print(f"{kind} penalty alone (fwd+bwd): {t:.4f} s = "
              f"{100 * report['penalty_share_of_none_step'][kind]:.2f}% of a step")
    if args.out:
        provenance.atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
