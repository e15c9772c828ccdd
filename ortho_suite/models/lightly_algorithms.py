"""LightlySSL's methods that mmselfsup 1.0.0 does not have, as LightlySSL's CIFAR-10 benchmark
trains them (lightly-ai/lightly docs/source/getting_started/benchmarks/cifar10_benchmark.py,
with lightly/loss/ntx_ent_loss.py, dcl_loss.py and lightly/models/modules/memory_bank.py,
nn_memory_bank.py, heads.py): NNCLR, DCL, DCLW and MoCo (v2, symmetric), registered into
mmselfsup's MODELS registry. The math is in :mod:`ortho_suite.losses`.

Memory banks (NNCLR's support set, MoCo's negatives) are buffers [size, D] of unit rows (random
normal rows, normalized, at start; checkpoints resume them) with a write pointer. As LightlySSL's
``MemoryBankModule``, a batch is written at the pointer; when it reaches the end, only the rows
that fit are written and the pointer returns to 0 (the rest of that batch is dropped), so any
batch size works. Like the benchmark (``gather_distributed = False``), nothing is gathered across
processes unless ``gather=True``: then the losses see every process's batch and the banks
receive it.

Deviations from LightlySSL common to all four: the backbone is the suite's CIFAR ResNet-18 (not
LightlySSL's ResNetGenerator), and the optimizer and augmentation are whatever the run chooses
(the benchmark: SGD lr 0.06 x batch / 128, momentum 0.9, weight decay 5e-4, cosine over the run;
its SimCLR views with colour-jitter strength 0.5 and no blur).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmselfsup.registry import MODELS
from mmselfsup.utils import concat_all_gather

from .. import losses
from .algorithms import TwoViewEmbedding
from .ema_algorithms import _OnlineTargetModel


class _MemoryBank:
    """A FIFO of unit rows in the buffers ``queue`` [size, D] and ``queue_ptr`` (LightlySSL's
    write rule, module docstring)."""

    def _init_bank(self, size: int, dim: int) -> None:
        if size < 1:
            raise ValueError(f"{type(self).__name__}'s memory bank needs queue_size >= 1, got {size}")
        self.register_buffer("queue", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, rows: torch.Tensor) -> None:
        if self.gather:
            rows = concat_all_gather(rows)
        size, ptr = self.queue.shape[0], int(self.queue_ptr)
        if ptr + rows.shape[0] >= size:
            self.queue[ptr:] = rows[:size - ptr]
            self.queue_ptr.zero_()
        else:
            self.queue[ptr:ptr + rows.shape[0]] = rows
            self.queue_ptr[0] = ptr + rows.shape[0]


@MODELS.register_module()
class NNCLR(_MemoryBank, TwoViewEmbedding):
    """NNCLR (Dwibedi et al., ICCV 2021) as LightlySSL's CIFAR-10 benchmark (``NNCLRModel``):
    backbone -> projector (``neck``) z -> predictor (``head.predictor``) p per view; each view's
    projection is replaced by its nearest neighbour (cosine, :func:`ortho_suite.losses.
    nearest_neighbours`) in the support set ``queue`` as it was before this step, and
    :func:`ortho_suite.losses.nnclr_loss` (NT-Xent of (nn1, p2) and (nn2, p1), temperature 0.5)
    scores them. Then view 2's projections (detached, L2-normalized) enter the support set
    (LightlySSL updates its bank with view 2 only).

    Deviations: the support set stores normalized rows where LightlySSL stores the raw
    projections; the neighbour (argmax of cosine) and the loss (which normalizes) are the same.
    ``head`` is a LatentPredictHead holding the predictor (so pretrain sizes it and ``--reg
    whitening`` finds it); its ``loss`` module is not used. LightlySSL's CIFAR projector has two
    layers (2048, BN after both), its predictor [4096, d]: the config's widths."""

    def __init__(self, backbone: dict, neck: dict, head: dict, queue_size: int = 4096,
                 temperature: float = 0.5, gather: bool = False, **kwargs) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        self.temperature, self.gather = temperature, gather
        self._init_bank(queue_size, neck["out_channels"])

    def loss(self, inputs, data_samples, **kwargs) -> dict:
        if len(inputs) != 2:
            raise ValueError(f"NNCLR takes two views, got {len(inputs)}")
        projections = [self.embed(view) for view in inputs]
        predictions = [self.head.predictor([z])[0] for z in projections]
        with torch.no_grad():
            normalized = [F.normalize(z.detach(), dim=1) for z in projections]
            neighbours = [losses.nearest_neighbours(z, self.queue)[1] for z in normalized]
        loss = losses.nnclr_loss(predictions[0], predictions[1], neighbours[0], neighbours[1],
                                 temperature=self.temperature, gather=self.gather)
        self.enqueue(normalized[1])
        return dict(loss=loss)


