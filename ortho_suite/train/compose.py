"""Composing a run's mmengine config: the method, backbone, dataset and augmentation fragments,
the paper recipe, the user's overrides, and every field derived from others.

Data flows one way: a :class:`~ortho_suite.runs.RunSpec` -> composed config (written as
``W/config.py`` when training starts). Nothing here writes a file.
"""
from __future__ import annotations

import copy
from pathlib import Path

from mmengine.config import Config, DictAction

from .. import catalog, provenance, regularizers
from ..errors import UsageError, unknown_name
from ..runs import CONFIG_FILE, RECORD_FIELDS, RunSpec

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


def _fit_local_crops(cfg: Config) -> None:
    """DINO's multi-crop (augmentations/dino_*_multicrop.py set ``model.local_crops``): the
    augmentation gives three view recipes, global crop 1, global crop 2 and one local crop; this
    makes them the run's 2 + ``local_crops`` views (and, for per-image CPU crops, the pipeline's
    ``MultiView`` counts), after checking the setting. Configs without ``model.local_crops`` are
    left untouched."""
    if "local_crops" not in cfg.model:
        return
    n, aug = cfg.model.local_crops, cfg.ortho_suite.aug
    if cfg.model.get("algorithm") != "DINO":
        raise UsageError(f"augmentation {aug!r} is DINO's multi-crop (model.local_crops) and "
                         f"method {cfg.ortho_suite.method!r} takes no local crops; use it with "
                         "--method dino or choose another --aug")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise UsageError(f"model.local_crops={n!r} must be a whole number >= 0 (the local crops "
                         "per image; 0 trains on the two global crops only)")
    views = list(cfg.model.data_preprocessor.views)
    if n == 0 and len(views) == 2:  # a two-crop augmentation: DINO's two-crop path as before
        return
    if len(views) != 3:
        raise UsageError(f"model.local_crops needs an augmentation with three recipes (global 1, "
                         f"global 2, local), got {len(views)}; use --aug dino_cifar_multicrop or "
                         "--aug dino_imagenet_multicrop")
    if n and "patch_size" in cfg.model.backbone:
        raise UsageError("DINO's local crops need a ViT whose position embedding adapts to the "
                         "crop size, which this suite's ViT does not do; set "
                         "--cfg-options model.local_crops=0 or use a ResNet backbone")
    sizes = [view.get("size", 32) for view in views]
    if sizes[2] > min(sizes[:2]):
        raise UsageError(f"the local crop ({sizes[2]}px, model.data_preprocessor.views.2.size) is "
                         f"larger than the global crops ({sizes[0]}px, {sizes[1]}px); local crops "
                         "must be no larger than the global ones")
    for k, view in enumerate(views):
        low, high = view.get("crop_scale", (0.08, 1.0))
        if not 0 < low <= high <= 1:
            raise UsageError(f"model.data_preprocessor.views.{k}.crop_scale=({low}, {high}) must "
                             "satisfy 0 < low <= high <= 1")
    cfg.model.data_preprocessor.views = views[:2] + [views[2]] * n
    for step in cfg.train_dataloader.dataset.get("pipeline", []):
        if step.get("type") == "MultiView" and isinstance(step.num_views, (list, tuple)):
            crop_sizes = [t[0].size for t in step.transforms]
            if crop_sizes != sizes:
                raise UsageError(f"the CPU crops of augmentation {aug!r} are {crop_sizes}px and "
                                 f"its view recipes say {sizes}px; make them agree")
            step.num_views = [1, 1, n] if n else [1, 1]
            step.transforms = list(step.transforms)[:3 if n else 2]


