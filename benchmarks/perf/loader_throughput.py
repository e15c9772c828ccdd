"""How many images per second the suite's training data loader delivers on its own, with no model.

The GPU throughput run of 2026-11-23 found the suite at 2.3-2.9k images/s whatever the
precision, while the hand-written loop (images already on the device) reached 5.3-10.9k: the
suite is bound outside the GPU. This benchmark isolates the first suspect, mmengine's loader: the
per-sample pipeline (``PackSelfSupInputs`` builds one data sample per image) in the worker
processes, then, in the training process, unpickling the batch from the workers, ``pseudo_collate``
and the copy of the images to the device (what ``SSLViewsPreprocessor.cast_data`` does, without
the augmentation). If this alone caps near the suite's training throughput, the loader is the
bound; if it runs far above it, the cost is in the training step itself (hooks, logging).

``loader, with labels`` packs each sample's class label too, as the suite's training pipeline
did until 2026-11-30. Each label is a small tensor, and torch moves every tensor between processes
through a shared-memory segment of its own, so a batch of 512 samples cost 512 of them. On the
2-core CPU machine this was the bound: 2.2-3.0k images/s with labels through 1-2 workers, far
more without them, and 51k images/s with 0 workers (no process boundary). Training samples now
carry no label (no SSL loss reads one; evaluation keeps them), and the comparison stays here so
a regression shows.

    uv run python benchmarks/perf/loader_throughput.py --batch 512 --workers 2
    python benchmarks/perf/loader_throughput.py --batch 512 --workers 12   # GPU machine

The loader is built from the same composed config as ``ortho-suite pretrain`` (synthetic dataset,
uint8 32x32 images), through mmengine's ``Runner.build_dataloader``. ``device-resident batches``
is what ``pretrain`` now uses for in-memory datasets (ortho_suite/train/loops.py): no workers,
the batch indexed on the device; the other rows are the DataLoader path that folder datasets
(ImageNet) keep and ``train_cfg.device_data=False`` selects.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone

import torch
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from ortho_suite import provenance
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose
from ortho_suite.train.loops import DeviceResidentBatches


def time_loader(args, device: torch.device, to_device: bool, labels: bool = False,
                resident: bool = False) -> float:
    """Images per second over ``args.iters`` batches after ``args.warmup`` (workers started).
    ``labels=True``: each packed data sample carries its class label (the old pipeline).
    ``resident=True``: the training loop's batches made on the device from one resident copy of
    the images (``DeviceResidentBatches``, what ``pretrain`` uses for in-memory datasets)."""
    n = args.batch * (args.warmup + args.iters)
    cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic", epochs=1, cfg_options=[f"train_dataloader.batch_size={args.batch}",
                                               f"train_dataloader.dataset.num_samples={n}",
                                               f"train_dataloader.num_workers={args.workers}",
                                               f"train_dataloader.persistent_workers={args.workers > 0}",
                                               f"train_dataloader.pin_memory={device.type == 'cuda'}"]), "/tmp/unused")
    if labels:
        for step in cfg.train_dataloader.dataset.pipeline:
            if step.type == "PackSelfSupInputs":
                step.algorithm_keys = ["gt_label"]
    with DefaultScope.overwrite_default_scope(cfg.default_scope):  # mmselfsup's registries
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    if resident:
        loader = DeviceResidentBatches(loader, device)
    t0 = None
    for i, batch in enumerate(loader):
        if i == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        if to_device:
            images = [x.to(device, non_blocking=True) for x in batch["inputs"]]
            assert images[0].dtype == torch.uint8
    if device.type == "cuda":
        torch.cuda.synchronize()
    return args.batch * args.iters / (time.perf_counter() - t0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=None)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    samples: dict[str, list[float]] = {"loader": [], "loader + to device": [],
                                       "loader, with labels": [], "device-resident batches": []}
    for _ in range(args.rounds):
        samples["loader"].append(time_loader(args, device, to_device=False))
        samples["loader + to device"].append(time_loader(args, device, to_device=True))
        samples["loader, with labels"].append(time_loader(args, device, to_device=False,
                                                          labels=True))
        samples["device-resident batches"].append(time_loader(args, device, to_device=True,
                                                              resident=True))
    median = {k: statistics.median(v) for k, v in samples.items()}
    print(f"suite training loader, batch {args.batch}, {args.workers} workers, {device.type}; "
          f"images/s, median of {args.rounds} rounds of {args.iters} batches")
    for key, value in median.items():
        print(f"  {key:<24} {value:10.1f}")
    if args.out:
        provenance.atomic_write_json(args.out, {
            "benchmark": "loader_throughput",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "device": device.type, "batch_images": args.batch, "workers": args.workers,
            "warmup": args.warmup, "iters": args.iters, "rounds": args.rounds,
            "images_per_s_median": {k: round(v, 1) for k, v in median.items()},
            "images_per_s_samples": {k: [round(x, 1) for x in v] for k, v in samples.items()},
            "hardware": provenance.hardware(), "git_commit": provenance.git_commit()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
