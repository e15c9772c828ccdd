"""The single place where ortho-suite adapts third-party packages to each other.

The pinned stack (torch 2.13 / 2.11, mmengine 0.10.7, mmcv-lite 2.0.1, mmcls 1.0.0rc6,
mmselfsup 1.0.0) was never released together: mmselfsup 1.0.0 targets mmengine 0.4-0.7 and
mmcv 2.0 full. Every shim needed to make them cooperate lives here, is idempotent, and is
applied by :func:`apply` before any mmengine Runner is built. No other module of the suite
patches third-party code.

Shims
-----
1. ``mmselfsup.engine.runner``: mmselfsup declares this module as the import location of its
   RUNNERS, RUNNER_CONSTRUCTORS and LOOPS registries, but the module was never shipped. mmengine
   0.10 imports every declared location when a registry is first queried, so building a train
   loop fails with ``ModuleNotFoundError``. mmselfsup registers no runner or loop of its own
   (all come from mmengine's parent registries), so an empty module at that name is exactly
   what the location should hold.
2. ``mmcv`` from ``mmcv-lite`` warns at import that its compiled ops are missing; the suite uses
   none of them, so that one warning is silenced.
3. Distributed training on CPU (gloo), used to test multi-process runs on machines without a
   GPU: mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` unconditionally, so
   :func:`init_cpu_process_group` initialises gloo from torchrun's environment before the Runner
   is built (the Runner then skips its own initialisation); and mmengine's default DDP wrapper
   passes ``device_ids=[local_rank]``, valid only for CUDA modules, so
   :func:`ddp_model_wrapper_cfg` gives CPU runs ``device_ids=None``. The ``slurm`` launcher is
   handled the same way: :func:`init_cpu_process_group` reads srun's ``SLURM_*`` variables as
   mmengine's slurm initialisation does, without its CUDA call.
4. SyncBN on CPU: ``torch.nn.SyncBatchNorm`` refuses CPU tensors, so multi-process CPU runs
   (the tests of distributed training) convert batch norms to :class:`CpuSyncBatchNorm`, which
   computes the same global batch statistics with a differentiable all-reduce. The conversion
   happens in the DDP wrapper :class:`CpuSyncBNDistributedDataParallel`, just before DDP wraps
   the model (where mmengine converts to torch's SyncBN on GPUs). GPU runs use torch's SyncBN.
5. mmselfsup's ``GatherLayer`` (used by its SimCLR) returns, in backward, only the local slice of
   the incoming gradient without summing it across processes. Every process computes the same
   global loss, so each parameter's gradient holds only its own samples' share, and DDP's
   averaging then scales the whole gradient by 1/world_size: a 2-process SimCLR run took half
   the step of a 1-process run with the same global batch (measured by
   ``tests/test_distributed.py``). The official SimCLR-family code (DirectCLR's, VICReg's)
   all-reduces the gradients in that backward; :class:`GatherLayerSummingGradients` does so and
   replaces the name in mmselfsup's SimCLR module.
6. Resuming: mmengine 0.10.7 loads local checkpoints with ``torch.load``'s default, which since
   torch 2.6 is ``weights_only=True``; a training checkpoint (message hub history buffers,
   random states, config) then fails to load. :func:`_load_local_checkpoint` is registered
   through mmengine's own extension point (``CheckpointLoader.register_scheme``) for local
   paths and loads with ``weights_only=False``: the suite only resumes from checkpoints it wrote.
7. ``Config.pretty_text`` formats the whole config with yapf on every call, and one smoke
   pretraining calls it 9 times on 3 distinct texts (the Runner's dump and log, every
   checkpoint's meta, the config hash), 0.13 s each on the 2-core CPU: the 6 repeats cost
   0.8 s of its 22 s. yapf's ``FormatCode`` is a pure
   function of its text and style, so :func:`_memoize_config_formatting` caches its result per
   (text, style) in the process; the text returned is the same.
"""
from __future__ import annotations

import math
import os
import sys
import types
import warnings

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

_APPLIED = False

MISSING_RUNNER_LOCATION = "mmselfsup.engine.runner"


def _provide_missing_runner_location() -> None:
    if MISSING_RUNNER_LOCATION in sys.modules:
        return
    module = types.ModuleType(
        MISSING_RUNNER_LOCATION,
        "Placeholder created by ortho_suite.compat: mmselfsup 1.0.0 names this module as a "
        "registry location but does not ship it; it registers nothing.",
    )
    sys.modules[MISSING_RUNNER_LOCATION] = module


