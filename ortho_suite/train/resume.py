"""Resume bookkeeping of a work dir: which checkpoint an interrupted run of the same config
continues from, whether the run already finished, and clearing an earlier run before a fresh one.

A work dir holding an unfinished run of the same config (checkpoints, no ``summary.json``) is
resumed from its newest complete checkpoint; ``summary.json`` is written last and atomically, so
its presence means the run ended (finished or diverged).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmengine.config import Config

from ..errors import UsageError
from ..runs import CHECKPOINT_GLOB, CONFIG_FILE, SUMMARY_FILE, checkpoints, is_complete
from .compose import config_hash


@dataclass(frozen=True)
class ResumePlan:
    """What to do with a work dir: resume from ``checkpoint``; or nothing, the run of this config
    ``finished`` there; or (neither) train from scratch. ``skipped``: newer checkpoints that do
    not open (cut short by a crash), passed over for ``checkpoint``."""

    checkpoint: Path | None = None
    skipped: tuple[str, ...] = ()
    finished: bool = False


def plan_resume(cfg: Config, restart: bool = False, replace_other_config: bool = False,
                retrain_finished: bool = False) -> ResumePlan:
    """What ``cfg``'s run does with its work dir. Reads, never writes.

    An unfinished run of the same config (same :func:`config_hash`) resumes from its newest
    complete checkpoint unless ``restart``. A finished run of the same config is left alone
    (``finished``) unless ``restart`` or ``retrain_finished`` (what DVC stages pass: DVC re-runs a
    stage only when its code or settings changed). A run of another config in the work dir is an
    error unless ``restart`` or ``replace_other_config`` (DVC stages pass it too).
    """
    work_dir = Path(cfg.work_dir)
    if not work_dir.is_dir():
        return ResumePlan()
    skipped = []
    checkpoint = None
    for candidate in checkpoints(work_dir):
        if is_complete(candidate):
            checkpoint = candidate
            break
        skipped.append(candidate.name)
    ended = (work_dir / SUMMARY_FILE).is_file()
    if checkpoint is None and not ended:
        return ResumePlan()
    config_path = work_dir / CONFIG_FILE
    # without importing its custom_imports: a work dir may hold a run of an older layout
    same = (config_path.is_file() and config_hash(
        Config.fromfile(str(config_path), import_custom_modules=False)) == config_hash(cfg))
    if not same and not (restart or replace_other_config):
        raise UsageError(f"{work_dir} holds a run of another config (its {CONFIG_FILE} differs "
                         "from this one); choose another --work-dir, or pass "
                         "--replace-other-config to discard that run")
    if same and ended and not (restart or retrain_finished):
        return ResumePlan(finished=True)
    if same and checkpoint is not None and not ended and not restart:
        return ResumePlan(checkpoint, tuple(skipped))
    return ResumePlan()


def clear_previous_run(work_dir: Path) -> None:
    """Checkpoints and record of an earlier run: a fresh run must never be resumed from, or
    read as, the previous one."""
    for path in [*work_dir.glob(CHECKPOINT_GLOB), work_dir / "last_checkpoint",
                 work_dir / SUMMARY_FILE]:
        path.unlink(missing_ok=True)
