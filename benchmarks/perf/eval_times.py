"""Times of the evaluations on cached features, at the size of CIFAR with a ResNet-18:
50,000 train x 512 features, 10,000 test, 10 classes (random features: the timing does not
depend on the values); and of the frozen-feature extraction that fills that cache
(``ortho_suite.features.extract``: the suite's SimCLR model, CIFAR ResNet-18 of ``--width``, on
``--extract`` generated 32x32 images through the evaluation data path).

    uv run python benchmarks/perf/eval_times.py --extract 2048 --out results/perf/eval_times_cpu.json
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone

import torch

from ortho_suite import build, features, provenance
from ortho_suite.probes import PROBE_PROTOCOLS, knn_accuracy, linear_probe
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def extraction_images_per_s(n: int, width: int, device: torch.device) -> float:
    cfg = compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic", cfg_options=[f"model.backbone.width={width}",
                                               f"train_dataloader.dataset.num_samples={n}"]), "/tmp/unused")
    model = build.build_model(cfg).to(device).eval()
    dataset = build.feature_dataset(cfg, "train")
    dataset.full_init()  # generating the images is not part of extraction
    features.extract(model, build.feature_dataset(cfg, "train", 512), 512, device, "warm-up",
                     progress=False)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    seconds = _timed(lambda: (features.extract(model, dataset, 512, device, "extract",
                                               progress=False), sync()))
    return n / seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=50000)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--extract", type=int, default=0,
                        help="also time feature extraction of this many images (0: skip)")
    parser.add_argument("--width", type=int, default=64, help="ResNet-18 width for --extract")
    parser.add_argument("--out", default=None)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    g = torch.Generator().manual_seed(0)
    train = torch.randn(args.train, args.dim, generator=g).to(device)
    test = torch.randn(args.test, args.dim, generator=g).to(device)
    train_y = torch.randint(0, 10, (args.train,), generator=g).to(device)
    test_y = torch.randint(0, 10, (args.test,), generator=g).to(device)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = {
        "knn_cosine_k200_s": _timed(lambda: (knn_accuracy(train, train_y, test, test_y, k=200), sync())),
        "knn_euclidean_k5_s": _timed(lambda: (knn_accuracy(train, train_y, test, test_y, k=5,
                                                            metric="euclidean", weighted=False), sync())),
    }
    for name in PROBE_PROTOCOLS:
        if PROBE_PROTOCOLS[name].augmented:  # trains through the backbone, not on cached features
            continue
        times[f"probe_{name}_{PROBE_PROTOCOLS[name].epochs}ep_s"] = _timed(
            lambda: (linear_probe(train, train_y, test, test_y, name), sync()))
    report = {"benchmark": "eval_times", "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
              "train": args.train, "test": args.test, "dim": args.dim, "device": device.type,
              "seconds": {k: round(v, 3) for k, v in times.items()},
              "hardware": provenance.hardware(), "git_commit": provenance.git_commit()}
    if args.extract:
        rate = extraction_images_per_s(args.extract, args.width, device)
        report["extraction"] = {"images": args.extract, "width": args.width,
                                "images_per_s": round(rate, 1)}
    for key, value in report["seconds"].items():
        print(f"{key:<28} {value:8.2f} s")
    if args.extract:
        print(f"{'feature extraction':<28} {report['extraction']['images_per_s']:8.1f} images/s "
              f"({args.extract} images, ResNet-18 width {args.width})")
    if args.out:
        provenance.atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
