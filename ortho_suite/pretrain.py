"""Self-supervised pretraining: compose an mmengine config from the catalog, train it with the
mmengine Runner, and write the run's record.

Data flows one way: catalog names -> composed config (``W/config.py``) -> Runner -> checkpoints
and ``W/summary.json``.

A work dir holding an unfinished run of the same config (checkpoints, no ``summary.json``) is
resumed from its newest complete checkpoint; ``summary.json`` is written last and atomically, so
its presence means the run ended (finished or diverged).
"""
from __future__ import annotations

import copy
import time
from pathlib import Path

from mmengine.config import Config, DictAction

from . import catalog, compat, provenance, regularizers
from .errors import UsageError, unknown_name

SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.py"
CHECKPOINT_GLOB = "epoch_*.pth"
# Start factor of a warm-up from 0 (see _derive_learning_rates).
WARMUP_FROM_ZERO = 1e-12


def parse_cfg_options(options: list[str] | None) -> dict:
    """``["a.b=1", "c=[1,2]"]`` -> ``{"a.b": 1, "c": [1, 2]}`` with mmengine's value syntax."""
    parsed: dict = {}
    for option in options or []:
        key, sep, value = option.partition("=")
        if not sep or not key or any(c.isspace() for c in key):
            raise UsageError(
                f"malformed --cfg-options entry {option!r}; expected key=value, "
                "e.g. model.backbone.width=16")
        parsed[key] = DictAction._parse_iterable(value)
    return parsed


def _check_option_keys(cfg: Config, options: dict) -> None:
    """A key may add an argument to an existing config dict, not invent a new subtree: this
    catches typos such as ``modle.backbone.width``. The exception: a method without a projector
    may be given one under ``model.neck`` (DirectCLR's Table 2 projectors, models/projectors.py)."""
    tree = cfg.to_dict()
    adds_neck = (tree["model"].get("neck") is None
                 and any(k.startswith("model.neck.") for k in options))
    if adds_neck and "model.neck.type" not in options:
        raise UsageError("this method has no projector (model.neck); options under model.neck add "
                         "one and must name its type, e.g. model.neck.type=LinearProjector "
                         "(projectors: ortho_suite/models/projectors.py)")
    for key in options:
        if adds_neck and key.startswith("model.neck."):
            continue
        node = tree
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise UsageError(
                    f"invalid --cfg-options key {key!r}: {'.'.join(parts[:depth + 1])!r} is not in "
                    f"the composed config; see {CONFIG_FILE} of a run for the available keys")
            if not isinstance(node, (dict, list, tuple)):
                raise UsageError(
                    f"invalid --cfg-options key {key!r}: {'.'.join(parts[:depth + 1])!r} is a "
                    "value, not a section")


def _fit_schedule_to_epochs(cfg: Config) -> None:
    """Stretch the last LR scheduler to the end of training (it is defined for the base length).

    A scheduler that would begin at or after the end of training is dropped: a run shorter than
    a recipe's warm-up ends during the warm-up, whose slope stays the recipe's (as solo-learn's
    and the papers' schedulers do), and has no cosine phase.
    """
    max_epochs = cfg.train_cfg.max_epochs
    schedulers = cfg.get("param_scheduler") or []
    if not schedulers:
        return
    last = schedulers[-1]
    if last.get("by_epoch", True) and last.get("begin", 0) >= max_epochs:
        cfg.param_scheduler = [s for s in schedulers
                               if not s.get("by_epoch", True) or s.get("begin", 0) < max_epochs]
        return
    if last.get("by_epoch", True):
        last["end"] = max_epochs
        if last["type"] == "CosineAnnealingLR":
            last["T_max"] = max_epochs - last.get("begin", 0)


