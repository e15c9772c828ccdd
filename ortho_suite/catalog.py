"""The names a user can ask for, and where each is defined.

Every method, regularizer, backbone, dataset and profile the suite accepts is listed here with the
config fragment that implements it and the source it follows. ``ortho-suite list`` prints this
catalog; the command line validates names against it before anything is built.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import unknown_name


@dataclass(frozen=True)
class Entry:
    name: str
    summary: str
    source: str
    config: str | None = None  # path under ortho_suite/configs, for config-backed entries
    family: str | None = None  # backbones: key of the OR gamma recipe (regularizers.GAMMA_RECIPE)


METHODS = {
    e.name: e
    for e in [
        Entry("simclr", "contrastive, NT-Xent over 2N views, MLP projector",
              "Chen et al., ICML 2020; mmselfsup SimCLR", "methods/simclr.py"),
        Entry("byol", "online/EMA-target regression with a predictor",
              "Grill et al., NeurIPS 2020; mmselfsup BYOL", "methods/byol.py"),
        Entry("barlowtwins", "cross-correlation of the two views' embeddings to identity",
              "Zbontar et al., ICML 2021; mmselfsup BarlowTwins", "methods/barlowtwins.py"),
    ]
}

REGULARIZERS = {
    e.name: e
    for e in [
        Entry("none", "no regularization of the encoder", "-"),
        Entry("so", "soft orthogonality ||W^T W - I||_F^2 of every conv/linear encoder weight",
              "He, Du, Ma, NeurIPS 2024, Sec. 3.3"),
        Entry("srip", "spectral norm of W^T W - I by power iteration, every conv/linear encoder weight",
              "He, Du, Ma, NeurIPS 2024, Sec. 3.3; Bansal et al., NeurIPS 2018"),
        Entry("whitening", "VICReg variance + covariance terms on the predictor output (BYOL-style)",
              "He, Du, Ma, NeurIPS 2024, Table 1 baseline; Bardes et al., ICLR 2022"),
    ]
}

BACKBONES = {
    e.name: e
    for e in [
        Entry("resnet18_cifar", "ResNet-18, CIFAR stem (3x3 conv, stride 1, no max-pool), width x",
              "He et al. 2016; CIFAR variant as in solo-learn", "backbones/resnet18_cifar.py",
              family="resnet18"),
    ]
}

DATASETS = {
    e.name: e
    for e in [
        Entry("synthetic", "generated in-memory images, 10 classes, 32x32 (tests only)",
              "ortho-suite", "datasets/synthetic.py"),
    ]
}

PROFILES = {
    e.name: e
    for e in [
        Entry("smoke", "CPU, generated data, narrow ResNet-18, 1 epoch per method",
              "params.yaml"),
    ]
}

# How `ortho-suite pretrain` starts its processes (mmengine launchers).
LAUNCHERS = ("none", "pytorch")

CATALOG = {
    "methods": METHODS,
    "regularizers": REGULARIZERS,
    "backbones": BACKBONES,
    "datasets": DATASETS,
    "profiles": PROFILES,
}

_SINGULAR = {"methods": "method", "regularizers": "regularizer", "backbones": "backbone",
             "datasets": "dataset", "profiles": "profile"}


def lookup(kind: str, name: str) -> Entry:
    """The entry ``name`` of ``kind`` (e.g. ``"methods"``); raises UsageError if unknown."""
    table = CATALOG[kind]
    if name not in table:
        raise unknown_name(_SINGULAR[kind], name, table)
    return table[name]


def config_path(entry: Entry) -> Path:
    """Absolute path of an entry's config fragment."""
    if entry.config is None:
        raise ValueError(f"{entry.name} has no config fragment")
    return Path(str(resources.files("ortho_suite") / "configs" / entry.config))
