"""SSL algorithms mmselfsup 1.0.0 does not have, registered into its MODELS registry.

Each is a thin adapter: the backbone (and projector, when the method has one) embed the two
views and a pure objective of :mod:`ortho_suite.losses` scores them. Wrap them in
``EncoderRegularized`` like any mmselfsup algorithm.

``MoCoV2Plus`` and ``SwAVSolo`` subclass mmselfsup's MoCo and SwAV where solo-learn's recipe (the
one the OR paper's CIFAR tables ran) computes something else; their docstrings list what.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.dist import get_world_size
from torch import nn

from mmselfsup.models.algorithms.base import BaseModel
from mmselfsup.models.algorithms.moco import MoCo
from mmselfsup.models.algorithms.swav import SwAV
from mmselfsup.models.utils import CosineEMA
from mmselfsup.registry import MODELS
from mmselfsup.utils import concat_all_gather

from .. import losses
from .ema_algorithms import training_epoch


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


@MODELS.register_module()
class WMSE(TwoViewEmbedding):
    """W-MSE (Ermolov et al., ICML 2021) as solo-learn trains it (solo/methods/wmse.py): each
    view's projection, in ``w_iter`` random partitions of this process's batch into slices of
    ``w_size``, Cholesky-whitened per slice; normalized MSE of the whitened views
    (:func:`ortho_suite.losses.wmse_loss`). Not gathered across processes (neither solo-learn
    nor the official code gathers). ``detach_second``: solo-learn's stop-gradient on view 2."""

    def __init__(self, *args, w_size: int = 128, w_iter: int = 1, eps: float = 0.0,
                 detach_second: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.w_size, self.w_iter, self.eps, self.detach_second = w_size, w_iter, eps, detach_second

    def objective(self, z1, z2):
        return losses.wmse_loss(z1, z2, w_size=self.w_size, w_iter=self.w_iter, eps=self.eps,
                                detach_second=self.detach_second)


@MODELS.register_module()
class MoCoV2Plus(MoCo):
    """MoCo v2+ as solo-learn trains it (solo/methods/mocov2plus.py; Chen et al. 2020, "Improved
    baselines with momentum contrastive learning"), on mmselfsup's MoCo. Differences from
    mmselfsup's (asymmetric) MoCo v2, all following solo-learn:

    - symmetric: each view's query is contrasted with the other view's key and with a queue of
      past keys *of that other view* (one queue per view, ``queue`` is [2, feat_dim, queue_len]);
      the loss is the mean of the two directions;
    - the momentum encoder's coefficient follows a cosine schedule from ``base_momentum`` to
      ``end_momentum`` (mmselfsup's CosineEMA) instead of a constant;
    - keys are computed without batch shuffling: batch norms are synchronised across processes
      (``sync_bn``), as in solo-learn.
    """

    def __init__(self, *args, base_momentum: float = 0.99, end_momentum: float = 0.999,
                 feat_dim: int = 128, queue_len: int = 65536, **kwargs) -> None:
        super().__init__(*args, feat_dim=feat_dim, queue_len=queue_len, **kwargs)
        self.encoder_k = CosineEMA(nn.Sequential(self.backbone, self.neck),
                                   momentum=base_momentum, end_momentum=end_momentum)
        self.queue = F.normalize(torch.randn(2, feat_dim, queue_len), dim=1)

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys: torch.Tensor) -> None:
        """``keys``: [2, N, feat_dim], each view's keys of the whole (gathered) batch."""
        batch_size = keys.shape[1]
        if self.queue_len % batch_size:
            raise ValueError(f"MoCo's queue length {self.queue_len} must be a multiple of the "
                             f"global batch size {batch_size}")
        ptr = int(self.queue_ptr)
        self.queue[:, :, ptr:ptr + batch_size] = keys.transpose(1, 2)
        self.queue_ptr[0] = (ptr + batch_size) % self.queue_len

    def _contrast(self, query: torch.Tensor, key: torch.Tensor, negatives: torch.Tensor):
        """InfoNCE of L2-normalized queries: positive q.k, negatives q.queue (``head``: softmax
        cross-entropy over [positive, negatives] / temperature, target the positive)."""
        positive = (query * key).sum(dim=1, keepdim=True)
        return self.head(positive, query @ negatives)

    def loss(self, inputs, data_samples, **kwargs) -> dict:
        queries = [F.normalize(self.neck(self.backbone(view))[0], dim=1) for view in inputs[:2]]
        with torch.no_grad():
            self.encoder_k.update_parameters(nn.Sequential(self.backbone, self.neck))
            keys = [F.normalize(self.encoder_k(view)[0], dim=1) for view in inputs[:2]]
        queue = self.queue.clone().detach()
        loss = (self._contrast(queries[0], keys[1], queue[1])
                + self._contrast(queries[1], keys[0], queue[0])) / 2
        self._dequeue_and_enqueue(torch.stack([concat_all_gather(k) for k in keys]))
        return dict(loss=loss)


