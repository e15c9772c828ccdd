"""Datasets ortho-suite registers into mmselfsup's DATASETS registry (scope ``mmselfsup``)."""
from ortho_suite import compat

compat.apply()

from .cifar import CIFAR10Python, CIFAR100Python  # noqa: E402
from .fmnist import FashionMNIST  # noqa: E402
from .imagenet import ImageNetFolder, LoadRGBImage, imagenet100_classes  # noqa: E402
from .synthetic import SyntheticImages, make_synthetic_images  # noqa: E402
from .transfer import DTD, GTSRB, Flowers102, Food101  # noqa: E402

__all__ = ["CIFAR10Python", "CIFAR100Python", "DTD", "FashionMNIST", "Flowers102", "Food101", "GTSRB",
           "ImageNetFolder", "LoadRGBImage", "SyntheticImages", "imagenet100_classes",
           "make_synthetic_images"]
