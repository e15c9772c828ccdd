"""Resume bookkeeping of a work dir: which checkpoint an interrupted run of the same config
continues from, and clearing an earlier run before a fresh one.

A work dir holding an unfinished run of the same config (checkpoints, no ``summary.json``) is
resumed from its newest complete checkpoint; ``summary.json`` is written last and atomically, so
its presence means the run ended (finished or diverged).
"""
from __future__ import annotations

from pathlib import Path

from mmengine.config import Config

from ..errors import UsageError
from ..runs import CHECKPOINT_GLOB, CONFIG_FILE, SUMMARY_FILE, latest_checkpoint
from .compose import config_hash


def plan_resume(cfg: Config, restart: bool = False, replace_other_config: bool = False) -> Path | None:
    """The checkpoint to resume ``cfg`` from, or None to train from scratch. Reads, never writes.

    An unfinished run of the same config (same :func:`config_hash`) resumes from its newest
    complete checkpoint unless ``restart``. A run of another config in the work dir is an error
    unless ``restart`` or ``replace_other_config`` (what DVC stages pass: DVC decides when a
    run is stale). A finished run of the same config is trained again from scratch.
    """
    work_dir = Path(cfg.work_dir)
    if not work_dir.is_dir():
        return None
    checkpoint = latest_checkpoint(work_dir, verify=True)
    ended = (work_dir / SUMMARY_FILE).is_file()
    if checkpoint is None and not ended:
        return None
    config_path = work_dir / CONFIG_FILE
    # without importing its custom_imports: a work dir may hold a run of an older layout
    same = (config_path.is_file() and config_hash(
        Config.fromfile(str(config_path), import_custom_modules=False)) == config_hash(cfg))
    if not same and not (restart or replace_other_config):
        raise UsageError(f"{work_dir} holds a run of another config (its {CONFIG_FILE} differs "
                         "from this one); choose another --work-dir, or pass "
                         "--replace-other-config to discard that run")
    if same and checkpoint is not None and not ended and not restart:
        return checkpoint
    return None


def clear_previous_run(work_dir: Path) -> None:
    """Checkpoints and record of an earlier run: a fresh run must never be resumed from, or
    read as, the previous one."""
    for path in [*work_dir.glob(CHECKPOINT_GLOB), work_dir / "last_checkpoint",
                 work_dir / SUMMARY_FILE]:
        path.unlink(missing_ok=True)
