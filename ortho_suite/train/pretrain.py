"""Self-supervised pretraining of one run: compose its config, check its data, build the mmengine
Runner, train, and write the run's record.

Data flows one way: a :class:`~ortho_suite.runs.RunSpec` -> composed config (``W/config.py``) ->
Runner -> checkpoints and ``W/summary.json`` (written last and atomically: its presence means the
run ended).
"""
from __future__ import annotations

import contextlib
import copy
import shutil
import time
from pathlib import Path

from mmengine.config import Config

from .. import compat, provenance
from ..build import build_model, check_data
from ..errors import UsageError
from ..runs import (CONFIG_FILE, SUMMARY_FILE, RunSpec, WorkDirBusy, check_not_busy,
                    check_work_dir, read_summary, run_lock)
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


def train(runner, cfg: Config, skipped_checkpoints: tuple[str, ...] = ()) -> dict:
    """Train ``runner`` to the end (or to the first non-finite loss); the main process writes
    ``config.py`` and, last, ``summary.json`` in the work dir; every process returns the summary.

    Status ``finished``, or ``diverged`` with the iteration of the first non-finite loss and the
    last finite loss. A runner built with ``resume_from`` continues that run; otherwise the
    checkpoints and summary of an earlier run in the work dir are removed first.
    ``skipped_checkpoints``: damaged checkpoints the resume passed over (logged, and recorded in
    ``resumed_from``).
    """
    from mmengine.dist import get_world_size, is_main_process

    from .hooks import OnlineMonitorHook, TrainingDiverged, TrainingRecordHook, summarize_monitor
    from .online_probe import OnlineLinearProbeHook, summarize_history

    work_dir = Path(cfg.work_dir)
    if is_main_process():
        work_dir.mkdir(parents=True, exist_ok=True)
        if not runner.cfg.get("resume"):
            clear_previous_run(work_dir)
        cfg.dump(str(work_dir / CONFIG_FILE))
    record = _hook(runner, TrainingRecordHook)
    if skipped_checkpoints:
        runner.logger.warning(f"resuming from {Path(runner.cfg.load_from).name}; newer "
                              f"checkpoint(s) {', '.join(skipped_checkpoints)} do not open "
                              "(cut short by a crash) and are passed over")
        record.skipped_checkpoints = tuple(skipped_checkpoints)
    start = time.perf_counter()
    divergence = None
    try:
        runner.train()
    except TrainingDiverged as err:
        divergence = {"diverged_at_iteration": err.iteration,
                      "loss_last_finite": err.last_finite_loss}
        runner.logger.warning(f"training diverged: {err}; last finite loss "
                              f"{err.last_finite_loss}; stopped")
    except Exception as err:
        if record.records:
            raise  # a crash after training began: its checkpoints resume it
        raise NothingTrained(str(build_error("the first training step", err))) from None
    wall = time.perf_counter() - start

    monitor = _hook(runner, OnlineMonitorHook, required=False)
    online_probe = _hook(runner, OnlineLinearProbeHook, required=False)
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
        # the monitor's last and best epoch (runs.METRICS monitor_knn_top1 / _best_top1)
        "monitor_knn": summarize_monitor(monitor.history) if monitor is not None else None,
        "online_linear": summarize_history(online_probe.history) if online_probe is not None else None,
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
             replace_other_config: bool = False, retrain_finished: bool = False) -> dict:
    """Compose, validate, build and train the run ``spec`` in ``work_dir``; return its summary
    (also written to ``W/summary.json``).

    Everything a user gives is checked before anything is written (:func:`validate`: names,
    options, data, the launcher, and a dry build of the model, the first training batch and the
    optimizer); any failure is one UsageError. Then the work dir is locked for this process
    (:func:`~ortho_suite.runs.run_lock`) and the run resumed, left alone or trained from scratch
    (:func:`~ortho_suite.train.resume.plan_resume`). A run that had already finished is not
    trained again: its summary is returned as it is on disk, with ``already_finished`` set.
    ``launcher``, ``data_root``, ``restart``, ``replace_other_config`` and ``retrain_finished``
    say how and where this execution runs; they never change the experiment.
    """
    work_dir = check_work_dir(work_dir)
    check_not_busy(work_dir)  # at once, before building anything (the lock below decides)
    cfg = validate(spec, work_dir, launcher, data_root)
    choices = dict(restart=restart, replace_other_config=replace_other_config,
                   retrain_finished=retrain_finished)
    if plan_resume(cfg, **choices).finished:  # (and another config's run is refused here)
        return {**read_summary(work_dir), "already_finished": True}  # touching nothing
    before = set(work_dir.iterdir()) if work_dir.is_dir() else None
    try:
        with run_lock(work_dir, hold=compat.launch_rank(launcher) == 0):
            plan = plan_resume(cfg, **choices)  # again, now that no other process can change it
            if plan.finished:
                return {**read_summary(work_dir), "already_finished": True}
            with building("the mmengine Runner"):
                runner = build_runner(cfg, launcher, plan.checkpoint)
            print_header(runner, cfg, plan.checkpoint)
            return train(runner, cfg, plan.skipped)
    except WorkDirBusy:
        raise  # the work dir is another process's
    except UsageError:  # refused, or failed before its first step: leave the work dir as it was
        _remove_new(work_dir, before)
        raise


