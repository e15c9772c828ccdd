"""SSL algorithms mmselfsup 1.0.0 does not have, registered into its MODELS registry.

Each is a thin adapter: the backbone (and projector, when the method has one) embed the two
views and a pure objective of :mod:`ortho_suite.losses` scores them. Wrap them in
``EncoderRegularized`` like any mmselfsup algorithm.
"""
from __future__ import annotations

import torch

from mmselfsup.models.algorithms.base import BaseModel
from mmselfsup.registry import MODELS

from .. import losses


class TwoViewEmbedding(BaseModel):
    """backbone -> projector (``neck``, optional) -> ``objective(z1, z2)`` on two views.

    Without a projector the embedding is the globally average-pooled last backbone stage (the
    representation)."""

    def extract_feat(self, inputs, **kwargs):
        return self.backbone(inputs[0])

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone(images)
        if self.with_neck:
            return self.neck(features)[0]
        return features[-1].mean(dim=(2, 3))

    def objective(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, inputs, data_samples, **kwargs) -> dict:
        return dict(loss=self.objective(self.embed(inputs[0]), self.embed(inputs[1])))


@MODELS.register_module()
class VICReg(TwoViewEmbedding):
    """VICReg (Bardes, Ponce, LeCun, ICLR 2022): :func:`ortho_suite.losses.vicreg_loss`."""

    def __init__(self, *args, sim_coeff: float = 25.0, std_coeff: float = 25.0,
                 cov_coeff: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.coeffs = dict(sim_coeff=sim_coeff, std_coeff=std_coeff, cov_coeff=cov_coeff)

    def objective(self, z1, z2):
        return losses.vicreg_loss(z1, z2, **self.coeffs)


@MODELS.register_module()
class DirectCLR(TwoViewEmbedding):
    """DirectCLR (Jing, Vincent, LeCun, Tian, ICLR 2022): no projector; InfoNCE on the first
    ``dim`` coordinates of the representation (:func:`ortho_suite.losses.directclr_loss`)."""

    def __init__(self, *args, dim: int | None = 360, temperature: float = 0.1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dim, self.temperature = dim, temperature

    def objective(self, r1, r2):
        return losses.directclr_loss(r1, r2, dim=self.dim, temperature=self.temperature)


@MODELS.register_module()
class INTL(TwoViewEmbedding):
    """INTL (Weng et al., ICLR 2024), symmetric two-view form: IterNorm-whitened projections,
    normalized MSE plus beta times the trace loss (:func:`ortho_suite.losses.intl_loss`)."""

    def __init__(self, *args, iters: int = 4, beta: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.iters, self.beta = iters, beta

    def objective(self, z1, z2):
        return losses.intl_loss(z1, z2, iters=self.iters, beta=self.beta)
