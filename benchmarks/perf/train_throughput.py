"""Pretraining throughput of `ortho-suite pretrain` against a minimal hand-written PyTorch loop
and, where the `lightly` package is installed, LightlySSL's loop: same network, loss, batch and
augmentation recipe, measured side by side in one process, round after round, so that the
ratios hold on a noisy machine.

    uv run python benchmarks/perf/train_throughput.py --out results/perf/train_throughput_cpu.json
    # GPU, batch 512 per view, float32 and the fast path (bf16 backbone, channels-last):
    python benchmarks/perf/train_throughput.py --batch 512 --width 64 --speed fp32 fast \
        --lightly --out results/perf/train_throughput_gpu.json

Contenders, for each method (SimCLR, BYOL) and speed setting:

- ``suite``: the real path of ``ortho-suite pretrain``: the composed config, the mmengine Runner
  with its hooks and logging, mmengine's data loader over the dataset (uint8 images), the views
  made by SSLViewsPreprocessor on the device, mmselfsup's algorithm, the optimizer wrapper. The
  online monitor is switched off (it runs between epochs; the hand loop has none).
- ``hand``: what nobody could make faster without changing the math: the images already on the
  device as one uint8 tensor, a random permutation per epoch, the same batched augmentation
  (:func:`ortho_suite.augment.augment_view`, same recipe), a hand-written CIFAR ResNet-18 of the
  same width and the same projector/predictor, the suite's pure loss
  (:mod:`ortho_suite.losses`), plain ``torch.optim.SGD``.
- ``lightly``: LightlySSL 1.x as its documentation and CIFAR-10 benchmark use it: per-image
  torchvision/PIL augmentation (``SimCLRTransform`` / ``BYOLTransform`` at 32 px, blur off)
  in DataLoader workers, lightly's heads and losses on the same hand-written backbone, float32.

Throughput is images per second, each image giving two views, over ``--iters`` iterations after
``--warmup`` iterations. The images are the suite's generated set (the timing does not depend
on the pixels); every contender sees the same number of them.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import itertools
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from torch import nn

from ortho_suite import build, losses, provenance
from ortho_suite.augment import ViewRecipe, augment_view
from ortho_suite.datasets.synthetic import make_synthetic_images
from ortho_suite.runs import RunSpec
from ortho_suite.train import compose, launch
from ortho_suite.train import pretrain as training

SPEEDS = {  # the suite's speed.* options (ortho_suite/configs/_base_/default_runtime.py)
    "fp32": dict(bf16=False, channels_last=False, compile=False),
    "fast": dict(bf16=True, channels_last=True, compile=False),
    "compiled": dict(bf16=True, channels_last=True, compile=True),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# --- the suite ------------------------------------------------------------------------------

class _WindowTimer(Hook):
    """Wall time from the end of iteration ``start`` to the end of iteration ``stop``."""

    priority = "VERY_LOW"

    def __init__(self, start: int, stop: int) -> None:
        self.start, self.stop, self.t0, self.elapsed = start, stop, None, None

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        done = runner.iter + 1
        if done in (self.start, self.stop):
            _sync(next(runner.model.parameters()).device)
            now = time.perf_counter()
            if done == self.start:
                self.t0 = now
            else:
                self.elapsed = now - self.t0


def suite_config(method: str, args, speed: dict, work_dir: str, extra_options=()):
    n = args.batch * (args.warmup + args.iters)
    options = [f"model.backbone.width={args.width}", f"train_dataloader.batch_size={args.batch}",
               f"train_dataloader.dataset.num_samples={n}",
               f"train_dataloader.num_workers={args.workers}",
               f"train_dataloader.persistent_workers={args.workers > 0}",
               f"train_dataloader.pin_memory={torch.cuda.is_available()}",
               "custom_hooks.1.interval=0",  # OnlineMonitorHook off
               *(f"speed.{k}={v}" for k, v in speed.items()), *extra_options]
    return compose.compose_config(RunSpec(method, "resnet18_cifar", "synthetic", epochs=1, cfg_options=options), work_dir)


_RUNNERS = itertools.count()


def time_suite(method: str, args, speed: dict, extra_options=(), hooks=()) -> float:
    """Images per second of the suite's Runner path; ``hooks`` are registered on its runner."""
    with tempfile.TemporaryDirectory() as work_dir:
        cfg = suite_config(method, args, speed, work_dir, extra_options)
        cfg.default_hooks.checkpoint.interval = 10 ** 6  # no checkpoint inside the benchmark
        cfg.log_level = "WARNING"
        # mmengine names a runner's visualizer and logger after the config file and the second it
        # started, and reuses an instance of that name: two runners built within one second would
        # share the first one's (deleted) work dir
        cfg.experiment_name = f"bench{next(_RUNNERS)}"
        runner = launch.build_runner(cfg)
        timer = _WindowTimer(args.warmup, args.warmup + args.iters)
        for hook in (timer, *hooks):
            runner.register_hook(hook)
        training.train(runner, cfg)
        return args.batch * args.iters / timer.elapsed


