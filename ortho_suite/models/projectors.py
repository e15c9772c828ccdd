"""The linear projectors of DirectCLR's Table 2 ablation, as mmselfsup necks.

Jing, Vincent, LeCun, Tian (ICLR 2022), Sec. 6 and App. F, train SimCLR-style (the DirectCLR
code's InfoNCE: L2-normalized, cross-view negatives, tau 0.1) on the output z = W r of a single
linear map W of the d-dimensional representation r, for several kinds of W:

=================================  =====================================================  ==========
neck                               W                                                      trained
=================================  =====================================================  ==========
(no neck)                          identity ("no projector")                              -
``LinearProjector``                any d -> 128 matrix, no bias (the code's ``single``    yes
                                   mode; "trainable projector" = Table 1's linear row)
``FixedOrthogonalProjector``       a random orthogonal d x d matrix                       no
``TrainableDiagonalProjector``     diag(w), w in R^d                                      yes
``FixedLowRankProjector``          U diag(1 (rank times), 0, ..., 0) V^T, U, V random     no
                                   orthogonal d x d (App. F: "d0 ones" as its singular
                                   values, left and right multiplied by fixed orthogonal
                                   matrices)
``FixedLowRankDiagonalProjector``  diag(1 (rank times), 0, ..., 0): DirectCLR itself      no
=================================  =====================================================  ==========

Use them with ``algorithm='DirectCLR'`` and ``dim=None`` (InfoNCE on the whole projector output).
They sit in the algorithm's ``neck``, outside ``backbone``: never regularized, never probed. Fixed
matrices are buffers (saved in checkpoints, not optimized). Like mmselfsup's necks, each takes the
backbone's tuple of feature maps (one: the last stage), global-average pools it, and returns a
one-element tuple.

Deviations and choices (the paper releases no code for these projectors):

- The paper's orthogonal projector is trainable under an orthogonality constraint (matrix
  exponential parametrization). InfoNCE on L2-normalized outputs is invariant to any orthogonal
  W (inner products of unit vectors are preserved), so such a W receives no gradient and the
  backbone's gradient is exactly the no-projector one; a fixed random orthogonal W is therefore
  the same experiment and is what this module provides.
- The random orthogonal matrices are Haar-distributed (QR of a Gaussian matrix with the signs of
  R's diagonal moved into Q), drawn from torch's global generator when the model is built (so
  from the run's seed); the paper does not say how its matrices were drawn.
- The trainable diagonal starts at the identity (all ones); the paper does not state its
  initialization.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mmengine.model import BaseModule
from mmselfsup.registry import MODELS


def random_orthogonal(n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A Haar-random n x n orthogonal matrix from torch's global generator (computed in float64)."""
    q, r = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).to(dtype)


class Projector(BaseModule):
    """Pools the last backbone stage and applies :meth:`project` (one linear map)."""

    def __init__(self, in_channels: int, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels < 1:
            raise ValueError(f"{type(self).__name__} in_channels must be >= 1, got {in_channels}")
        self.in_channels = in_channels

    def project(self, r: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor]:
        if len(inputs) != 1:
            raise ValueError(f"{type(self).__name__} takes the last backbone stage only, got "
                             f"{len(inputs)} feature maps")
        r = inputs[0]
        if r.dim() == 4:
            r = r.mean(dim=(2, 3))
        return (self.project(r),)


def _checked_rank(projector: Projector, rank: int) -> int:
    if not 1 <= rank <= projector.in_channels:
        raise ValueError(f"{type(projector).__name__} rank must be in 1..{projector.in_channels} "
                         f"(the representation's width), got {rank}")
    return rank


@MODELS.register_module()
class LinearProjector(Projector):
    """A trainable linear map to ``out_channels`` (DirectCLR code, ``--mode single``: 2048 -> 128,
    no bias, PyTorch's default Linear initialization)."""

    def __init__(self, in_channels: int, out_channels: int = 128, bias: bool = False,
                 init_cfg: dict | None = None) -> None:
        super().__init__(in_channels, init_cfg)
        self.linear = nn.Linear(in_channels, out_channels, bias=bias)

    def project(self, r):
        return self.linear(r)


@MODELS.register_module()
class FixedOrthogonalProjector(Projector):
    """z = Q r with Q a fixed random orthogonal matrix (a buffer)."""

    def __init__(self, in_channels: int, init_cfg: dict | None = None) -> None:
        super().__init__(in_channels, init_cfg)
        self.register_buffer("weight", random_orthogonal(in_channels))

    def project(self, r):
        return r @ self.weight.T


@MODELS.register_module()
class TrainableDiagonalProjector(Projector):
    """z = diag(w) r with w trainable, starting at ones."""

    def __init__(self, in_channels: int, init_cfg: dict | None = None) -> None:
        super().__init__(in_channels, init_cfg)
        self.diagonal = nn.Parameter(torch.ones(in_channels))

    def project(self, r):
        return r * self.diagonal


@MODELS.register_module()
class FixedLowRankProjector(Projector):
    """z = W r with W = U diag(1, ..., 1, 0, ..., 0) V^T (``rank`` ones; U, V fixed random
    orthogonal), stored as the d x d buffer ``weight``: rank ``rank``, every non-zero singular
    value 1."""

    def __init__(self, in_channels: int, rank: int, init_cfg: dict | None = None) -> None:
        super().__init__(in_channels, init_cfg)
        self.rank = _checked_rank(self, rank)
        u = random_orthogonal(in_channels, torch.float64)
        v = random_orthogonal(in_channels, torch.float64)
        self.register_buffer("weight", (u[:, :rank] @ v[:, :rank].T).float())

    def project(self, r):
        return r @ self.weight.T


@MODELS.register_module()
class FixedLowRankDiagonalProjector(Projector):
    """z = diag(1, ..., 1, 0, ..., 0) r with ``rank`` ones (a buffer): the first ``rank``
    coordinates kept, the rest zeroed. With DirectCLR's InfoNCE this is DirectCLR (Sec. 6.2)."""

    def __init__(self, in_channels: int, rank: int, init_cfg: dict | None = None) -> None:
        super().__init__(in_channels, init_cfg)
        self.rank = _checked_rank(self, rank)
        mask = torch.zeros(in_channels)
        mask[:rank] = 1.0
        self.register_buffer("mask", mask)

    def project(self, r):
        return r * self.mask


# Neck types whose input width pretrain derives from the backbone (they always pool it).
PROJECTORS = tuple(cls.__name__ for cls in Projector.__subclasses__())