def _derive_dependent_fields(cfg: Config) -> None:
    """Fields that follow from others and must never disagree with them."""
    from ..models import backbone_feature_dim
    from ..models.projectors import PROJECTORS

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
    SGD's momentum in an Adam recipe), and adds its hooks to the runtime's; a recipe hook of a
    type the runtime already has replaces that one in its place (e.g. LightlySSL's k-NN monitor
    on the full splits for the runtime's OnlineMonitorHook)."""
    recipe = Config.fromfile(str(path))
    cfg.optim_wrapper = recipe.optim_wrapper
    cfg.param_scheduler = recipe.param_scheduler
    cfg.optim_recipe = recipe.optim_recipe
    added = {hook.type: hook for hook in recipe.get("custom_hooks", [])}
    hooks = [added.pop(hook.type, hook) for hook in cfg.custom_hooks]
    cfg.custom_hooks = [*hooks, *added.values()]


def _batch_scale(recipe, cfg: Config) -> float:
    """The linear learning-rate scaling of a recipe: global batch / base_batch_size (1 without)."""
    return (1.0 if recipe.base_batch_size is None
            else cfg.train_dataloader.batch_size / recipe.base_batch_size)


def _derive_learning_rates(cfg: Config, options: dict) -> None:
    """A recipe's learning rate at this run's global batch, and what follows from it (the
    ``optim_recipe`` section of ``configs/recipes/_base_/*.py``).

    lr = base_lr x global batch / base_batch_size (the papers' linear scaling; base_batch_size
    None: base_lr as it is), unless --cfg-options sets optim_wrapper.optimizer.lr, which is then
    used as it is. The warm-up's start factor is warmup_start_lr / lr (an absolute starting rate,
    as solo-learn's); mmengine's LinearLR cannot start from 0 (its chainable form divides by the
    start factor), so a warm-up from 0 starts at ``WARMUP_FROM_ZERO`` x lr. SimSiam's fixed
    predictor rate is lr. The online linear probe's rate is classifier_lr scaled alike (solo-learn
    scales both), where the recipe gives one and --cfg-options does not set online_probe.lr.
    """
    recipe = cfg.get("optim_recipe")
    if recipe is None:
        return
    optimizer = cfg.optim_wrapper.optimizer
    if "optim_wrapper.optimizer.lr" not in options:
        optimizer.lr = recipe.base_lr * _batch_scale(recipe, cfg)
    lr = optimizer.lr
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
        raise UsageError(f"optim_wrapper.optimizer.lr must be a positive number, got {lr!r}")
    warmup = cfg.param_scheduler[0]
    if warmup.type == "LinearLR" and "param_scheduler.0.start_factor" not in options:
        warmup.start_factor = min(max(recipe.warmup_start_lr / lr, WARMUP_FROM_ZERO), 1.0)
    for hook in cfg.custom_hooks:
        if hook.type == "SimSiamHook":
            hook.lr = lr
    if recipe.get("classifier_lr") is not None and "online_probe.lr" not in options:
        cfg.online_probe.lr = recipe.classifier_lr * _batch_scale(recipe, cfg)


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


def compose_config(spec: RunSpec, work_dir: str | Path, data_root: str | None = None) -> Config:
    """Merge the method, backbone, dataset and augmentation fragments of ``spec``, the paper recipe
    (with ``spec.recipe == "paper"``, where configs/recipes/<dataset>/<method>.py exists), then
    the user's overrides. A method with a variant for the backbone's architecture
    (catalog.ARCH_VARIANTS) takes the variant's fragment and its recipe,
    configs/recipes/<variant>/<dataset>/<method>.py.

    ``spec.aug`` None means the dataset's recipe; ``data_root`` None the dataset's default
    location. ``ortho_suite.recipe`` records the recipe file used, or ``default`` (the method's
    own optimizer and schedule, configs/_base_/schedules/sgd_cosine.py). Raises UsageError for
    unknown names, incompatible choices or malformed overrides; nothing is written.
    """
    method, backbone, dataset, reg = spec.method, spec.backbone, spec.dataset, spec.reg
    seed, epochs, recipe = spec.seed, spec.epochs, spec.recipe
    if recipe not in catalog.RECIPE_CHOICES:
        raise unknown_name("recipe", recipe, catalog.RECIPE_CHOICES)
    dataset_entry = catalog.lookup("datasets", dataset)
    aug_entry = catalog.lookup("augmentations", spec.aug or dataset_entry.default_aug)
    if aug_entry.image_size != dataset_entry.image_size:
        valid = [name for name, e in catalog.AUGMENTATIONS.items()
                 if e.image_size == dataset_entry.image_size]
        raise UsageError(f"augmentation {aug_entry.name!r} makes {aug_entry.image_size}px views and "
                         f"dataset {dataset!r} is {dataset_entry.image_size}px; valid "
                         f"augmentations for it: {', '.join(valid)}")
    # a method's variant for the backbone's architecture (catalog.ARCH_VARIANTS, e.g. MoCo v3's
    # ViT heads) replaces its fragment and selects its recipes (configs/recipes/<variant>/)
    entries = [catalog.method_entry(method, backbone), catalog.lookup("backbones", backbone),
               dataset_entry, aug_entry]
    variant = catalog.arch_variant(method, backbone)
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
    recipe_file = catalog.recipe_path(dataset, method, recipe, variant)  # None for "default"
    if recipe_file is not None:
        _merge_recipe(cfg, recipe_file)
    # The run's record (RECORD_FIELDS, the augmentation resolved) and the recipe file used.
    cfg.ortho_suite = {**{k: getattr(spec, k) for k in RECORD_FIELDS}, "aug": aug_entry.name,
                       "recipe": ("default" if recipe_file is None else
                                  recipe_file.relative_to(catalog.CONFIGS_DIR).as_posix())}

    if reg != "none":
        cfg.model.encoder_regularizer = dict(
            kind=reg, gamma=regularizers.recipe_gamma(family, reg), power_iters=2)

    options = parse_cfg_options(spec.cfg_options)
    _check_option_keys(cfg, options)
    cfg.merge_from_dict(options)
    if reg == "whitening" and not cfg.model.get("head", {}).get("predictor"):
        raise UsageError(f"--reg whitening acts on a predictor's output and method {method} has "
                         "no predictor; use it with a BYOL-style method")
    if reg != "none" and cfg.model.encoder_regularizer.gamma is None:
        raise UsageError(
            f"no gamma for --reg {reg} with backbone {backbone} (family {family}) in the recipe; "
            f"set one with --cfg-options model.encoder_regularizer.gamma=VALUE")
    _fit_local_crops(cfg)
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