# --- the hand-written loop ------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet18(nn.Module):
    """3x3 stride-1 stem, no max-pool, four stages of two basic blocks, global average pool."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        blocks, cin = [], width
        for i, cout in enumerate(width * 2 ** s for s in range(4)):
            blocks += [BasicBlock(cin, cout, 1 if i == 0 else 2), BasicBlock(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = cin

    def forward(self, x):
        return self.blocks(self.stem(x)).mean(dim=(2, 3))


def mlp(cin: int, hidden: int, cout: int, bias: bool, last_bn: bool) -> nn.Sequential:
    """mmselfsup's two-layer NonLinearNeck: Linear, BN, ReLU, Linear without bias (+ BN)."""
    layers = [nn.Linear(cin, hidden, bias=bias), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
              nn.Linear(hidden, cout, bias=False)]
    return nn.Sequential(*layers, *([nn.BatchNorm1d(cout)] if last_bn else []))


class HandModel(nn.Module):
    """The suite configs' networks: SimCLR (projector 2048-128, last BN) or BYOL (projector and
    predictor 4096-256 with biases, no last BN; EMA target)."""

    def __init__(self, method: str, width: int, hidden: int | None = None,
                 out: int | None = None) -> None:
        super().__init__()
        self.method = method
        self.backbone = CifarResNet18(width)
        if method == "simclr":
            hidden, out = hidden or 2048, out or 128
            self.projector = mlp(self.backbone.out_dim, hidden, out, bias=False, last_bn=True)
        else:
            hidden, out = hidden or 4096, out or 256
            self.projector = mlp(self.backbone.out_dim, hidden, out, bias=True, last_bn=False)
            self.predictor = mlp(out, hidden, out, bias=True, last_bn=False)
            self.target = copy.deepcopy(nn.ModuleList([self.backbone, self.projector]))
            self.target.requires_grad_(False)

    def trunk(self, net: nn.Module, x: torch.Tensor, bf16: bool) -> torch.Tensor:
        # The suite's precision policy: only the backbone under bf16 autocast.
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=bf16):
            return net(x).float()

    def loss(self, v1: torch.Tensor, v2: torch.Tensor, bf16: bool) -> torch.Tensor:
        if self.method == "simclr":
            z1 = self.projector(self.trunk(self.backbone, v1, bf16))
            z2 = self.projector(self.trunk(self.backbone, v2, bf16))
            return losses.nt_xent_loss(z1, z2, temperature=0.1)
        p1 = self.predictor(self.projector(self.trunk(self.backbone, v1, bf16)))
        p2 = self.predictor(self.projector(self.trunk(self.backbone, v2, bf16)))
        with torch.no_grad():
            t1 = self.target[1](self.trunk(self.target[0], v1, bf16))
            t2 = self.target[1](self.trunk(self.target[0], v2, bf16))
        return losses.byol_loss(p1, t2) + losses.byol_loss(p2, t1)

    @torch.no_grad()
    def update_target(self, momentum: float = 0.99) -> None:
        if self.method == "byol":
            online = [*self.backbone.parameters(), *self.projector.parameters()]
            torch._foreach_lerp_(list(self.target.parameters()), online, 1 - momentum)


