"""Datasets ortho-suite registers into mmselfsup's DATASETS registry (scope ``mmselfsup``)."""
from ortho_suite import compat

compat.apply()

from .synthetic import SyntheticImages, make_synthetic_images  # noqa: E402

__all__ = ["SyntheticImages", "make_synthetic_images"]
