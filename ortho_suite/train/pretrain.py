"""Self-supervised pretraining of one run: compose its config, check its data, build the mmengine
Runner, train, and write the run's record.

Data flows one way: a :class:`~ortho_suite.runs.RunSpec` -> composed config (``W/config.py``) ->
Runner -> checkpoints and ``W/summary.json`` (written last and atomically: its presence means the
run ended).
"""
from __future__ import annotations

import time
from pathlib import Path

from mmengine.config import Config

from .. import provenance
from ..build import check_data
from ..runs import CONFIG_FILE, SUMMARY_FILE, RunSpec
from .compose import compose_config, config_hash
from .launch import build_runner, check_launch
from .resume import clear_previous_run, plan_resume


def _hook(runner, hook_type, required: bool = True):
    for hook in runner.hooks:
        if isinstance(hook, hook_type):
            return hook
    if required:
        raise RuntimeError(f"{hook_type.__name__} missing from the runner's hooks")
    return None


def train(runner, cfg: Config) -> dict:
    """Train ``runner`` to the end (or to the first non-finite loss); the main process writes
    ``config.py`` and, last, ``summary.json`` in the work dir; every process returns the summary.

    Status ``finished``, or ``diverged`` with the iteration of the first non-finite loss and the
    last finite loss. A runner built with ``resume_from`` continues that run; otherwise the
    checkpoints and summary of an earlier run in the work dir are removed first.
    """
    from mmengine.dist import get_world_size, is_main_process

    from .hooks import OnlineMonitorHook, TrainingDiverged, TrainingRecordHook

    work_dir = Path(cfg.work_dir)
    if is_main_process():
        work_dir.mkdir(parents=True, exist_ok=True)
        if not runner.cfg.get("resume"):
            clear_previous_run(work_dir)
        cfg.dump(str(work_dir / CONFIG_FILE))
    start = time.perf_counter()
    divergence = None
    try:
        runner.train()
    except TrainingDiverged as err:
        divergence = {"diverged_at_iteration": err.iteration,
                      "loss_last_finite": err.last_finite_loss}
        runner.logger.warning(f"training diverged: {err}; last finite loss "
                              f"{err.last_finite_loss}; stopped")
    wall = time.perf_counter() - start

    record = _hook(runner, TrainingRecordHook)
    monitor = _hook(runner, OnlineMonitorHook, required=False)
    losses = [row["loss"] for row in record.records]
    penalties = [row["reg_penalty"] for row in record.records if "reg_penalty" in row]
    world = get_world_size()
    summary = {
        "status": "finished" if divergence is None else "diverged",
        **(divergence or {}),
        **dict(cfg.ortho_suite),
        "epochs": cfg.train_cfg.max_epochs,
        "iterations": len(record.records),
        "batch_size_global": cfg.train_dataloader.batch_size,
        "batch_size_per_process": cfg.train_dataloader.batch_size // world,
        "world_size": world,
        "resumed_from": record.resumes,
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "reg_penalty_first": penalties[0] if penalties else None,
        "reg_penalty_last": penalties[-1] if penalties else None,
        "train_log": record.records,
        "monitor": monitor.history if monitor is not None else [],
        "wall_time_s": round(wall, 3),  # of this process's training (since the resume, if any)
        "config_sha256": config_hash(cfg),
        "git_commit": provenance.git_commit(),
        "packages": provenance.package_versions(),
        "hardware": provenance.hardware(),
    }
    if is_main_process():
        provenance.atomic_write_json(work_dir / SUMMARY_FILE, summary)
    return summary


def pretrain(spec: RunSpec, work_dir: str | Path, launcher: str = "none",
             data_root: str | None = None, restart: bool = False,
             replace_other_config: bool = False) -> dict:
    """Compose, check the data, build and train the run ``spec`` in ``work_dir`` (resuming an
    unfinished one, see :func:`~ortho_suite.train.resume.plan_resume`); return its summary (also
    written to ``W/summary.json``). Names, options, data and the work dir are validated before
    anything is written. ``launcher``, ``data_root``, ``restart`` and ``replace_other_config``
    say how and where this execution runs; they never change the experiment."""
    cfg = compose_config(spec, work_dir, data_root=data_root)
    check_data(cfg)
    check_launch(cfg, launcher)
    resume_from = plan_resume(cfg, restart=restart, replace_other_config=replace_other_config)
    return train(build_runner(cfg, launcher, resume_from), cfg)