def view_recipes(cfg, device: torch.device):
    """The suite config's view recipes and normalisation, for the hand-written loop."""
    pre = cfg.model.data_preprocessor
    recipes = [ViewRecipe(**{k: tuple(v) if isinstance(v, list) else v for k, v in view.items()})
               for view in pre.views]
    mean = torch.tensor(pre.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(pre.std, device=device).view(1, -1, 1, 1)
    return recipes, mean, std


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def time_hand(method: str, args, speed: dict, images: torch.Tensor, recipes, mean, std,
              model_dims=(None, None), on_step=None) -> float:
    """Images per second of the hand-written loop; ``on_step(it)`` is entered around each step
    (a context manager factory, e.g. to profile one)."""
    device = images.device
    torch.manual_seed(0)
    model = HandModel(method, args.width, *model_dims).to(device).train()
    memory_format = torch.channels_last if speed["channels_last"] else torch.contiguous_format
    model.to(memory_format=memory_format)
    if speed["compile"]:
        model.backbone.compile()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05,
                                momentum=0.9, weight_decay=5e-4)
    order = torch.randperm(len(images), device=device)
    t0 = None
    for it in range(args.warmup + args.iters):
        if it == args.warmup:
            _sync(device)
            t0 = time.perf_counter()
        with on_step(it) if on_step else contextlib.nullcontext():
            x = images[order[it * args.batch:(it + 1) * args.batch]].float().div_(255.0)
            v1, v2 = (((augment_view(x, r) - mean) / std).contiguous(memory_format=memory_format)
                      for r in recipes)
            loss = model.loss(v1, v2, speed["bf16"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.update_target()
    _sync(device)
    return args.batch * args.iters / (time.perf_counter() - t0)


# --- LightlySSL -----------------------------------------------------------------------------

class _PILImages(torch.utils.data.Dataset):
    """uint8 HxWx3 images served as PIL images, as torchvision's CIFAR10 serves them."""

    def __init__(self, images, transform) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i]))


def time_lightly(method: str, args, images_np, device: torch.device) -> float:
    from lightly.loss import NegativeCosineSimilarity, NTXentLoss
    from lightly.models.modules import (
        BYOLPredictionHead,
        BYOLProjectionHead,
        SimCLRProjectionHead,
    )
    from lightly.models.utils import update_momentum
    from lightly.transforms import (
        BYOLTransform,
        BYOLView1Transform,
        BYOLView2Transform,
        SimCLRTransform,
    )

    torch.manual_seed(0)
    backbone = CifarResNet18(args.width).to(device)
    if method == "simclr":
        transform = SimCLRTransform(input_size=32, gaussian_blur=0.0)
        head = SimCLRProjectionHead(backbone.out_dim, 2048, 128).to(device)
        criterion = NTXentLoss(temperature=0.1)
        params = [*backbone.parameters(), *head.parameters()]
    else:
        transform = BYOLTransform(view_1_transform=BYOLView1Transform(input_size=32, gaussian_blur=0.0),
                                  view_2_transform=BYOLView2Transform(input_size=32, gaussian_blur=0.0))
        head = nn.Sequential(BYOLProjectionHead(backbone.out_dim, 4096, 256),
                             BYOLPredictionHead(256, 4096, 256)).to(device)
        target = copy.deepcopy(nn.Sequential(backbone, head[0])).requires_grad_(False)
        criterion = NegativeCosineSimilarity()
        params = [*backbone.parameters(), *head.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4)
    loader = torch.utils.data.DataLoader(
        _PILImages(images_np, transform), batch_size=args.batch, shuffle=True, drop_last=True,
        num_workers=args.workers, pin_memory=device.type == "cuda",
        persistent_workers=args.workers > 0)
    t0 = None
    for it, views in enumerate(loader):
        if it == args.warmup:
            _sync(device)
            t0 = time.perf_counter()
        if it == args.warmup + args.iters:
            break
        x0, x1 = (v.to(device, non_blocking=True) for v in views)
        if method == "simclr":
            loss = criterion(head(backbone(x0)), head(backbone(x1)))
        else:
            update_momentum(nn.Sequential(backbone, head[0]), target, m=0.99)
            p0, p1 = head(backbone(x0)), head(backbone(x1))
            with torch.no_grad():
                t0_, t1_ = target(x0), target(x1)
            loss = 0.5 * (criterion(p0, t1_) + criterion(p1, t0_))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _sync(device)
    return args.batch * args.iters / (time.perf_counter() - t0)


# --- the harness ----------------------------------------------------------------------------