def _check_batch_multiples(cfg: Config) -> None:
    """W-MSE whitens slices of w_size samples of the batch; NNBYOL's and MoCo v2+'s queues take
    whole global batches (solo-learn asserts these); SwAV's queue must hold a batch."""
    batch, algorithm = cfg.train_dataloader.batch_size, cfg.model.get("algorithm")
    if algorithm == "WMSE":
        w_size, width = cfg.model.w_size, cfg.model.neck.out_channels
        if batch % w_size or (cfg.model.eps == 0 and w_size <= width):
            raise UsageError(f"W-MSE's whitening size model.w_size={w_size} must divide the batch "
                             f"size {batch} and exceed the projection's {width} dimensions (a "
                             "slice's covariance must be invertible); set --cfg-options "
                             "model.w_size=N accordingly")
    if algorithm == "NNBYOL" and cfg.model.queue_size % batch:
        raise UsageError(f"NNBYOL's queue size model.queue_size={cfg.model.queue_size} must be a "
                         f"multiple of the global batch size {batch}")
    if algorithm == "MoCoV2Plus" and cfg.model.queue_len % batch:
        raise UsageError(f"MoCo v2+'s queue length model.queue_len={cfg.model.queue_len} must be a "
                         f"multiple of the global batch size {batch}")
    if algorithm == "SwAVSolo" and 0 < cfg.model.queue_length < batch:
        raise UsageError(f"SwAV's queue model.queue_length={cfg.model.queue_length} must be 0 (no "
                         f"queue) or hold at least the global batch of {batch}")


def _derive_dependent_fields(cfg: Config) -> None:
    """Fields that follow from others and must never disagree with them."""
    from .models import backbone_feature_dim
    from .models.projectors import PROJECTORS

    image_size = catalog.lookup("datasets", cfg.ortho_suite.dataset).image_size
    if cfg.model.backbone.get("img_size", image_size) != image_size:  # ViTs: one position per patch
        raise UsageError(f"backbone {cfg.ortho_suite.backbone} is built for "
                         f"{cfg.model.backbone.img_size}px images and dataset "
                         f"{cfg.ortho_suite.dataset} gives {image_size}px views; set --cfg-options "
                         f"model.backbone.img_size={image_size} (and a patch_size dividing it)")
    patch_size = cfg.model.backbone.get("patch_size")
    if patch_size is not None and (patch_size < 1 or image_size % patch_size):
        raise UsageError(f"model.backbone.patch_size={patch_size} does not divide the "
                         f"{image_size}px images into patches; choose a divisor of {image_size}")
    if cfg.model.get("algorithm") == "DirectCLR" and cfg.model.get("dim") is not None:
        if cfg.model.get("neck") is not None:
            raise UsageError("DirectCLR with a projector (model.neck) takes its InfoNCE on the "
                             "projector's whole output; add --cfg-options model.dim=None")
        width = backbone_feature_dim(cfg.model.backbone)
        if cfg.model.dim > width:
            raise UsageError(f"DirectCLR's sub-vector dim {cfg.model.dim} exceeds the "
                             f"representation's {width} dimensions; set --cfg-options "
                             f"model.dim=N with N <= {width}")
    _check_batch_multiples(cfg)
    neck = cfg.model.get("neck")
    if neck is None:
        return
    pools = neck.get("with_avg_pool", False) and "in_channels" in neck
    if pools or neck.get("type") in PROJECTORS:  # suite projectors always pool the last stage
        neck.in_channels = backbone_feature_dim(cfg.model.backbone)
    if neck.get("type") in PROJECTORS and not 1 <= neck.get("rank", 1) <= neck.in_channels:
        raise UsageError(f"model.neck.rank={neck.rank} must be between 1 and the representation's "
                         f"{neck.in_channels} dimensions")
    head = cfg.model.get("head") or {}
    if "in_channels" in head:  # e.g. Barlow Twins' cross-correlation head: the projector's width
        head.in_channels = neck.out_channels
    predictor = head.get("predictor")
    if predictor is not None:  # BYOL: the predictor maps a projection to a projection
        predictor.in_channels = predictor.out_channels = neck.out_channels
    if "feat_dim" in cfg.model:  # MoCo's queued keys and SwAV's prototypes: projection width
        cfg.model.feat_dim = neck.out_channels
    if head.get("type") == "MoCoV3Head":  # MoCo v3 scales its cross-entropy by 2 * temperature
        head.loss.loss_weight = 2 * head.temperature


def _merge_recipe(cfg: Config, path: Path) -> None:
    """A paper recipe replaces the method's optimizer and schedule, whole (merging would leave
    SGD's momentum in an Adam recipe), and adds its hooks to the runtime's."""
    recipe = Config.fromfile(str(path))
    cfg.optim_wrapper = recipe.optim_wrapper
    cfg.param_scheduler = recipe.param_scheduler
    cfg.optim_recipe = recipe.optim_recipe
    cfg.custom_hooks = [*cfg.custom_hooks, *recipe.get("custom_hooks", [])]