def apply() -> None:
    """Apply every shim (idempotent). Call before importing mmselfsup models or building a Runner."""
    global _APPLIED
    if _APPLIED:
        return
    warnings.filterwarnings(
        "ignore", message=r".*MultiScaleDeformableAttention.*", category=UserWarning
    )
    _provide_missing_runner_location()
    _register_cpu_sync_bn_wrapper()
    _fix_simclr_gather_gradient()
    _select_simclr_logits_without_sync()
    _count_ema_steps_on_the_host()
    _register_full_checkpoint_loader()
    _memoize_config_formatting()
    _APPLIED = True


def _memoize_config_formatting() -> None:
    import functools

    import mmengine.config.config as config_module

    format_code = config_module.FormatCode
    if getattr(format_code, "memoized", False):
        return

    @functools.lru_cache(maxsize=16)
    def format_once(text: str, style: tuple, verify: bool | None):
        kwargs = {} if verify is None else {"verify": verify}
        return format_code(text, style_config=dict(style), **kwargs)

    def memoized_format_code(text, style_config=None, verify=None):
        if not isinstance(style_config, dict):  # not the Config's call: no cache
            kwargs = {} if verify is None else {"verify": verify}
            return format_code(text, style_config=style_config, **kwargs)
        return format_once(text, tuple(sorted(style_config.items())), verify)

    memoized_format_code.memoized = True
    memoized_format_code.cache_info = format_once.cache_info
    config_module.FormatCode = memoized_format_code


def _load_local_checkpoint(filename: str, map_location=None):
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"{filename} can not be found.")
    return torch.load(filename, map_location=map_location, weights_only=False)


def _register_full_checkpoint_loader() -> None:
    from mmengine.runner import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes="", loader=_load_local_checkpoint, force=True)


def ddp_model_wrapper_cfg(device_type: str, sync_bn: bool = False) -> dict:
    """mmengine ``model_wrapper_cfg`` for DistributedDataParallel on ``device_type``.

    On CUDA mmengine's default is right (its ``sync_bn='torch'`` converts batch norms); on CPU DDP
    must get ``device_ids=None``, and ``sync_bn`` selects the wrapper that converts batch norms
    to :class:`CpuSyncBatchNorm`.
    """
    cfg = dict(type="MMDistributedDataParallel", find_unused_parameters=False)
    if device_type != "cuda":
        cfg["device_ids"] = None
        if sync_bn:
            cfg["type"] = "CpuSyncBNDistributedDataParallel"
    return cfg


class CpuSyncBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """Batch norm over every process's samples that also runs on CPU (gloo): the global batch
    statistics with gradients through them (what torch's CUDA-only SyncBatchNorm computes),
    running statistics with the unbiased global variance. In eval mode, or in one process, it
    is a plain batch norm. Not a ``SyncBatchNorm`` subclass: DDP refuses those on CPU."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c, dims = x.shape[1], [0, *range(2, x.dim())]
        count = torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)
        stats = all_reduce(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        total = stats[-1]
        mean = stats[:c] / total
        var = stats[c:2 * c] / total - mean * mean  # biased: what batch norm normalises with
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            with torch.no_grad():
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * total / (total - 1), alpha=m)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_to_cpu_sync_bn(module: torch.nn.Module) -> torch.nn.Module:
    """Every batch norm of ``module`` becomes a :class:`CpuSyncBatchNorm`, in place (same
    parameters, buffers and hyper-parameters: only the forward changes)."""
    for sub in module.modules():
        if isinstance(sub, torch.nn.modules.batchnorm._BatchNorm):
            sub.__class__ = CpuSyncBatchNorm
    return module


class CpuSyncBNDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper after converting the model's batch norms to CpuSyncBatchNorm."""

    def __init__(self, module, **kwargs):
        super().__init__(module=convert_to_cpu_sync_bn(module), **kwargs)


def _register_cpu_sync_bn_wrapper() -> None:
    if CpuSyncBNDistributedDataParallel.__name__ not in MODEL_WRAPPERS:
        MODEL_WRAPPERS.register_module(module=CpuSyncBNDistributedDataParallel)


