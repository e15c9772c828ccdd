"""Models ortho-suite registers into mmselfsup's MODELS registry (scope ``mmselfsup``)."""
from ortho_suite import compat

compat.apply()

from .backbones import ResNetCIFAR, backbone_feature_dim  # noqa: E402

__all__ = ["ResNetCIFAR", "backbone_feature_dim"]
