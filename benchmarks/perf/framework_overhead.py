"""Host time per training step of the suite's Runner path next to the hand-written loop's, with
the model's compute made negligible, and the number of kernel-launching ops per step of each.

On a GPU the host must queue step k + 1 while the device computes step k: if the host's own
time per step (Python, mmengine's loop and hooks, the data path, the dispatch of every op)
exceeds the device's, the GPU waits. That host time can be measured on a CPU: shrink the work
of every op until the step's time is what the host spends issuing it. Both loops here run the
same networks (``train_throughput.py``'s same-network check) at width 1 with 16-wide projector
and predictor layers, views of 4 x 4 pixels cut from the 32 x 32 images, batch 512 by default
(so per-sample host work, if any, still shows). Everything else is the real path: for the
suite the composed config, mmengine's Runner, its hooks and logging, the training loop with
device-resident batches, SSLViewsPreprocessor, mmselfsup's algorithm, the optimizer wrapper;
for the hand loop the images as one tensor, the same augmentation and loss, plain SGD.

Reported per method: ms per step of each loop (median over rounds), the suite's excess over the
hand loop, and, from ``torch.profiler`` on one step that does not log (from the end of the step
before to the end of that step, so the data path counts), the number of kernel-launching ops:
leaf aten ops (ops that call no other aten op) less those that only make a view or allocate
(``NO_KERNEL_OPS``); each of the rest launches at least one kernel on a GPU. Host-sync ops among
the leaves are counted too.

    uv run python benchmarks/perf/framework_overhead.py --out results/perf/framework_overhead_cpu.json
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch
from mmengine.hooks import Hook

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_throughput as tt  # noqa: E402  (the same loops and the same-network check)

from ortho_suite import build, provenance  # noqa: E402
from ortho_suite.datasets.synthetic import make_synthetic_images  # noqa: E402

SYNC_OPS = ("aten::nonzero", "aten::item", "aten::_local_scalar_dense", "aten::is_nonzero")
LOG_INTERVAL = 10  # the suite's default logger interval (default_runtime.py)


# Leaf ops that only make a tensor header or allocate: no kernel on a GPU.
NO_KERNEL_OPS = frozenset(f"aten::{name}" for name in (
    "empty", "empty_strided", "empty_like", "as_strided", "view", "_unsafe_view", "_reshape_alias",
    "alias", "t", "transpose", "permute", "expand", "slice", "select", "unsqueeze", "squeeze",
    "detach", "lift_fresh", "resolve_conj", "resolve_neg", "unbind", "split", "chunk", "narrow",
    "result_type", "set_", "is_same_size", "view_as_real", "view_as_complex"))


def _inside_foreach(event) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith("aten::_foreach_"):
            return True
        parent = parent.cpu_parent
    return False


def leaf_ops(prof) -> list[str]:
    """Names of the aten ops of a profile that call no other aten op. A multi-tensor
    ``_foreach_`` op counts as one: on CPU it loops over per-tensor ops, on a GPU it launches
    one kernel per chunk of tensors."""
    return [e.name for e in prof.events() if e.name.startswith("aten::") and not _inside_foreach(e)
            and (e.name.startswith("aten::_foreach_")
                 or not any(c.name.startswith("aten::") for c in e.cpu_children))]


def op_counts(prof) -> dict:
    leaves = leaf_ops(prof)
    return {"kernel_ops": sum(n not in NO_KERNEL_OPS for n in leaves),
            "leaf_aten_ops": len(leaves), "sync_ops": sum(n in SYNC_OPS for n in leaves)}


class _ProfileOneStep(Hook):
    """Profiles from the end of iteration ``step - 1`` to the end of iteration ``step``."""

    priority = "LOWEST"  # after every other hook of both iterations

    def __init__(self, step: int) -> None:
        self.step, self.prof = step, None

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        done = runner.iter + 1
        if done == self.step - 1:
            self.prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            self.prof.__enter__()
        elif done == self.step:
            self.prof.__exit__(None, None, None)


def _options(method: str, args) -> list[str]:
    dims = [f"model.neck.hid_channels={args.hidden}", f"model.neck.out_channels={args.hidden}"]
    if method == "byol":
        dims.append(f"model.head.predictor.hid_channels={args.hidden}")
    return [*dims, *(f"model.data_preprocessor.views.{i}.size={args.view_size}" for i in (0, 1)),
            f"default_hooks.logger.interval={LOG_INTERVAL}"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["simclr", "byol"], choices=["simclr", "byol"])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--width", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=16, help="projector/predictor widths")
    parser.add_argument("--view-size", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.workers = 0  # read by train_throughput's suite config; the suite serves from the device
    if args.warmup < 2 or args.warmup % LOG_INTERVAL in (0, 1):
        raise SystemExit("--warmup must be >= 2 and the profiled step (warmup) must not log")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    speed = tt.SPEEDS["fp32"]
    images_np, _ = make_synthetic_images(args.batch * (args.warmup + args.iters), seed=0)
    images = torch.from_numpy(images_np).permute(0, 3, 1, 2).contiguous().to(device)
    step = args.warmup  # the profiled step: after warm-up, not a logging one

    report_methods = {}
    for method in args.methods:
        options = _options(method, args)
        cfg = tt.suite_config(method, args, speed, "/tmp/unused", options)
        recipes, mean, std = tt.view_recipes(cfg, device)
        dims = (args.hidden, args.hidden)
        suite_params = tt.trainable_parameters(build.build_model(cfg))
        hand_params = tt.trainable_parameters(tt.HandModel(method, args.width, *dims))
        if suite_params != hand_params:
            raise SystemExit(f"hand-written {method} has {hand_params} trainable parameters, the "
                             f"suite's {suite_params}: not the same network")

        ms = {"suite": [], "hand": []}
        for _ in range(args.rounds):
            ms["suite"].append(1000 * args.batch / tt.time_suite(method, args, speed, options))
            ms["hand"].append(1000 * args.batch / tt.time_hand(method, args, speed, images, recipes,
                                                               mean, std, dims))
        # one more run of each, profiled at one step (not timed)
        suite_prof = _ProfileOneStep(step)
        tt.time_suite(method, args, speed, options, hooks=[suite_prof])
        hand_prof = {}

        @contextlib.contextmanager
        def on_step(it):
            if it != step - 1:  # 0-based: the step-th step
                yield
                return
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                yield
            hand_prof["prof"] = prof

        tt.time_hand(method, args, speed, images, recipes, mean, std, dims, on_step=on_step)
        counts = {"suite": op_counts(suite_prof.prof), "hand": op_counts(hand_prof["prof"])}
        median = {k: statistics.median(v) for k, v in ms.items()}
        report_methods[method] = {
            "ms_per_step_median": {k: round(v, 2) for k, v in median.items()},
            "ms_per_step_samples": {k: [round(x, 2) for x in v] for k, v in ms.items()},
            "suite_minus_hand_ms": round(median["suite"] - median["hand"], 2),
            "ops_per_step": counts,
            "trainable_parameters": suite_params,
        }
        print(f"{method}: suite {median['suite']:.2f} ms/step, hand {median['hand']:.2f} ms/step, "
              f"suite - hand {median['suite'] - median['hand']:+.2f} ms; kernel-launching ops per "
              f"step suite {counts['suite']['kernel_ops']}, hand {counts['hand']['kernel_ops']}; "
              f"host syncs suite {counts['suite']['sync_ops']}, hand {counts['hand']['sync_ops']}",
              flush=True)

    if args.out:
        provenance.atomic_write_json(args.out, {
            "benchmark": "framework_overhead",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "device": device.type, "batch_images": args.batch, "views": 2,
            "width": args.width, "hidden": args.hidden, "view_size": args.view_size,
            "warmup": args.warmup, "iters": args.iters, "rounds": args.rounds,
            "profiled_step": step, "logger_interval": LOG_INTERVAL,
            "targets_ms": {"suite_per_step": 5.0, "suite_minus_hand": 2.0},
            "methods": report_methods,
            "hardware": provenance.hardware(), "git_commit": provenance.git_commit()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