def _derive_learning_rates(cfg: Config, options: dict) -> None:
    """A recipe's learning rate at this run's global batch, and what follows from it (the
    ``optim_recipe`` section of ``configs/recipes/_base_/*.py``).

    lr = base_lr x global batch / base_batch_size (the papers' linear scaling; base_batch_size
    None: base_lr as it is), unless --cfg-options sets optim_wrapper.optimizer.lr, which is then
    used as it is. The warm-up's start factor is warmup_start_lr / lr (an absolute starting rate,
    as solo-learn's); mmengine's LinearLR cannot start from 0 (its chainable form divides by the
    start factor), so a warm-up from 0 starts at ``WARMUP_FROM_ZERO`` x lr. SimSiam's fixed
    predictor rate is lr.
    """
    recipe = cfg.get("optim_recipe")
    if recipe is None:
        return
    optimizer = cfg.optim_wrapper.optimizer
    if "optim_wrapper.optimizer.lr" not in options:
        scale = (1.0 if recipe.base_batch_size is None
                 else cfg.train_dataloader.batch_size / recipe.base_batch_size)
        optimizer.lr = recipe.base_lr * scale
    lr = optimizer.lr
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
        raise UsageError(f"optim_wrapper.optimizer.lr must be a positive number, got {lr!r}")
    warmup = cfg.param_scheduler[0]
    if warmup.type == "LinearLR" and "param_scheduler.0.start_factor" not in options:
        warmup.start_factor = min(max(recipe.warmup_start_lr / lr, WARMUP_FROM_ZERO), 1.0)
    for hook in cfg.custom_hooks:
        if hook.type == "SimSiamHook":
            hook.lr = lr


def apply_speed(cfg: Config) -> None:
    """Turn the ``speed`` section (see ``_base_/default_runtime.py``) into mmengine settings."""
    speed = cfg.get("speed") or {}
    unknown = set(speed) - {"bf16", "channels_last", "compile"}
    if unknown:
        raise UsageError(f"unknown speed option(s) {', '.join(sorted(unknown))}; valid: bf16, "
                         "channels_last, compile (e.g. --cfg-options speed.bf16=True)")
    if speed.get("bf16"):
        # bfloat16 has float32's exponent range: no loss scaling (and no per-step inf check).
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.dtype = "bfloat16"
        cfg.optim_wrapper.loss_scale = dict(enabled=False)
    if speed.get("channels_last"):
        cfg.model.channels_last = True
        cfg.model.data_preprocessor.channels_last = True


