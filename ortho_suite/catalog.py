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
    image_size: int | None = None  # datasets and augmentations: the crop size they work at
    default_aug: str | None = None  # datasets: the augmentation recipe used when --aug is not given
    arch: str | None = None  # backbones: the architecture, key of a method's ARCH_VARIANTS


METHODS = {
    e.name: e
    for e in [
        Entry("simclr", "contrastive, NT-Xent over 2N views, MLP projector",
              "Chen et al., ICML 2020; mmselfsup SimCLR", "methods/simclr.py"),
        Entry("byol", "online/EMA-target regression with a predictor",
              "Grill et al., NeurIPS 2020; mmselfsup BYOL", "methods/byol.py"),
        Entry("barlowtwins", "cross-correlation of the two views' embeddings to identity",
              "Zbontar et al., ICML 2021; mmselfsup BarlowTwins", "methods/barlowtwins.py"),
        Entry("vicreg", "invariance + variance + covariance terms on the expander output",
              "Bardes et al., ICLR 2022; official code", "methods/vicreg.py"),
        Entry("directclr", "InfoNCE on a sub-vector of the representation, no projector",
              "Jing et al., ICLR 2022; official code", "methods/directclr.py"),
        Entry("intl", "IterNorm-whitened projections, normalized MSE + trace loss",
              "Weng et al., ICLR 2024; official code", "methods/intl.py"),
        Entry("intl_ema", "INTL with an EMA target: online crops regress the target's first crop",
              "Weng et al., ICLR 2024; official code (INTL_M)", "methods/intl_ema.py"),
        Entry("wmse", "Cholesky-whitened projections in slices, normalized MSE",
              "Ermolov et al., ICML 2021; solo-learn recipe", "methods/wmse.py"),
        Entry("dino", "student vs EMA teacher over prototypes, centring, 2 crops (no multi-crop)",
              "Caron et al., ICCV 2021; solo-learn recipe", "methods/dino.py"),
        Entry("nnbyol", "BYOL regressing the target's nearest neighbour in a queue",
              "solo-learn NNBYOL; Dwibedi et al., ICCV 2021 (NNCLR)", "methods/nnbyol.py"),
        Entry("mocov2plus", "symmetric InfoNCE vs momentum keys and a queue per view",
              "Chen et al. 2020 (MoCo v2); solo-learn recipe; mmselfsup MoCo", "methods/mocov2plus.py"),
        Entry("mocov3", "predictor vs momentum projections, in-batch InfoNCE x 2 temperature",
              "Chen, Xie, He, ICCV 2021; solo-learn recipe; mmselfsup MoCoV3", "methods/mocov3.py"),
        Entry("simsiam", "predictor regresses the other view's projection, stop-gradient",
              "Chen, He, CVPR 2021; solo-learn recipe; mmselfsup SimSiam", "methods/simsiam.py"),
        Entry("swav", "swapped prediction of Sinkhorn codes over prototypes, 2 crops, queue",
              "Caron et al., NeurIPS 2020; solo-learn recipe; mmselfsup SwAV", "methods/swav.py"),
        Entry("nnclr", "NT-Xent of each view's nearest neighbour in a support set vs the other's prediction",
              "Dwibedi et al., ICCV 2021; LightlySSL CIFAR-10 benchmark", "methods/nnclr.py"),
        Entry("dcl", "InfoNCE without the positive in the denominator (decoupled), SimCLR projector",
              "Yeh et al., ECCV 2022; LightlySSL CIFAR-10 benchmark", "methods/dcl.py"),
        Entry("dclw", "DCL with von Mises-Fisher weights on the positive pair (sigma 0.5)",
              "Yeh et al., ECCV 2022; LightlySSL CIFAR-10 benchmark", "methods/dclw.py"),
        Entry("moco", "MoCo v2, symmetric, constant momentum 0.99, one memory bank of keys",
              "He et al., CVPR 2020; Chen et al. 2020; LightlySSL CIFAR-10 benchmark", "methods/moco.py"),
    ]
}

