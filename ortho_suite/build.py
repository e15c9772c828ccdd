"""Building the parts of a composed run config outside a Runner: the model, a frozen model from a
checkpoint, and the dataset (the training split, checked before a run starts, or a split with the
evaluation view). Shared by training (data check, online monitor) and evaluation.
"""
from __future__ import annotations

import copy
from pathlib import Path

from . import compat


def register_suite_modules() -> None:
    """The suite's models and datasets in mmselfsup's registries (shims applied first)."""
    compat.apply()
    import ortho_suite.datasets  # noqa: F401  (registers modules)
    import ortho_suite.models  # noqa: F401


def build_model(cfg):
    """The model of a composed config (for inspection and evaluation)."""
    register_suite_modules()
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import MODELS

    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def load_frozen_model(cfg, checkpoint: Path, device):
    """The model of ``cfg`` with the weights of ``checkpoint``, on ``device``, in eval mode."""
    import torch

    from .errors import UsageError

    model = build_model(cfg)
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["state_dict"], strict=True)
    except Exception as err:  # noqa: BLE001 - a damaged or foreign file: say which
        text = " ".join(str(err).split())[:200]
        raise UsageError(f"checkpoint {checkpoint} cannot be loaded ({type(err).__name__}: "
                         f"{text}); re-run 'ortho-suite pretrain' with --restart to train the "
                         "run again") from None
    return model.to(device).eval()


def build_dataset(cfg, dataset_cfg):
    """The dataset of ``dataset_cfg`` (a section of ``cfg``) in the config's registry scope."""
    register_suite_modules()
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import DATASETS

    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return DATASETS.build(dataset_cfg)


def check_data(cfg):
    """The training dataset of ``cfg``; missing or corrupt data raises DataError (exit 2) before
    any file of the run is written.

    Datasets held in memory as arrays (CIFAR, Fashion-MNIST) are read in full, which finds a
    truncated or damaged file (a second read of a few seconds at most); folder datasets
    (ImageNet) are only built, which finds missing folders and classes without a scan of
    every image.
    """
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.lazy_init = True
    dataset = build_dataset(cfg, dataset_cfg)
    from .datasets.base import ArrayImageDataset

    if isinstance(dataset, ArrayImageDataset):
        dataset.full_init()
    return dataset


def feature_dataset(cfg, split: str, limit: int | None = None):
    """The run's dataset, split ``split``, with the evaluation view; the whole split (not the
    training subset) unless ``limit`` takes its first images."""
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    dataset_cfg.pop("indices", None)
    if limit is not None:
        dataset_cfg.indices = limit
    dataset_cfg.split = split
    dataset_cfg.pipeline = cfg.feature_data.pipeline
    return build_dataset(cfg, dataset_cfg)
