"""Models ortho-suite registers into mmselfsup's MODELS registry (scope ``mmselfsup``)."""
from ortho_suite import compat

compat.apply()

from .algorithms import INTL, WMSE, DirectCLR, VICReg  # noqa: E402
from .ema_algorithms import DINO, INTLEMA, NNBYOL, DINOProjector  # noqa: E402
from .lightly_algorithms import DCL, DCLW, NNCLR, LightlyMoCo  # noqa: E402
from .backbones import ResNetCIFAR, ResNetScaled, backbone_feature_dim  # noqa: E402
from .data_preprocessor import SSLViewsPreprocessor  # noqa: E402
from .projectors import PROJECTORS  # noqa: E402,F401  (registers the projector necks)
from .wide_resnet import WideResNet  # noqa: E402
from .vit import VisionTransformerCLS  # noqa: E402
from .encoder_regularized import (  # noqa: E402
    EncoderRegularizationMixin,
    EncoderRegularized,
    EncoderRegularizerSpec,
)

__all__ = ["DirectCLR", "INTL", "VICReg", "WMSE", "DINO", "DINOProjector", "NNBYOL", "INTLEMA", "NNCLR", "DCL", "DCLW", "LightlyMoCo", "ResNetCIFAR", "ResNetScaled", "SSLViewsPreprocessor", "backbone_feature_dim", "EncoderRegularized", "EncoderRegularizationMixin",
           "EncoderRegularizerSpec", "WideResNet", "VisionTransformerCLS"]