# Methods whose papers train some backbone architectures (BACKBONES' arch) with their own heads
# and their own recipe: method -> arch -> the variant. Its config fragment replaces the method's
# (and inherits it) and its recipes are configs/recipes/<arch>/<dataset>/<method>.py, in place of
# configs/recipes/<dataset>/<method>.py (which follow the papers' ResNet scripts).
ARCH_VARIANTS = {
    "mocov3": {
        "vit": Entry("mocov3", "MoCo v3's ViT heads (3-layer projector, predictor with a final BN) "
                     "and ViT recipes (AdamW, wd 0.1, warm-up cosine: the paper's 40 warm-up "
                     "epochs; solo-learn's 10 on ImageNet-100)",
                     "Chen, Xie, He, ICCV 2021 (moco-v3 CONFIG.md ViT setups, moco/builder.py "
                     "MoCo_ViT); solo-learn scripts/pretrain/imagenet-100/mocov3_vit.yaml",
                     "methods/vit/mocov3.py"),
    },
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
              family="resnet18", arch="resnet"),
        Entry("resnet18", "ResNet-18, ImageNet stem (7x7 stride-2 conv, max-pool), width x",
              "He et al. 2016; mmselfsup ResNet", "backbones/resnet18.py", family="resnet18", arch="resnet"),
        Entry("resnet50", "ResNet-50, ImageNet stem (7x7 stride-2 conv, max-pool), width x",
              "He et al. 2016; mmselfsup ResNet", "backbones/resnet50.py", family="resnet50", arch="resnet"),
        Entry("resnet50_cifar", "ResNet-50, CIFAR stem (3x3 conv, stride 1, no max-pool), width x",
              "He et al. 2016; CIFAR variant as in solo-learn", "backbones/resnet50_cifar.py",
              family="resnet50", arch="resnet"),
        Entry("wrn28_2", "WideResNet-28-2, pre-activation blocks, 128-d representation, width x",
              "Zagoruyko, Komodakis 2016; solo-learn wide_resnet28w2", "backbones/wrn28_2.py",
              family="wideresnet28w2", arch="wideresnet"),
        Entry("vit_tiny", "ViT-tiny (embed 192, depth 12, 3 heads), 32 px, patch 4, CLS token",
              "Dosovitskiy et al. 2021; timm ViT as built by solo-learn", "backbones/vit_tiny.py",
              family="vit_tiny", arch="vit"),
        Entry("vit_small", "ViT-small (embed 384, depth 12, 6 heads), 32 px, patch 4, CLS token",
              "Dosovitskiy et al. 2021; timm ViT as built by solo-learn", "backbones/vit_small.py",
              family="vit_small", arch="vit"),
        Entry("vit_base", "ViT-base (embed 768, depth 12, 12 heads), 32 px, patch 4, CLS token",
              "Dosovitskiy et al. 2021; timm ViT as built by solo-learn", "backbones/vit_base.py",
              family="vit_base", arch="vit"),
    ]
}

DATASETS = {
    e.name: e
    for e in [
        Entry("fmnist", "Fashion-MNIST, 60k/10k, 10 classes, as 32x32 RGB (Debian dataset-fashion-mnist)",
              "Xiao et al. 2017", "datasets/fmnist.py", image_size=32, default_aug="solo_cifar_symmetric"),
        Entry("cifar10", "CIFAR-10, 50k/10k, 10 classes, python archive, MD5-verified",
              "Krizhevsky 2009", "datasets/cifar10.py", image_size=32, default_aug="solo_cifar_symmetric"),
        Entry("cifar100", "CIFAR-100, 50k/10k, 100 classes, python archive, MD5-verified",
              "Krizhevsky 2009", "datasets/cifar100.py", image_size=32, default_aug="solo_cifar_symmetric"),
        Entry("imagenet100", "ImageNet-100 (CMC's 100 classes) from an ImageNet class-folder tree",
              "Tian et al. 2020 (CMC) class list", "datasets/imagenet100.py", image_size=224,
              default_aug="byol_imagenet"),
        Entry("imagenet", "ImageNet-1k from its class-folder tree", "Russakovsky et al. 2015",
              "datasets/imagenet.py", image_size=224, default_aug="byol_imagenet"),
        # The transfer datasets of OR Table 6 (ortho_suite/datasets/transfer.py), official formats
        Entry("food101", "Food-101, 75,750/25,250, 101 classes, meta/*.txt lists (transfer)",
              "Bossard et al., ECCV 2014", "datasets/food101.py", image_size=224,
              default_aug="byol_imagenet"),
        Entry("flowers102", "Flowers-102, 1,020/1,020/6,149, 102 classes, setid.mat (transfer)",
              "Nilsback, Zisserman, ICVGIP 2008", "datasets/flowers102.py", image_size=224,
              default_aug="byol_imagenet"),
        Entry("dtd", "DTD, 47 texture classes, labels/*1.txt (fold 1; transfer)",
              "Cimpoi et al., CVPR 2014", "datasets/dtd.py", image_size=224,
              default_aug="byol_imagenet"),
        Entry("gtsrb", "GTSRB Final release, 39,209/12,630, 43 classes, GT-*.csv (transfer)",
              "Stallkamp et al., IJCNN 2011", "datasets/gtsrb.py", image_size=224,
              default_aug="byol_imagenet"),
        Entry("synthetic", "generated in-memory images, 10 classes, 32x32 (tests only)",
              "ortho-suite", "datasets/synthetic.py", image_size=32, default_aug="solo_cifar_symmetric"),
    ]
}

