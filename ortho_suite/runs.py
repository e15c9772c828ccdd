"""The run record: what identifies a run, where its files lie, and how its results are read.

One definition of each, used by every stage:

- :class:`RunSpec`, the settings that identify a pretraining run (a run of ``params.yaml``, a
  profile, a table cell, a command line);
- the run-folder contract: the file names of a work dir (``config.py``, checkpoints,
  ``summary.json``) and of a run's results (``metrics.json``, ``spectra.json``), checkpoint
  lookup and completeness;
- the readers of ``summary.json`` and ``metrics.json``, with the divergence rule and the names of
  the metrics the tables, the summary and the leaderboard read.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path

from . import catalog
from .errors import UsageError

# ---------------------------------------------------------------------------- the run's identity


@dataclass(frozen=True)
class RunSpec:
    """The settings that identify one pretraining run.

    ``aug`` None means the dataset's default recipe, ``epochs`` None the schedule's length.
    ``cfg_options`` are mmengine ``key=value`` overrides. ``recipe``: ``paper`` or ``default``
    (catalog.RECIPE_CHOICES). ``variant`` tells apart runs a table cell would otherwise confuse
    (e.g. DirectCLR's projectors); it never reaches the config.
    """

    method: str
    backbone: str
    dataset: str
    reg: str = "none"
    aug: str | None = None
    seed: int = 0
    epochs: int | None = None
    cfg_options: tuple[str, ...] = ()
    recipe: str = "paper"
    variant: str = "standard"

    def __post_init__(self):
        object.__setattr__(self, "cfg_options", tuple(self.cfg_options or ()))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def cell(self) -> dict:
        """The fields a paper-table cell names (seeds are averaged over)."""
        return {k: getattr(self, k) for k in CELL_FIELDS}


DEFAULT_VARIANT = RunSpec.__dataclass_fields__["variant"].default
DEFAULT_RECIPE = RunSpec.__dataclass_fields__["recipe"].default
# What a run's record (summary.json, metrics.json) names, in this order.
RECORD_FIELDS = ("method", "reg", "backbone", "dataset", "aug", "seed")
# What a run of params.yaml or of a profile must give (``variant`` is optional there).
PARAMS_FIELDS = (*RECORD_FIELDS, "epochs", "cfg_options")
# What a table cell or claim matches runs on.
CELL_FIELDS = ("method", "reg", "backbone", "dataset", "epochs", "variant")
# Fields holding a registered name, and the catalog kind each is checked against.
NAMED_FIELDS = {"method": "methods", "reg": "regularizers", "backbone": "backbones",
                "dataset": "datasets", "aug": "augmentations"}


def spec_from_params(path: Path, run_id: str, run) -> RunSpec:
    """The RunSpec of ``runs.<run_id>`` of a params or profile file; UsageError naming the file
    and the field for a missing field, a wrong type or an unknown name."""
    if not isinstance(run, dict):
        raise UsageError(f"{path}: runs.{run_id} must be a mapping of {', '.join(PARAMS_FIELDS)}")
    missing = [f for f in PARAMS_FIELDS if f not in run]
    if missing:
        raise UsageError(f"{path}: runs.{run_id} is missing {', '.join(missing)}")
    for field, kind in NAMED_FIELDS.items():
        try:
            catalog.lookup(kind, run[field])
        except UsageError as err:
            raise UsageError(f"{path}: runs.{run_id}.{field}: {err}") from None
    for field, valid in (("seed", lambda v: v >= 0), ("epochs", lambda v: v >= 1)):
        value = run[field]
        if isinstance(value, bool) or not isinstance(value, int) or not valid(value):
            raise UsageError(f"{path}: runs.{run_id}.{field}: expected a "
                             f"{'non-negative' if field == 'seed' else 'positive'} integer, "
                             f"got {value!r}")
    options = run["cfg_options"]
    if not isinstance(options, str) and options is not None:
        raise UsageError(f"{path}: runs.{run_id}.cfg_options: expected one string of "
                         f"key=value entries separated by spaces, got {options!r}")
    variant = run.get("variant", DEFAULT_VARIANT)
    # A variant with its own protocol (catalog.VARIANT_RECIPES) trains with its recipe.
    recipe = run.get("recipe", catalog.VARIANT_RECIPES.get(variant, DEFAULT_RECIPE))
    if recipe not in catalog.RECIPE_CHOICES:
        raise UsageError(f"{path}: runs.{run_id}.recipe: unknown recipe {recipe!r}; valid: "
                         f"{', '.join(catalog.RECIPE_CHOICES)}")
    return RunSpec(method=run["method"], backbone=run["backbone"], dataset=run["dataset"],
                   reg=run["reg"], aug=run["aug"], seed=run["seed"], epochs=run["epochs"],
                   cfg_options=tuple(str(options).split()) if options else (),
                   recipe=recipe, variant=variant)


# ---------------------------------------------------------------------------- the run folder

# A pretraining work dir (work_dirs/<profile>/<run-id>/).
CONFIG_FILE = "config.py"
SUMMARY_FILE = "summary.json"
CHECKPOINT_GLOB = "epoch_*.pth"
LOCK_FILE = "run.lock"  # held by the one process writing the work dir; holds its pid
# A run's evaluation (results/<profile>/runs/<run-id>/) and its feature cache.
METRICS_FILE = "metrics.json"
SPECTRA_FILE = "spectra.json"
FEATURES_FILE = "features.pt"
# A profile's results (results/<profile>/).
RUNS_DIR = "runs"
PRETRAIN_SUMMARY_FILE = "pretrain_summary.json"
PROVENANCE_FILE = "provenance.json"


def check_work_dir(work_dir) -> Path:
    """``work_dir`` as a Path, after checking that it is a folder or can become one (a file in
    its place, a name longer than the filesystem allows, or an unreadable parent is a
    UsageError). Writes nothing."""
    path = Path(work_dir)
    try:
        if path.exists() and not path.is_dir():
            raise UsageError(f"--work-dir {path} is a file, not a folder; choose another path")
        parent = next((p for p in path.parents if p.exists()), Path("."))
    except OSError as err:  # e.g. ENAMETOOLONG: a path component longer than NAME_MAX
        raise UsageError(f"--work-dir {path} cannot be used: {err.strerror}; choose a shorter "
                         "or valid path") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--work-dir {path}: {parent} is not writable; choose another path")
    return path


def lock_holder(work_dir: Path) -> int | None:
    """The pid of the process that holds the run lock of ``work_dir``, or None when no process
    does (a lock dies with its process, so a killed run never blocks the next one). Reads only."""
    import fcntl

    try:
        fd = os.open(Path(work_dir) / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _pid_in(fd)
    finally:
        os.close(fd)  # closing releases a shared lock taken here
    return None


def _pid_in(fd: int) -> int:
    """The pid a lock file holds (-1 if it holds none yet)."""
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else -1


class WorkDirBusy(UsageError):
    """Another process holds the work dir's run lock."""


def _busy(work_dir: Path, pid: int) -> UsageError:
    holder = "an unknown process" if pid < 0 else f"process {pid}"
    return WorkDirBusy(f"{work_dir} is in use by {holder}, which is training a run there; wait "
                      "for it to end (or stop it, then re-run to resume)")


@contextlib.contextmanager
def run_lock(work_dir: Path, hold: bool = True):
    """One writer per work dir: an advisory lock (flock) on ``work_dir/run.lock`` for the
    duration of the block, or a UsageError naming the holder's pid. Creates the work dir.
    ``hold=False`` (the other processes of a distributed run) takes no lock."""
    import fcntl

    if not hold:
        yield
        return
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(work_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(work_dir, _pid_in(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def check_not_busy(work_dir: Path) -> None:
    """UsageError when a process is training in ``work_dir`` (see :func:`run_lock`)."""
    pid = lock_holder(work_dir)
    if pid is not None:
        raise _busy(Path(work_dir), pid)


def _epoch_of(path: Path) -> int:
    return int(path.stem.split("_")[1])


def is_complete(checkpoint: Path) -> bool:
    """A checkpoint a crash did not truncate (torch's zip format fails to open when cut short)."""
    import torch

    try:
        torch.load(checkpoint, map_location="cpu", mmap=True, weights_only=False)
    except Exception:  # noqa: BLE001 - any failure to read means it cannot be resumed from
        return False
    return True


def checkpoints(work_dir: Path) -> list[Path]:
    """The epoch checkpoints of ``work_dir``, newest first."""
    return sorted(Path(work_dir).glob(CHECKPOINT_GLOB), key=_epoch_of, reverse=True)


def latest_checkpoint(work_dir: Path, verify: bool = False) -> Path | None:
    """The newest epoch checkpoint in ``work_dir`` (with ``verify``: the newest complete one)."""
    for checkpoint in checkpoints(work_dir):
        if not verify or is_complete(checkpoint):
            return checkpoint
    return None


def load_finished_run(work_dir: Path):
    """(config, summary, checkpoint path) of a finished pretraining run; the checkpoint is None
    for a diverged run (nothing to evaluate). UsageError for a run that has not ended."""
    from mmengine.config import Config

    work_dir = Path(work_dir)
    config_path, summary_path = work_dir / CONFIG_FILE, work_dir / SUMMARY_FILE
    if not config_path.is_file() or not summary_path.is_file():
        raise UsageError(f"{work_dir} is not a finished run (needs {CONFIG_FILE} and "
                         f"{SUMMARY_FILE}); run (or resume) 'ortho-suite pretrain' there first")
    try:
        summary = json.loads(summary_path.read_text())
        # Not the config's custom_imports (the training hooks): a finished run is rebuilt from
        # the suite's models and datasets alone (ortho_suite/build.py).
        cfg = Config.fromfile(str(config_path), import_custom_modules=False)
    except Exception as err:  # noqa: BLE001 - a damaged record: name it
        raise UsageError(f"{work_dir}: {SUMMARY_FILE} or {CONFIG_FILE} is damaged "
                         f"({type(err).__name__}); re-run 'ortho-suite pretrain' there with "
                         "--restart") from None
    if summary.get("status") == DIVERGED:
        return cfg, summary, None
    checkpoint = latest_checkpoint(work_dir)
    if checkpoint is None:
        raise UsageError(f"no checkpoint in {work_dir}; run 'ortho-suite pretrain' there again")
    return cfg, summary, checkpoint


# ---------------------------------------------------------------------------- reading results

FINISHED, DIVERGED, MISSING, EVALUATED = "finished", "diverged", "missing", "evaluated"


def train_status(summary: dict | None) -> str:
    """The status of a pretraining record: ``missing`` without one; ``diverged`` when it says so
    or when its last loss is not a finite number (JSON has no NaN: a writer may have turned it
    into null); else the recorded status."""
    if summary is None:
        return MISSING
    status = summary.get("status", MISSING)
    loss = summary.get("loss_last")
    if status == DIVERGED or (status == FINISHED and not _finite_number(loss)):
        return DIVERGED
    return status


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_summary(work_dir: Path) -> dict | None:
    """A work dir's ``summary.json``, or None where the run has not ended."""
    path = Path(work_dir) / SUMMARY_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def read_metrics(run_results: Path) -> dict | None:
    """A run's ``metrics.json`` when it is complete and evaluated, else None (absent, diverged,
    or truncated by an interrupted writer: never read as done)."""
    path = Path(run_results) / METRICS_FILE
    if not path.is_file():
        return None
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return metrics if metrics.get("status") == EVALUATED else None


# The metrics of an evaluated run, by name: the path of each in metrics.json (written by
# ortho_suite/evaluate/evaluate.py).
METRICS = {
    "linear_top1": ("linear_probe", "top1"),
    "linear_top5": ("linear_probe", "top5"),
    # solo-learn's online probe, trained during pretraining: its last epoch (what solo-learn
    # publishes) and its best epoch (each recorded with its epoch)
    "online_linear_top1": ("online_linear", "last", "top1"),
    "online_linear_top5": ("online_linear", "last", "top5"),
    "online_linear_best_top1": ("online_linear", "best", "top1"),
    "knn200_cosine_top1": ("knn_cosine_k200_top1",),
    # the online k-NN monitor of pretraining (OnlineMonitorHook: cosine, k 200, T 0.1, on the
    # splits its config names; the full ones in LightlySSL's protocol), as summary.json's
    # monitor_knn records it: the last monitored epoch, and the best over epochs (what
    # LightlySSL's CIFAR-10 benchmark reports)
    "monitor_knn_top1": ("monitor_knn", "last", "knn_top1"),
    "monitor_knn_best_top1": ("monitor_knn", "best", "knn_top1"),
    "knn5_euclidean_top1": ("knn_euclidean_k5_top1",),
    "repr_effective_rank": ("representation", "effective_rank"),
    "repr_dims": ("representation", "dims"),
    "repr_alpha_req": ("representation", "alpha_req"),
    "repr_collapsed_dims": ("representation", "collapsed_dims"),
    "weights_mean_so_penalty": ("weights_mean_so_penalty",),
    # the transfer linear evaluation (evaluate --transfer, kornblith_lbfgs probe; OR Table 6):
    # top-1 / top-5 of each target, e.g. transfer_food101_top1; only in runs evaluated with it
    **{f"transfer_{target}_{k}": ("transfer", target, k)
       for target in catalog.TRANSFER_TARGETS for k in ("top1", "top5")},
}
# The metrics only an evaluation with --transfer writes (absent from the others' metrics.json).
TRANSFER_METRICS = tuple(name for name, path in METRICS.items() if path[0] == "transfer")


def metric(metrics: dict | None, name: str):
    """The value of metric ``name`` (a key of METRICS) in an evaluated run's metrics, or None."""
    node = metrics
    for key in METRICS[name]:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node
