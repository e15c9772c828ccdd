"""Starting a composed run: the launcher's environment and process count, and the mmengine Runner
(shims applied, the suite's modules, hooks and optimizers registered)."""
from __future__ import annotations

import contextlib
import copy
import logging
from pathlib import Path

from mmengine.config import Config

from .. import catalog, compat
from ..build import register_suite_modules
from ..errors import UsageError, unknown_name


def check_launch(cfg: Config, launcher: str) -> int:
    """The number of processes, after checking the launcher's environment, the global batch, the
    SyncBN setting and that a bf16 run has a GPU (UsageError otherwise)."""
    if launcher not in catalog.LAUNCHERS:
        raise unknown_name("launcher", launcher, catalog.LAUNCHERS)
    missing = compat.missing_launch_env(launcher)
    if missing:
        starter = "torchrun" if launcher == "pytorch" else "srun"
        raise UsageError(f"--launcher {launcher} needs {', '.join(missing)} in the environment; "
                         f"start the command with {starter} (README: Several processes)")
    world = compat.launch_world_size(launcher)
    batch = cfg.train_dataloader.batch_size
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise UsageError(f"train_dataloader.batch_size must be a positive integer, got {batch!r}")
    if batch % world:
        raise UsageError(f"the global batch size {batch} does not split over {world} processes; "
                         f"use a process count that divides it or set --cfg-options "
                         f"train_dataloader.batch_size=N with N a multiple of {world}")
    if cfg.get("sync_bn") not in (None, "torch"):
        raise UsageError(f"sync_bn must be 'torch' or None, got {cfg.sync_bn!r}")
    import torch

    if (cfg.get("speed") or {}).get("bf16") and not torch.cuda.is_available():
        raise UsageError("speed.bf16=True needs a CUDA GPU and none is visible; drop the option "
                         "to train in float32 on this machine")
    return world


def build_runner(cfg: Config, launcher: str = "none", resume_from: Path | None = None):
    """The mmengine Runner for a composed config (shims applied, suite modules registered).

    ``launcher='pytorch'`` (torchrun) or ``'slurm'`` (srun) runs one DDP process per worker; on
    a machine without CUDA it uses gloo. ``train_dataloader.batch_size`` is the global batch:
    each of the W processes loads batch/W samples, so the optimisation is the paper's however
    many processes run; batch norms are synchronised (``sync_bn``). ``resume_from``: a checkpoint
    to resume (model, optimizer, schedulers, message hub, hooks' state, random states). The
    launcher, device and resume settings belong to this execution, not to the experiment, so
    they are applied to a copy and never enter ``config.py`` or its hash.
    """
    world = check_launch(cfg, launcher)
    register_suite_modules()
    import torch
    from mmengine.runner import Runner

    speed = cfg.get("speed") or {}
    run_cfg = copy.deepcopy(cfg)
    run_cfg.launcher = launcher
    run_cfg.train_dataloader.batch_size = cfg.train_dataloader.batch_size // world
    if resume_from is not None:
        run_cfg.resume, run_cfg.load_from = True, str(resume_from)
    if launcher != "none":
        device = "cuda" if torch.cuda.is_available() else "cpu"
        run_cfg.model_wrapper_cfg = compat.ddp_model_wrapper_cfg(device, bool(cfg.get("sync_bn")))
        if device != "cuda":
            run_cfg.sync_bn = None  # converted by the CPU wrapper instead (compat, shim 4)
        run_cfg.env_cfg.dist_cfg = dict(backend="nccl" if device == "cuda" else "gloo")
        compat.init_cpu_process_group(launcher)
    with console_filtered():
        runner = Runner.from_cfg(run_cfg)
    if speed.get("compile"):
        # The backbone alone: compiling mmengine's whole train_step (cfg.compile) breaks the
        # graph at every hook, loss dict and optimizer call. nn.Module.compile keeps the
        # state-dict keys, so checkpoints are unchanged.
        getattr(runner.model, "module", runner.model).backbone.compile()
    return runner


class ConsoleFilter(logging.Filter):
    """What the terminal shows of mmengine's log: warnings and errors, the progress lines
    (``Epoch(train) [e][i/n] ... eta``), the online monitor's line and the checkpoint saves.
    mmengine's start-up dump (environment, config, hook order: about 320 lines) and everything
    else go to the run's log file only (``W/<timestamp>/<timestamp>.log``)."""

    KEEP = ("Epoch(train)", "monitor epoch", "Saving checkpoint")

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.getMessage().startswith(self.KEEP)


@contextlib.contextmanager
def console_filtered():
    """Give the console handler of every MMLogger created inside (the Runner's) a
    :class:`ConsoleFilter`; its file handler keeps everything."""
    from mmengine.logging import MMLogger

    original = MMLogger.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        for handler in self.handlers:
            if type(handler) is logging.StreamHandler:  # the console, not the FileHandler
                handler.addFilter(ConsoleFilter())

    MMLogger.__init__ = init
    try:
        yield
    finally:
        MMLogger.__init__ = original


def log_file(runner) -> str | None:
    """The run's mmengine log file (what the console does not show)."""
    for handler in runner.logger.handlers:
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    return None