# The targets of the transfer linear evaluation (`ortho-suite evaluate --transfer`,
# ortho_suite/evaluate/transfer_targets.py; OR Table 6's columns, in its order): datasets above,
# read by their own loaders from --transfer-root.
TRANSFER_TARGETS = ("cifar100", "cifar10", "food101", "flowers102", "dtd", "gtsrb")

AUGMENTATIONS = {
    e.name: e
    for e in [
        Entry("solo_cifar_symmetric", "2 alike views: RRC, jitter (.8,.8,.8,.2) p.8, gray .2, blur .5",
              "solo-learn cifar/augmentations/symmetric.yaml (SimCLR)",
              "augmentations/solo_cifar_symmetric.py", image_size=32),
        Entry("solo_cifar_symmetric_weak", "2 alike views: RRC, jitter (.4,.4,.4,.1) p.8, gray .2, blur .5",
              "solo-learn cifar/augmentations/symmetric_weak.yaml (MoCo v2+)",
              "augmentations/solo_cifar_symmetric_weak.py", image_size=32),
        Entry("solo_cifar_asymmetric", "RRC, jitter (.4,.4,.2,.1) p.8, gray .2, solarize 0/.2",
              "solo-learn cifar/augmentations/asymmetric.yaml (BYOL, DINO, MoCo v3, NNBYOL)",
              "augmentations/solo_cifar_asymmetric.py", image_size=32),
        Entry("intl_cifar", "as solo_cifar_asymmetric (INTL's CIFAR transforms)",
              "INTL official code, cifar/", "augmentations/intl_cifar.py", image_size=32),
        Entry("byol_imagenet", "RRC 224, jitter (.4,.4,.2,.1) p.8, gray .2, blur 1/.1, solarize 0/.2",
              "BYOL; Barlow Twins and DirectCLR code", "augmentations/byol_imagenet.py",
              image_size=224),
        Entry("intl_imagenet_multicrop", "2x224 + 192/160/128/96 crops, blur .5, solarize .1",
              "INTL official code (--multi-crop), SwAV-style crops",
              "augmentations/intl_imagenet_multicrop.py", image_size=224),
        Entry("dino_cifar_multicrop", "DINO: 2x32 (.4-1) + 6x18 (.05-.4), blur 1/.1/.5, solarize 0/.2/0",
              "DINO main_dino.py DataAugmentationDINO; local size of solo-learn cifar-multicrop",
              "augmentations/dino_cifar_multicrop.py", image_size=32),
        Entry("dino_imagenet_multicrop", "DINO: 2x224 (.4-1) + 8x96 (.05-.4), blur 1/.1/.5, solarize 0/.2/0",
              "DINO official code main_dino.py DataAugmentationDINO (ViT defaults)",
              "augmentations/dino_imagenet_multicrop.py", image_size=224),
    ]
}

PROFILES = {
    e.name: e
    for e in [
        Entry("smoke", "CPU, 2,048 Fashion-MNIST images, width-8 ResNet-18, 2 epochs per run",
              "benchmarks/profiles/smoke.yaml"),
        Entry("fmnist", "GPU, full Fashion-MNIST, full-width ResNet-18: the suite's OR study",
              "benchmarks/profiles/fmnist.yaml"),
        Entry("cifar10", "GPU, CIFAR-10 at the papers' schedules (1000 epochs, batch 256)",
              "benchmarks/profiles/cifar10.yaml"),
        Entry("cifar100", "GPU, CIFAR-100 at the papers' schedules (1000 epochs, batch 256)",
              "benchmarks/profiles/cifar100.yaml"),
        Entry("imagenet100", "GPUs, ImageNet-100 at the papers' schedules (400 epochs)",
              "benchmarks/profiles/imagenet100.yaml"),
        Entry("imagenet", "GPUs, ImageNet-1k at the papers' schedules (100-800 epochs)",
              "benchmarks/profiles/imagenet.yaml"),
    ]
}

# The papers' small CPU experiments (ortho_suite/experiments/<name>.py, `ortho-suite experiment`).
EXPERIMENTS = ("directclr_toy", "or_proposition1", "iternorm_mapping")

# Names the paper tables (benchmarks/tables/) use that the suite cannot train yet. A table cell
# naming one of them renders as "not run in this profile"; listing them here keeps a typo in a
# table file an error instead of a silently empty cell.
PLANNED = {
    "methods": {},
    "backbones": {},
    "datasets": {
        "voc0712": "PASCAL VOC 07+12 detection", "coco": "COCO detection/segmentation",
    },
}