@MODELS.register_module()
class SwAVSolo(SwAV):
    """SwAV as solo-learn trains it with two crops (solo/methods/swav.py; Caron et al., NeurIPS
    2020): the projector's L2-normalized output z of each view is scored against K prototypes,
    Sinkhorn-Knopp codes of each view (:func:`ortho_suite.losses.sinkhorn_knopp`) are predicted
    from the other view (:func:`ortho_suite.losses.swav_loss`). As solo-learn, and unlike
    mmselfsup's SwAV (its loss module, SwAVHook and distributed_sinkhorn):

    - views go through the backbone and projector one at a time (batch-norm statistics per view);
    - prototypes are weight-normalized with the scale fixed at 1 (``nn.utils.weight_norm`` with
      frozen ``g``): the scores use W / ||W|| (per prototype) and the gradient flows through the
      normalization, instead of renormalizing W in place every step;
    - during the first ``freeze_prototypes_epochs`` epochs the prototypes get no gradient (here a
      zero gradient: any optimizer update is then parallel to W and leaves W / ||W|| unchanged,
      and every parameter stays in the graph for DDP);
    - the queue (``queue``, a buffer: [2, queue_length / world size, feat_dim], per-process as in
      solo-learn) stores each view's past z from the first step on, and its scores join the
      batch's in the Sinkhorn codes from epoch ``epoch_queue_starts`` on;
    - Sinkhorn's per-prototype sums are all-reduced in every iteration (mmselfsup's are only
      when a sum is zero).
    """

    def __init__(self, backbone: dict, neck: dict, feat_dim: int = 128,
                 num_prototypes: int = 3000, temperature: float = 0.1,
                 sinkhorn_iterations: int = 3, epsilon: float = 0.05, queue_length: int = 3840,
                 epoch_queue_starts: int = 50, freeze_prototypes_epochs: int = 2,
                 **kwargs) -> None:
        super().__init__(backbone=backbone, neck=neck, head=None, **kwargs)
        self.prototypes = nn.Linear(feat_dim, num_prototypes, bias=False)
        self.temperature = temperature
        self.sinkhorn_iterations, self.epsilon = sinkhorn_iterations, epsilon
        self.epoch_queue_starts = epoch_queue_starts
        self.freeze_prototypes_epochs = freeze_prototypes_epochs
        self.register_buffer("queue", torch.zeros(2, queue_length // get_world_size(), feat_dim))

    def loss(self, inputs, data_samples, **kwargs) -> dict:
        epoch = training_epoch()
        embeddings = [F.normalize(self.neck(self.backbone(view))[0], dim=1) for view in inputs[:2]]
        prototypes = F.normalize(self.prototypes.weight, dim=1)
        if epoch < self.freeze_prototypes_epochs:
            prototypes = prototypes.detach() + 0.0 * prototypes
        scores = [z @ prototypes.T for z in embeddings]

        batch_size, queue_length = embeddings[0].shape[0], self.queue.shape[1]
        if 0 < queue_length < batch_size:
            raise ValueError(f"SwAV's queue ({queue_length} per process) is shorter than the "
                             f"batch ({batch_size} per process); set model.queue_length to 0 or "
                             "at least the global batch size")
        with torch.no_grad():
            codes = []
            for view, s in enumerate(scores):
                s = s.detach()
                if queue_length and epoch >= self.epoch_queue_starts:
                    s = torch.cat([s, self.queue[view] @ prototypes.detach().T])
                codes.append(losses.sinkhorn_knopp(s, self.sinkhorn_iterations,
                                                   self.epsilon)[:batch_size])
            if queue_length:  # newest first; the oldest batch drops out
                self.queue[:, batch_size:] = self.queue[:, :-batch_size].clone()
                self.queue[:, :batch_size] = torch.stack(embeddings).detach()
        return dict(loss=losses.swav_loss(scores, codes, self.temperature))
