"""Augmented views per second: per-image torchvision (the usual CPU data-loader path) against the
suite's batched path (ortho_suite.augment), same recipe, same images, measured in one run.

    uv run python benchmarks/perf/augment_throughput.py --recipe solo_cifar_symmetric \
        --images 2048 --out results/perf/augment_cpu.json

The per-image path is torchvision.transforms.v2 on uint8 CHW tensors in this process (one
worker's view of the data loader); the batched path runs on the GPU when there is one, else on
the CPU. Both produce the same number of views of the same size.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone

import torch
from mmengine.config import Config
from torchvision.transforms import v2

from ortho_suite import catalog, provenance
from ortho_suite.augment import ViewRecipe, augment_view
from ortho_suite.datasets.fmnist import DEFAULT_ROOT, load_fashion_mnist, to_rgb32


def recipe_views(name: str) -> list[ViewRecipe]:
    cfg = Config.fromfile(catalog.config_path(catalog.lookup("augmentations", name)))
    return [ViewRecipe(**{k: tuple(v) if isinstance(v, list) else v for k, v in view.items()})
            for view in cfg.model.data_preprocessor.views]


def torchvision_pipeline(r: ViewRecipe) -> v2.Compose:
    """The same view with torchvision's per-image transforms (solo-learn's order)."""
    ops = [v2.RandomResizedCrop(r.size, scale=r.crop_scale, ratio=r.crop_ratio,
                                interpolation=v2.InterpolationMode.BICUBIC, antialias=True)]
    ops.append(v2.RandomApply([v2.ColorJitter(r.brightness, r.contrast, r.saturation, r.hue)], p=r.jitter))
    ops.append(v2.RandomGrayscale(p=r.grayscale))
    if r.blur > 0:
        kernel = 2 * int(3 * r.blur_sigma[1] + 0.999) + 1
        ops.append(v2.RandomApply([v2.GaussianBlur(kernel, sigma=r.blur_sigma)], p=r.blur))
    if r.solarize > 0:
        ops.append(v2.RandomSolarize(threshold=128, p=r.solarize))
    ops.append(v2.RandomHorizontalFlip(p=r.hflip))
    return v2.Compose(ops)


def load_images(n: int) -> torch.Tensor:
    if (DEFAULT_ROOT / "train-images-idx3-ubyte.gz").is_file():
        images, _ = load_fashion_mnist(None, "train")
        return torch.from_numpy(to_rgb32(images[:n])).permute(0, 3, 1, 2).contiguous()
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="solo_cifar_symmetric")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--out", default=None)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    views = recipe_views(args.recipe)
    images = load_images(args.images)
    pipelines = [torchvision_pipeline(r) for r in views]

    start = time.perf_counter()
    for img in images:
        for pipeline in pipelines:
            pipeline(img)
    per_image_s = time.perf_counter() - start

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    on_device = images.to(device)

    def batched_pass():
        for i in range(0, len(on_device), args.batch):
            chunk = on_device[i:i + args.batch].float().div_(255)
            for recipe in views:
                augment_view(chunk, recipe)
        if device.type == "cuda":
            torch.cuda.synchronize()

    batched_pass()  # warm-up
    start = time.perf_counter()
    batched_pass()
    batched_s = time.perf_counter() - start

    n_views = args.images * len(views)
    report = {
        "benchmark": "augment_throughput",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "recipe": args.recipe, "images": args.images, "views_per_image": len(views),
        "batch": args.batch, "image_size": int(images.shape[-1]),
        "per_image_torchvision_views_per_s": n_views / per_image_s,
        "batched_device": device.type,
        "batched_views_per_s": n_views / batched_s,
        "speedup_batched_over_per_image": per_image_s / batched_s,
        "torch_threads": torch.get_num_threads(),
        "hardware": provenance.hardware(),
        "git_commit": provenance.git_commit(),
    }
    print(f"recipe {args.recipe}, {args.images} images x {len(views)} views, {images.shape[-1]}px")
    print(f"per-image torchvision (1 process): {report['per_image_torchvision_views_per_s']:10.0f} views/s")
    print(f"batched on {device.type:<4}                 : {report['batched_views_per_s']:10.0f} views/s "
          f"({report['speedup_batched_over_per_image']:.1f}x)")
    if args.out:
        provenance.atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