@MODELS.register_module()
class DCL(TwoViewEmbedding):
    """DCL (Yeh et al., ECCV 2022) as LightlySSL's CIFAR-10 benchmark: SimCLR's projector
    (``neck``) and :func:`ortho_suite.losses.dcl_loss` (temperature 0.1) on the two views.
    ``sigma`` None: DCL; a number: DCLW's weighting (:class:`DCLW`)."""

    def __init__(self, *args, temperature: float = 0.1, sigma: float | None = None,
                 gather: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.temperature, self.sigma, self.gather = temperature, sigma, gather

    def objective(self, z1, z2):
        return losses.dcl_loss(z1, z2, temperature=self.temperature, sigma=self.sigma,
                               gather=self.gather)


@MODELS.register_module()
class DCLW(DCL):
    """DCLW (Yeh et al., ECCV 2022): DCL with the von Mises-Fisher weighting of the positive pair,
    sigma 0.5 (:func:`ortho_suite.losses.dclw_loss`), as LightlySSL's DCLWLoss."""

    def __init__(self, *args, sigma: float = 0.5, **kwargs) -> None:
        super().__init__(*args, sigma=sigma, **kwargs)


@MODELS.register_module()
class LightlyMoCo(_MemoryBank, _OnlineTargetModel):
    """MoCo v2 (He et al., CVPR 2020; Chen et al. 2020) as LightlySSL's CIFAR-10 benchmark
    (``MocoModel``): online backbone + MoCo v2 projector (``neck``: Linear - ReLU - Linear, with
    biases), a momentum copy of both (``target_net``) with a constant coefficient 0.99 (so
    ``base_momentum = end_momentum = 0.99``; updated once per step before the keys are computed),
    and a memory bank of past keys (``queue``, 4096 rows in the benchmark at batch 128, 8192 at
    batch 512). Symmetric, as the benchmark: with q_v the L2-normalized online projection of view
    v and k_v the momentum projection,

        L = ( InfoNCE(q_1, k_2; bank) + InfoNCE(q_2, k_1; bank + k_2) ) / 2,

    :func:`ortho_suite.losses.moco_infonce_loss` at temperature 0.1. As in LightlySSL (one
    memory bank inside one loss module called twice), k_2 is written to the bank after the first
    term and before the second, so the second term's negatives include the momentum projections
    of view 2 of this batch; k_1 is written after the second term.

    Deviations: LightlySSL's MoCo backbone uses split batch norm (8 splits, its single-GPU stand-in
    for shuffling BN) and shuffles the key batch; here batch norm is ordinary (per view, whole
    batch) and there is no shuffle (which does not change ordinary batch norm). mmselfsup's
    CosineEMA copies the online batch-norm buffers into the target at each update (LightlySSL's
    momentum network keeps its own running statistics; in training mode both use the batch's
    statistics, so the keys are the same). Named LightlyMoCo because mmselfsup registers MoCo."""

    def __init__(self, backbone: dict, neck: dict, base_momentum: float = 0.99,
                 end_momentum: float = 0.99, queue_size: int = 4096, temperature: float = 0.1,
                 gather: bool = False, **kwargs) -> None:
        super().__init__(backbone=backbone, neck=neck, base_momentum=base_momentum,
                         end_momentum=end_momentum, **kwargs)
        self.temperature, self.gather = temperature, gather
        self._init_bank(queue_size, neck["out_channels"])

    def loss(self, inputs, data_samples, **kwargs) -> dict:
        if len(inputs) != 2:
            raise ValueError(f"MoCo takes two views, got {len(inputs)}")
        self.update_target()
        queries = [self.online_projection(view) for view in inputs]
        with torch.no_grad():
            keys = [F.normalize(self.target_net(view)[0], dim=1) for view in inputs]
        first = losses.moco_infonce_loss(queries[0], keys[1], self.queue.clone(), self.temperature)
        self.enqueue(keys[1])
        second = losses.moco_infonce_loss(queries[1], keys[0], self.queue.clone(), self.temperature)
        self.enqueue(keys[0])
        return dict(loss=(first + second) / 2)