def compose_config(method: str, backbone: str, dataset: str, work_dir: str | Path,
                   reg: str = "none", seed: int = 0, epochs: int | None = None,
                   cfg_options: list[str] | None = None, aug: str | None = None,
                   data_root: str | None = None, recipe: str = "paper") -> Config:
    """Merge the method, backbone, dataset and augmentation fragments, the paper recipe (with
    ``recipe="paper"``, where configs/recipes/<dataset>/<method>.py exists), then the user's
    overrides.

    ``aug`` defaults to the dataset's recipe; ``data_root`` to the dataset's default location.
    ``ortho_suite.recipe`` records the recipe file used, or ``default`` (the method's own
    optimizer and schedule, configs/_base_/schedules/sgd_cosine.py). Raises UsageError for
    unknown names, incompatible choices or malformed overrides; nothing is written.
    """
    if recipe not in catalog.RECIPE_CHOICES:
        raise unknown_name("recipe", recipe, catalog.RECIPE_CHOICES)
    dataset_entry = catalog.lookup("datasets", dataset)
    aug_entry = catalog.lookup("augmentations", aug or dataset_entry.default_aug)
    if aug_entry.image_size != dataset_entry.image_size:
        valid = [name for name, e in catalog.AUGMENTATIONS.items()
                 if e.image_size == dataset_entry.image_size]
        raise UsageError(f"augmentation {aug_entry.name!r} makes {aug_entry.image_size}px views and "
                         f"dataset {dataset!r} is {dataset_entry.image_size}px; valid "
                         f"augmentations for it: {', '.join(valid)}")
    entries = [catalog.lookup("methods", method), catalog.lookup("backbones", backbone),
               dataset_entry, aug_entry]
    catalog.lookup("regularizers", reg)
    family = entries[1].family
    if epochs is not None and epochs < 1:
        raise UsageError(f"--epochs must be >= 1, got {epochs}")

    cfg = Config.fromfile(catalog.config_path(entries[0]))
    for fragment in entries[1:]:
        cfg.merge_from_dict(Config.fromfile(catalog.config_path(fragment)).to_dict())
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=seed, deterministic=False)
    if epochs is not None:
        cfg.train_cfg.max_epochs = epochs
    if data_root is not None:
        cfg.train_dataloader.dataset.data_root = str(data_root)
    recipe_file = catalog.recipe_path(dataset, method) if recipe == "paper" else None
    if recipe_file is not None:
        _merge_recipe(cfg, recipe_file)
    cfg.ortho_suite = dict(method=method, reg=reg, backbone=backbone, dataset=dataset,
                           aug=aug_entry.name, seed=seed,
                           recipe=("default" if recipe_file is None else
                                   recipe_file.relative_to(catalog.CONFIGS_DIR).as_posix()))

    if reg != "none":
        cfg.model.encoder_regularizer = dict(
            kind=reg, gamma=regularizers.recipe_gamma(family, reg), power_iters=2)

    options = parse_cfg_options(cfg_options)
    _check_option_keys(cfg, options)
    cfg.merge_from_dict(options)
    if reg == "whitening" and not cfg.model.get("head", {}).get("predictor"):
        raise UsageError(f"--reg whitening acts on a predictor's output and method {method} has "
                         "no predictor; use it with a BYOL-style method")
    if reg != "none" and cfg.model.encoder_regularizer.gamma is None:
        raise UsageError(
            f"no gamma for --reg {reg} with backbone {backbone} (family {family}) in the recipe; "
            f"set one with --cfg-options model.encoder_regularizer.gamma=VALUE")
    _fit_schedule_to_epochs(cfg)
    _derive_learning_rates(cfg, options)
    _derive_dependent_fields(cfg)
    apply_speed(cfg)
    return cfg


def config_hash(cfg: Config) -> str:
    """SHA-256 of the resolved config without the run's and the data's locations (same
    experiment, same hash on any machine)."""
    located = copy.deepcopy(cfg)
    located.work_dir = ""
    located.train_dataloader.dataset.data_root = ""
    return provenance.sha256_text(located.pretty_text)


def _register_suite_modules() -> None:
    compat.apply()
    import ortho_suite.datasets  # noqa: F401  (registers modules)
    import ortho_suite.engine  # noqa: F401
    import ortho_suite.models  # noqa: F401


def build_model(cfg: Config):
    """The model of a composed config, built outside a Runner (for inspection and evaluation)."""
    _register_suite_modules()
    from mmengine.registry import DefaultScope

    from mmselfsup.registry import MODELS

    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def check_data(cfg: Config) -> None:
    """Missing or corrupt data raises DataError (exit 2) before any file of the run is written.

    Datasets held in memory as arrays (CIFAR, Fashion-MNIST) are read in full, which finds a
    truncated or damaged file (a second read of a few seconds at most); folder datasets
    (ImageNet) are only built, which finds missing folders and classes without a scan of
    every image.
    """
    _register_suite_modules()
    from mmengine.registry import DefaultScope

    from mmselfsup.registry import DATASETS

    from .datasets.base import ArrayImageDataset

    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.lazy_init = True
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        dataset = DATASETS.build(dataset_cfg)
    if isinstance(dataset, ArrayImageDataset):
        dataset.full_init()