class GatherLayerSummingGradients(torch.autograd.Function):
    """All-gather with gradient: backward sums each slice's gradient over processes (as the
    GatherLayer of the DirectCLR and VICReg code), then keeps the local slice."""

    @staticmethod
    def forward(ctx, x: torch.Tensor):
        from mmengine.dist import all_gather

        return tuple(all_gather(x))

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> torch.Tensor:
        if len(grads) == 1:  # one process: all_gather was the identity
            return grads[0]
        stacked = torch.stack(grads)
        dist.all_reduce(stacked)
        return stacked[dist.get_rank()]


def _fix_simclr_gather_gradient() -> None:
    import mmselfsup.models.algorithms.simclr as simclr

    simclr.GatherLayer = GatherLayerSummingGradients


def _without_column(n_rows: int, n_cols: int, drop: torch.Tensor) -> torch.Tensor:
    """Column indices ``[n_rows, n_cols - 1]`` of every column but ``drop[i]`` in row i, in order:
    what ``masked_select`` of that mask keeps, but with a size known on the host."""
    cols = torch.arange(n_cols - 1, device=drop.device).view(1, -1)
    return cols + (cols >= drop.view(-1, 1)).long()


def _simclr_loss_without_sync(self, inputs, data_samples, **kwargs):
    """mmselfsup 1.0.0's ``SimCLR.loss`` with the same values selected by ``gather``: its
    ``masked_select`` (an output size the host must read from the device) and its masks built on
    the host and copied to the device (a blocking copy) made every step wait for the device."""
    inputs = torch.stack(inputs, 1)
    inputs = inputs.reshape((inputs.size(0) * 2, inputs.size(2), inputs.size(3), inputs.size(4)))
    z = self.neck(self.backbone(inputs))[0]
    z = z / (torch.norm(z, p=2, dim=1, keepdim=True) + 1e-10)
    z = torch.cat(GatherLayerSummingGradients.apply(z), dim=0)  # (2N) x d, views interleaved
    rows = torch.arange(z.size(0), device=z.device)
    s = torch.matmul(z, z.permute(1, 0))
    s = s.gather(1, _without_column(s.size(0), s.size(1), rows))  # the diagonal removed
    partner = torch.div(rows, 2, rounding_mode="floor") * 2  # its column once the diagonal is out
    positive = s[rows, partner].unsqueeze(1)
    negative = s.gather(1, _without_column(s.size(0), s.size(1), partner))
    return dict(loss=self.head(positive, negative))


def _select_simclr_logits_without_sync() -> None:
    from mmselfsup.models.algorithms.simclr import SimCLR

    SimCLR.loss = _simclr_loss_without_sync


def _cosine_ema_momentum(ema, steps: int) -> float:
    """mmselfsup's CosineEMA momentum at ``steps``, computed on the host with the float32
    rounding its tensor arithmetic applies (``pi * steps / max_iters`` on the long ``steps``
    buffer is a float32 tensor), so the result is bitwise the same."""
    import numpy as np
    from mmengine.logging import MessageHub

    max_iters = MessageHub.get_current_instance().get_info("max_iters")
    phase = np.float32(np.float32(math.pi) * np.float32(steps)) / np.float32(max_iters)
    return ema.end_momentum - (ema.end_momentum - ema.momentum) * (math.cos(float(phase)) + 1) / 2


def _update_parameters_counted_on_host(self, model) -> None:
    """mmengine 0.10's ``BaseAveragedModel.update_parameters`` with the step count mirrored on
    the host. The original tests its ``steps`` buffer (``steps == 0``, ``steps % interval``) and
    mmselfsup's CosineEMA turns ``cos(pi * steps / max_iters)`` into a float once per parameter:
    on a GPU, hundreds of waits for the device every step. The buffer is still advanced (it is
    what checkpoints hold); it is read once, at the first update after building or loading."""
    from mmselfsup.models.utils import CosineEMA

    steps = self.__dict__.get("_host_steps")
    if steps is None:
        steps = int(self.steps)
    source = model.state_dict() if self.update_buffers else dict(model.named_parameters())
    if steps == 0:
        for k, p_avg in self.avg_parameters.items():
            p_avg.data.copy_(source[k].data)
    elif steps % self.interval == 0:
        momentum = _cosine_ema_momentum(self, steps) if isinstance(self, CosineEMA) else None
        pairs = [(p_avg.data, source[k].data.to(p_avg.device))
                 for k, p_avg in self.avg_parameters.items() if p_avg.dtype.is_floating_point]
        if momentum is None:
            for avg, src in pairs:
                self.avg_func(avg, src, steps)
        elif pairs:  # CosineEMA.avg_func, its momentum computed once, as two multi-tensor ops
            avgs, srcs = (list(side) for side in zip(*pairs))
            torch._foreach_mul_(avgs, momentum)
            torch._foreach_add_(avgs, srcs, alpha=1 - momentum)
    if not self.update_buffers:
        pairs = [(b_avg.data, b_src.data.to(b_avg.device))
                 for b_avg, b_src in zip(self.module.buffers(), model.buffers())]
        if pairs:
            torch._foreach_copy_(*(list(side) for side in zip(*pairs)))
    self.steps += 1
    self.__dict__["_host_steps"] = steps + 1


