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
   :func:`ddp_model_wrapper_cfg` gives CPU runs ``device_ids=None``.
"""
from __future__ import annotations

import os
import sys
import types
import warnings

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
    _APPLIED = True


def ddp_model_wrapper_cfg(device_type: str) -> dict:
    """mmengine ``model_wrapper_cfg`` for DistributedDataParallel on ``device_type``.

    On CUDA mmengine's default is right; on CPU DDP must get ``device_ids=None``.
    """
    cfg = dict(type="MMDistributedDataParallel", find_unused_parameters=False)
    if device_type != "cuda":
        cfg["device_ids"] = None
    return cfg


def init_cpu_process_group(launcher: str) -> bool:
    """Initialise a gloo process group for a torchrun (``launcher='pytorch'``) run without CUDA.

    Returns True if it initialised one. Does nothing on CUDA machines, for other launchers, or
    when a process group already exists.
    """
    import torch
    import torch.distributed as dist

    if launcher != "pytorch" or torch.cuda.is_available() or dist.is_initialized():
        return False
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        if var not in os.environ:
            raise RuntimeError(f"--launcher pytorch needs {var} in the environment; start with torchrun")
    dist.init_process_group("gloo", rank=int(os.environ["RANK"]),
                            world_size=int(os.environ["WORLD_SIZE"]))
    return True