def _check_launch(cfg: Config, launcher: str) -> int:
    """The number of processes, after checking the launcher's environment, the global batch and
    the SyncBN setting (UsageError otherwise)."""
    if launcher not in catalog.LAUNCHERS:
        raise unknown_name("launcher", launcher, catalog.LAUNCHERS)
    missing = compat.missing_launch_env(launcher)
    if missing:
        starter = "torchrun" if launcher == "pytorch" else "srun"
        raise UsageError(f"--launcher {launcher} needs {', '.join(missing)} in the environment; "
                         f"start the command with {starter} (README: Several processes)")
    world = compat.launch_world_size(launcher)
    batch = cfg.train_dataloader.batch_size
    if batch % world:
        raise UsageError(f"the global batch size {batch} does not split over {world} processes; "
                         f"use a process count that divides it or set --cfg-options "
                         f"train_dataloader.batch_size=N with N a multiple of {world}")
    if cfg.get("sync_bn") not in (None, "torch"):
        raise UsageError(f"sync_bn must be 'torch' or None, got {cfg.sync_bn!r}")
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
    world = _check_launch(cfg, launcher)
    _register_suite_modules()
    import torch
    from mmengine.runner import Runner

    speed = cfg.get("speed") or {}
    if speed.get("bf16") and not torch.cuda.is_available():
        raise UsageError("speed.bf16=True needs a CUDA GPU and none is visible; drop the option "
                         "to train in float32 on this machine")
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
    runner = Runner.from_cfg(run_cfg)
    if speed.get("compile"):
        # The backbone alone: compiling mmengine's whole train_step (cfg.compile) breaks the
        # graph at every hook, loss dict and optimizer call. nn.Module.compile keeps the
        # state-dict keys, so checkpoints are unchanged.
        getattr(runner.model, "module", runner.model).backbone.compile()
    return runner


def _epoch_of(path: Path) -> int:
    return int(path.stem.split("_")[1])


def _is_complete(checkpoint: Path) -> bool:
    """A checkpoint a crash did not truncate (torch's zip format fails to open when cut short)."""
    import torch

    try:
        torch.load(checkpoint, map_location="cpu", mmap=True, weights_only=False)
    except Exception:  # noqa: BLE001 - any failure to read means it cannot be resumed from
        return False
    return True


def latest_checkpoint(work_dir: Path, verify: bool = False) -> Path | None:
    """The newest epoch checkpoint in ``work_dir`` (with ``verify``: the newest complete one)."""
    for checkpoint in sorted(Path(work_dir).glob(CHECKPOINT_GLOB), key=_epoch_of, reverse=True):
        if not verify or _is_complete(checkpoint):
            return checkpoint
    return None


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
    same = config_path.is_file() and config_hash(Config.fromfile(str(config_path))) == config_hash(cfg)
    if not same and not (restart or replace_other_config):
        raise UsageError(f"{work_dir} holds a run of another config (its {CONFIG_FILE} differs "
                         "from this one); choose another --work-dir, or pass "
                         "--replace-other-config to discard that run")
    if same and checkpoint is not None and not ended and not restart:
        return checkpoint
    return None


def _clear_previous_run(work_dir: Path) -> None:
    """Checkpoints and record of an earlier run: a fresh run must never be resumed from, or
    read as, the previous one."""
    for path in [*work_dir.glob(CHECKPOINT_GLOB), work_dir / "last_checkpoint",
                 work_dir / SUMMARY_FILE]:
        path.unlink(missing_ok=True)


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

    from .engine import OnlineMonitorHook, TrainingDiverged, TrainingRecordHook

    work_dir = Path(cfg.work_dir)
    if is_main_process():
        work_dir.mkdir(parents=True, exist_ok=True)
        if not runner.cfg.get("resume"):
            _clear_previous_run(work_dir)
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


def pretrain(method: str, backbone: str, dataset: str, work_dir: str | Path, reg: str = "none",
             seed: int = 0, epochs: int | None = None, cfg_options: list[str] | None = None,
             launcher: str = "none", aug: str | None = None, data_root: str | None = None,
             restart: bool = False, replace_other_config: bool = False,
             recipe: str = "paper") -> dict:
    """Compose, check the data, build and train one run (resuming an unfinished one, see
    :func:`plan_resume`); return its summary (also written to ``W/summary.json``). Names,
    options, data and the work dir are validated before anything is written."""
    cfg = compose_config(method, backbone, dataset, work_dir, reg=reg, seed=seed, epochs=epochs,
                         cfg_options=cfg_options, aug=aug, data_root=data_root, recipe=recipe)
    check_data(cfg)
    _check_launch(cfg, launcher)
    resume_from = plan_resume(cfg, restart=restart, replace_other_config=replace_other_config)
    return train(build_runner(cfg, launcher, resume_from), cfg)