def _count_ema_steps_on_the_host() -> None:
    from mmengine.model import BaseAveragedModel

    original_load = BaseAveragedModel._load_from_state_dict

    def load_and_forget_host_steps(self, *args, **kwargs):
        self.__dict__["_host_steps"] = None  # re-read from the loaded buffer
        return original_load(self, *args, **kwargs)

    BaseAveragedModel.update_parameters = _update_parameters_counted_on_host
    BaseAveragedModel._load_from_state_dict = load_and_forget_host_steps


LAUNCH_ENV = {"pytorch": ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"),
              "slurm": ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_NODELIST")}


def missing_launch_env(launcher: str) -> list[str]:
    """The environment variables ``launcher`` needs that are not set (torchrun or srun set them)."""
    return [var for var in LAUNCH_ENV.get(launcher, ()) if var not in os.environ]


def launch_world_size(launcher: str) -> int:
    """The number of processes the launcher started (1 without one)."""
    if launcher == "pytorch":
        return int(os.environ["WORLD_SIZE"])
    if launcher == "slurm":
        return int(os.environ["SLURM_NTASKS"])
    return 1


def launch_rank(launcher: str) -> int:
    """This process's rank as the launcher set it (0 without one), before any process group."""
    if launcher == "pytorch":
        return int(os.environ["RANK"])
    if launcher == "slurm":
        return int(os.environ["SLURM_PROCID"])
    return 0


def _slurm_to_torch_env() -> None:
    """What mmengine's slurm initialisation derives from srun's variables (master address: the
    first host of the node list, unless MASTER_ADDR is set)."""
    import shutil
    import subprocess

    os.environ.setdefault("MASTER_PORT", "29500")
    if "MASTER_ADDR" not in os.environ:
        nodes = os.environ["SLURM_NODELIST"]
        if shutil.which("scontrol"):
            os.environ["MASTER_ADDR"] = subprocess.getoutput(
                f"scontrol show hostname {nodes} | head -n1").strip()
        elif not any(c in nodes for c in "[],"):
            os.environ["MASTER_ADDR"] = nodes  # a single host needs no expansion
        else:
            from .errors import UsageError
            raise UsageError(f"cannot expand SLURM_NODELIST={nodes!r} without scontrol; set "
                             "MASTER_ADDR to the first node's address")
    os.environ["WORLD_SIZE"] = os.environ["SLURM_NTASKS"]
    os.environ["RANK"] = os.environ["SLURM_PROCID"]
    os.environ["LOCAL_RANK"] = os.environ.get("SLURM_LOCALID", "0")


def init_cpu_process_group(launcher: str) -> bool:
    """Initialise a gloo process group for a torchrun (``pytorch``) or srun (``slurm``) run
    without CUDA.

    Returns True if it initialised one. Does nothing on CUDA machines, without a launcher, or
    when a process group already exists.
    """
    if launcher not in LAUNCH_ENV or torch.cuda.is_available() or dist.is_initialized():
        return False
    if launcher == "slurm":
        _slurm_to_torch_env()
    dist.init_process_group("gloo", rank=int(os.environ["RANK"]),
                            world_size=int(os.environ["WORLD_SIZE"]))
    return True


def build_param_schedulers(runner, optimizer, cfgs: list[dict]) -> list:
    """``cfgs`` (mmengine param-scheduler configs) built for ``optimizer`` as the runner builds
    its own (the train loop's end and epoch length for ``convert_to_iter_based``), through
    mmengine 0.x's private ``Runner._build_param_scheduler`` (no public builder takes another
    optimizer)."""
    from mmengine.optim import OptimWrapper

    return runner._build_param_scheduler(cfgs, OptimWrapper(optimizer))