# The config fragments (package data).
CONFIGS_DIR = Path(str(resources.files("ortho_suite") / "configs"))

# How `ortho-suite pretrain` starts its processes (mmengine launchers).
LAUNCHERS = ("none", "pytorch", "slurm")

# Which optimizer and learning-rate schedule `ortho-suite pretrain` uses: "paper", the recipe of
# the papers' code for the dataset and method (configs/recipes/<dataset>/<method>.py) where there
# is one, else the suite's default (configs/_base_/schedules/sgd_cosine.py); "default" always.
# "lightly": LightlySSL's CIFAR-10 benchmark (configs/recipes/lightly/<dataset>/<method>.py), the
# recipe of the lightly_b512 variant's runs (VARIANT_RECIPES).
RECIPE_CHOICES = ("paper", "default", "lightly")

# Table-cell variants (RunSpec.variant) that come with their own training protocol: variant -> the
# recipe (RECIPE_CHOICES) its runs train with. A profile run naming one of these variants trains
# with that recipe unless it names another (runs.spec_from_params).
LIGHTLY_CIFAR10_VARIANT = "lightly_b512"
VARIANT_RECIPES = {
    # LightlySSL's CIFAR-10 benchmark at batch 512 (docs/source/getting_started/benchmarks.rst,
    # benchmarks/cifar10_benchmark.py): its optimizers and schedules, the k-NN monitor on the full
    # splits every epoch, the best k-NN accuracy over epochs reported (OR Table 4's framework)
    LIGHTLY_CIFAR10_VARIANT: "lightly",
}

CATALOG = {
    "methods": METHODS,
    "regularizers": REGULARIZERS,
    "backbones": BACKBONES,
    "datasets": DATASETS,
    "augmentations": AUGMENTATIONS,
    "profiles": PROFILES,
}

_SINGULAR = {"methods": "method", "regularizers": "regularizer", "backbones": "backbone",
             "datasets": "dataset", "augmentations": "augmentation", "profiles": "profile"}


def lookup(kind: str, name: str) -> Entry:
    """The entry ``name`` of ``kind`` (e.g. ``"methods"``); raises UsageError if unknown."""
    table = CATALOG[kind]
    if name not in table:
        raise unknown_name(_SINGULAR[kind], name, table)
    return table[name]


def known_or_planned(kind: str, name: str) -> None:
    """Accept a registered or a planned name of ``kind``; raise UsageError otherwise."""
    if name in CATALOG[kind] or name in PLANNED.get(kind, {}):
        return
    raise unknown_name(_SINGULAR[kind], name, [*CATALOG[kind], *PLANNED.get(kind, {})])


def arch_variant(method: str, backbone: str) -> str | None:
    """The architecture whose variant of ``method`` (ARCH_VARIANTS) a run on ``backbone`` gets,
    e.g. "vit" for mocov3 on vit_small; None where the method has none for that backbone."""
    arch = lookup("backbones", backbone).arch
    return arch if arch in ARCH_VARIANTS.get(method, {}) else None


def method_entry(method: str, backbone: str) -> Entry:
    """The method's entry for a run on ``backbone``: its ARCH_VARIANTS entry where it has one for
    the backbone's architecture, else its METHODS entry."""
    entry = lookup("methods", method)
    variant = arch_variant(method, backbone)
    return entry if variant is None else ARCH_VARIANTS[method][variant]


def recipe_path(dataset: str, method: str, recipe: str = "paper",
                variant: str | None = None) -> Path | None:
    """The recipe ``recipe`` (RECIPE_CHOICES) of ``method`` on ``dataset``, or None where there
    is none: "paper", configs/recipes/<dataset>/<method>.py (the optimizer and learning-rate
    schedule of the papers' code); "lightly", configs/recipes/lightly/<dataset>/<method>.py
    (LightlySSL's benchmark); "default" never has one (the suite's SGD + cosine). ``variant``,
    the method's architecture variant (arch_variant), puts the recipe one folder deeper, under
    <variant>/ (configs/recipes/vit/<dataset>/mocov3.py); a variant never falls back to the
    method's recipe for another architecture."""
    if recipe == "default":
        return None
    folder = CONFIGS_DIR / "recipes" / ("lightly" if recipe == "lightly" else "") / (variant or "")
    path = folder / dataset / f"{method}.py"
    return path if path.is_file() else None


def config_path(entry: Entry) -> Path:
    """Absolute path of an entry's config fragment."""
    if entry.config is None:
        raise ValueError(f"{entry.name} has no config fragment")
    return CONFIGS_DIR / entry.config