def print_header(runner, cfg: Config, resume_from: Path | None = None) -> None:
    """The terminal's few lines about the run (main process): run, method, backbone, data,
    config hash, work dir and the log file that holds mmengine's full start-up dump."""
    from mmengine.dist import is_main_process

    from .launch import log_file

    if not is_main_process():
        return
    o = cfg.ortho_suite
    data = cfg.train_dataloader.dataset.get("indices")
    lines = [
        f"ortho-suite pretrain: run {Path(cfg.work_dir).name}"
        + (f" (resuming from {Path(resume_from).name})" if resume_from else ""),
        f"  method {o.method}, reg {o.get('reg')}, backbone {o.backbone}, data {o.dataset}"
        + (f" (first {data} images)" if isinstance(data, int) else "")
        + f", {cfg.train_cfg.max_epochs} epochs of batch {cfg.train_dataloader.batch_size}",
        f"  config sha256 {config_hash(cfg)[:16]}, work dir {cfg.work_dir}",
        f"  log (mmengine's environment, config and hooks) {log_file(runner)}",
    ]
    print("\n".join(lines), flush=True)


def validate(spec: RunSpec, work_dir: Path, launcher: str = "none", data_root=None) -> Config:
    """The composed config of ``spec``, after building what the run will build: the model, the
    training data and its first batch, the optimizer. Writes nothing; every error is one
    UsageError line (the underlying error's text included) naming the setting to fix."""
    with building("composing the config"):
        cfg = compose_config(spec, work_dir, data_root=data_root)
        world = check_launch(cfg, launcher)
    with building("reading the data"):
        dataset = check_data(cfg)
    dry_build(cfg, world, dataset)
    return cfg


def dry_build(cfg: Config, world: int, dataset) -> None:
    """Build the model and the optimizer as the Runner will, and draw the first batch of the
    training ``dataset``; an epoch without a single step (a batch larger than the data) is an
    error."""
    from mmengine.dataset import default_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    with building("the model (model)"):
        model = build_model(cfg)
    # In the run's scope, as the Runner builds it: the suite's optimizers (LARS) are registered in
    # mmselfsup's registry only (a fresh process has no default scope before its Runner exists).
    with building("the optimizer (optim_wrapper)"), \
            DefaultScope.overwrite_default_scope(cfg.default_scope):
        build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    with building("the training data (train_dataloader)"):
        length = len(dataset)
    per_process = cfg.train_dataloader.batch_size // world
    steps = (length // world) // per_process  # drop_last: partial batches are dropped
    if steps < 1:
        raise UsageError(f"an epoch has no training step: {length} training images over "
                         f"{world} process(es) in batches of {per_process}; lower "
                         "train_dataloader.batch_size or train on more images")
    with building("the first training batch (train_dataloader)"):
        default_collate([dataset[i] for i in range(min(per_process, 2))])


class NothingTrained(UsageError):
    """The run failed before its first step: a setting the model or the data cannot take."""


def build_error(what: str, err: Exception) -> UsageError:
    text = " ".join(str(err).split()) or type(err).__name__
    return UsageError(f"the run cannot be built with these settings: {what} failed with "
                      f"{type(err).__name__}: {text[:300]}; fix the --cfg-options value or key "
                      "it names")


@contextlib.contextmanager
def building(what: str):
    """The one guard around composing and building a run: a UsageError passes as it is; any
    other error becomes one UsageError line naming what was being built, with the error's text."""
    try:
        yield
    except UsageError:
        raise
    except Exception as err:  # noqa: BLE001 - every build error is a setting the user can fix
        raise build_error(what, err) from None


def _remove_new(work_dir: Path, before: set[Path] | None) -> None:
    """Remove what this command created in ``work_dir`` (all of it, if it did not exist)."""
    if before is None:
        shutil.rmtree(work_dir, ignore_errors=True)
        return
    for path in set(work_dir.iterdir()) - before if work_dir.is_dir() else ():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