def _record(samples: dict, key: str, images_per_s: float) -> None:
    samples.setdefault(key, []).append(images_per_s)
    print(f"  {key:<28} {images_per_s:10.1f} images/s", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["simclr", "byol"], choices=["simclr", "byol"])
    parser.add_argument("--speed", nargs="+", default=["fp32"], choices=sorted(SPEEDS),
                        help="fp32; fast = bf16 backbone + channels-last; compiled = fast + "
                             "torch.compile (GPU only for bf16)")
    parser.add_argument("--width", type=int, default=16, help="ResNet-18 width (64 = the papers')")
    parser.add_argument("--batch", type=int, default=64, help="images per step (two views each)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="data-loader workers of the suite and of the lightly loop")
    parser.add_argument("--lightly", action="store_true", help="also time LightlySSL's loop")
    parser.add_argument("--out", default=None)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu" and any(SPEEDS[s]["bf16"] for s in args.speed):
        parser.error("the bf16 speed settings need a CUDA GPU")
    n = args.batch * (args.warmup + args.iters)
    images_np, _ = make_synthetic_images(n, seed=0)  # the suite's synthetic set, same seed
    images = torch.from_numpy(images_np).permute(0, 3, 1, 2).contiguous().to(device)

    samples: dict[str, list[float]] = {}
    checks = {}
    for method in args.methods:
        cfg = suite_config(method, args, SPEEDS["fp32"], "/tmp/unused")
        recipes, mean, std = view_recipes(cfg, device)
        suite_params = trainable_parameters(build.build_model(cfg))
        hand_params = trainable_parameters(HandModel(method, args.width))
        checks[method] = {"suite_trainable_parameters": suite_params,
                          "hand_trainable_parameters": hand_params}
        if suite_params != hand_params:
            raise SystemExit(f"hand-written {method} has {hand_params} trainable parameters, the "
                             f"suite's {suite_params}: not the same network")
        for _ in range(args.rounds):
            for speed_name in args.speed:
                speed = SPEEDS[speed_name]
                _record(samples, f"{method}/{speed_name}/suite", time_suite(method, args, speed))
                _record(samples, f"{method}/{speed_name}/hand",
                        time_hand(method, args, speed, images, recipes, mean, std))
            if args.lightly:
                _record(samples, f"{method}/fp32/lightly", time_lightly(method, args, images_np, device))

    median = {k: statistics.median(v) for k, v in samples.items()}
    ratios, overhead_ms = {}, {}
    for method in args.methods:
        for speed_name in args.speed:
            key = f"{method}/{speed_name}"
            ratios[f"{key}: suite / hand"] = median[f"{key}/suite"] / median[f"{key}/hand"]
            # the suite's step time minus the hand loop's: what the runner, loader and hooks add
            overhead_ms[key] = 1000 * args.batch * (1 / median[f"{key}/suite"]
                                                    - 1 / median[f"{key}/hand"])
            if args.lightly:
                ratios[f"{key}: suite / lightly fp32"] = (median[f"{key}/suite"]
                                                          / median[f"{method}/fp32/lightly"])
    report = {
        "benchmark": "train_throughput",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "device": device.type, "backbone": f"CIFAR ResNet-18 width {args.width}",
        "batch_images": args.batch, "views": 2, "warmup": args.warmup, "iters": args.iters,
        "rounds": args.rounds, "workers": args.workers, "speeds": {s: SPEEDS[s] for s in args.speed},
        "images_per_s_median": {k: round(v, 1) for k, v in median.items()},
        "images_per_s_samples": {k: [round(x, 1) for x in v] for k, v in samples.items()},
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "suite_step_overhead_ms": {k: round(v, 2) for k, v in overhead_ms.items()},
        "same_network_check": checks,
        "hardware": provenance.hardware(), "packages": provenance.package_versions(),
        "git_commit": provenance.git_commit(),
    }
    print(f"CIFAR ResNet-18 width {args.width}, batch {args.batch} x 2 views, {device.type}; "
          f"images/s, median of {args.rounds} rounds of {args.iters} iterations")
    for key, value in median.items():
        print(f"  {key:<28} {value:10.1f}")
    for key, value in ratios.items():
        print(f"  {key:<36} {value:6.3f}")
    for key, value in overhead_ms.items():
        print(f"  {key + ': suite step overhead':<36} {value:6.1f} ms")
    if args.out:
        provenance.atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
