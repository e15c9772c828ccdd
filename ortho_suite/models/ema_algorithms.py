"""SSL algorithms with an EMA target network that mmselfsup 1.0.0 does not have: DINO, NNBYOL and
INTL's EMA variant, registered into its MODELS registry.

Each follows mmselfsup's BYOL pattern: the target (teacher) is a ``CosineEMA`` copy of
``nn.Sequential(backbone, neck)`` held outside ``self.backbone`` (so an encoder regularizer
covers the online encoder only), updated at the start of ``loss()``; its coefficient follows
m_k = 1 - (1 - m_0) (cos(pi k / K) + 1) / 2 with k its own update counter (a buffer, resumed
with the checkpoint) and K the run's ``max_iters`` from mmengine's message hub. Queues and
DINO's center are buffers, so checkpoints resume them. Epoch-dependent schedules read the
runner's current epoch from the message hub (restored on resume). The math is in
:mod:`ortho_suite.losses`.
"""
from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from mmselfsup.models.algorithms.base import BaseModel
from mmselfsup.models.utils import CosineEMA
from mmselfsup.registry import MODELS
from mmselfsup.utils import concat_all_gather

from .. import losses


def training_epoch() -> int:
    """The runner's current epoch (0-based) from mmengine's message hub; 0 outside a runner."""
    epoch = MessageHub.get_current_instance().get_info("epoch")
    return 0 if epoch is None else int(epoch)


def dino_teacher_temperature(epoch: int, teacher_temp: float = 0.07,
                             warmup_teacher_temp: float = 0.04, warmup_epochs: int = 0) -> float:
    """DINO's teacher temperature in ``epoch`` (solo-learn DINOLoss.teacher_temp_schedule):
    linear from ``warmup_teacher_temp`` at epoch 0 to ``teacher_temp`` at epoch
    ``warmup_epochs - 1`` (numpy linspace, both ends included), then ``teacher_temp``."""
    if epoch >= warmup_epochs:
        return teacher_temp
    if warmup_epochs == 1:
        return warmup_teacher_temp
    return warmup_teacher_temp + (teacher_temp - warmup_teacher_temp) * epoch / (warmup_epochs - 1)


class _OnlineTargetModel(BaseModel):
    """An mmselfsup algorithm with ``target_net``: a CosineEMA copy of backbone + neck."""

    def __init__(self, *args, base_momentum: float, end_momentum: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.target_net = CosineEMA(nn.Sequential(self.backbone, self.neck),
                                    momentum=base_momentum, end_momentum=end_momentum)

    def extract_feat(self, inputs, **kwargs):
        return self.backbone(inputs[0])

    def online_projection(self, images: torch.Tensor) -> torch.Tensor:
        return self.neck(self.backbone(images))[0]

    @torch.no_grad()
    def update_target(self) -> None:
        """One EMA step of the target toward the online backbone + neck (the first copies them)."""
        self.target_net.update_parameters(nn.Sequential(self.backbone, self.neck))


class WeightNormLinear(nn.Module):
    """Linear layer without bias whose rows are ``weight_g * weight_v / ||weight_v||``: what
    solo-learn gets from torch's legacy ``nn.utils.weight_norm`` (dim 0), same parameter names,
    written out because that module cannot be deep-copied (the EMA teacher is a deep copy).
    ``weight_v`` starts as nn.Linear's default init, ``weight_g`` at 1; ``fixed_norm`` keeps
    ``weight_g`` at 1 (DINO's ``norm_last_layer``)."""

    def __init__(self, in_features: int, out_features: int, fixed_norm: bool = True) -> None:
        super().__init__()
        self.weight_v = nn.Parameter(nn.Linear(in_features, out_features, bias=False).weight.data)
        self.weight_g = nn.Parameter(torch.ones(out_features, 1), requires_grad=not fixed_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_g * self.weight_v / self.weight_v.norm(dim=1, keepdim=True)
        return F.linear(x, weight)


@MODELS.register_module()
class DINOProjector(nn.Module):
    """DINO's head (Caron et al., ICCV 2021; solo-learn DINOHead): a ``num_layers`` MLP
    (Linear - [BN] - GELU, hidden ``hid_channels``) to a bottleneck of ``out_channels``, L2
    normalization, then a weight-normalized linear layer without bias to ``num_prototypes``
    logits (``last_layer``). MLP weights are truncated-normal (std 0.02), biases zero. Takes the
    backbone's output tuple, returns ``[logits]`` (mmselfsup neck convention)."""

    def __init__(self, in_channels: int, hid_channels: int = 2048, out_channels: int = 256,
                 num_prototypes: int = 4096, num_layers: int = 3, with_bn: bool = False,
                 norm_last_layer: bool = True, with_avg_pool: bool = True) -> None:
        super().__init__()
        self.with_avg_pool = with_avg_pool
        if num_layers == 1:
            self.mlp = nn.Linear(in_channels, out_channels)
        else:
            layers, width = [], in_channels
            for _ in range(num_layers - 1):
                layers.append(nn.Linear(width, hid_channels))
                if with_bn:
                    layers.append(nn.BatchNorm1d(hid_channels))
                layers.append(nn.GELU())
                width = hid_channels
            layers.append(nn.Linear(width, out_channels))
            self.mlp = nn.Sequential(*layers)
        for module in self.mlp.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02, a=-2.0, b=2.0)
                nn.init.zeros_(module.bias)
        self.last_layer = WeightNormLinear(out_channels, num_prototypes, fixed_norm=norm_last_layer)

    def forward(self, x):
        x = x[-1]
        if self.with_avg_pool:
            x = x.mean(dim=(2, 3))
        return [self.last_layer(F.normalize(self.mlp(x.flatten(1)), dim=-1))]


@MODELS.register_module()
class DINO(_OnlineTargetModel):
    """DINO (Caron et al., ICCV 2021), by default without multi-crop as solo-learn trains it on
    CIFAR (solo/methods/dino.py): student backbone + :class:`DINOProjector`, an EMA teacher of
    both; :func:`ortho_suite.losses.dino_loss` between the two views' student and teacher logits,
    the teacher centred by ``center`` (a buffer, updated after the loss by
    :func:`ortho_suite.losses.dino_center`) and sharpened by the epoch's temperature
    (:func:`dino_teacher_temperature`).

    ``local_crops`` > 0 is the official multi-crop (facebookresearch/dino main_dino.py lines
    318-319, DINOLoss lines 380-416, utils.MultiCropWrapper lines 594-629): views 0 and 1 are
    the global crops, the ``local_crops`` views after them local crops. The teacher sees the
    global crops only, in one forward; the student sees every crop, one backbone + head forward
    per run of consecutive views of one resolution (the global crops together, the local crops
    together); the loss averages the cross-entropy over every (teacher global i, student view
    j != i) pair; the centre is updated from the teacher's global outputs. With ``local_crops``
    0 (the default) each view has its own forward, as before.

    During the first ``freeze_last_layer_epochs`` epochs the student's prototypes
    (``neck.last_layer``) get no gradient: as solo-learn (``p.grad = None`` after backward) they
    are left out of the optimizer step, through a torch optimizer step pre-hook that drops their
    gradients (after DDP's all-reduce, before the step; mmengine offers a model no point between
    backward and step)."""

    def __init__(self, backbone: dict, neck: dict, base_momentum: float = 0.9995,
                 end_momentum: float = 1.0, student_temp: float = 0.1, teacher_temp: float = 0.07,
                 warmup_teacher_temp: float = 0.04, warmup_teacher_temp_epochs: int = 0,
                 center_momentum: float = 0.9, freeze_last_layer_epochs: int = 1,
                 local_crops: int = 0, **kwargs) -> None:
        if isinstance(local_crops, bool) or not isinstance(local_crops, int) or local_crops < 0:
            raise ValueError(f"DINO's local_crops must be a whole number >= 0, got {local_crops!r}")
        super().__init__(backbone=backbone, neck=neck, base_momentum=base_momentum,
                         end_momentum=end_momentum, **kwargs)
        self.student_temp, self.teacher_temp = student_temp, teacher_temp
        self.local_crops = local_crops
        self.warmup_teacher_temp = warmup_teacher_temp
        self.warmup_teacher_temp_epochs = warmup_teacher_temp_epochs
        self.center_momentum = center_momentum
        self.freeze_last_layer_epochs = freeze_last_layer_epochs
        self.register_buffer("center", torch.zeros(1, neck["num_prototypes"]))
        self.last_layer_frozen = False  # set by loss() for the current epoch
        self._drop_frozen_gradients_before_steps()

    def _drop_frozen_gradients_before_steps(self) -> None:
        model = weakref.ref(self)

        def drop(optimizer, args, kwargs):
            alive = model()
            if alive is not None and alive.last_layer_frozen:
                for param in alive.neck.last_layer.parameters():
                    param.grad = None

        handle = register_optimizer_step_pre_hook(drop)
        weakref.finalize(self, handle.remove)

    def teacher_temperature(self, epoch: int) -> float:
        return dino_teacher_temperature(epoch, self.teacher_temp, self.warmup_teacher_temp,
                                        self.warmup_teacher_temp_epochs)

    def multicrop_projection(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        """The student's logits of each view, one backbone + head forward per run of
        consecutive views of one resolution (utils.MultiCropWrapper's grouping)."""
        out, start = [], 0
        while start < len(views):
            end = start + 1
            while end < len(views) and views[end].shape[-2:] == views[start].shape[-2:]:
                end += 1
            out.extend(self.online_projection(torch.cat(views[start:end])).chunk(end - start))
            start = end
        return out

    def loss(self, inputs, data_samples, **kwargs) -> dict:
        if len(inputs) != 2 + self.local_crops:
            raise ValueError(f"DINO with {self.local_crops} local crops takes "
                             f"{2 + self.local_crops} views, got {len(inputs)}")
        epoch = training_epoch()
        self.last_layer_frozen = epoch < self.freeze_last_layer_epochs
        if self.local_crops:
            student = self.multicrop_projection(list(inputs))
        else:
            student = [self.online_projection(view) for view in inputs]
        self.update_target()
        with torch.no_grad():
            if self.local_crops:  # the teacher: the two global crops only, in one forward
                teacher = list(self.target_net(torch.cat(inputs[:2]))[0].chunk(2))
            else:
                teacher = [self.target_net(view)[0] for view in inputs]
        loss = losses.dino_loss(student, teacher, self.center, self.student_temp,
                                self.teacher_temperature(epoch))
        self.center.copy_(losses.dino_center(self.center, torch.cat(teacher), self.center_momentum))
        return dict(loss=loss)


@MODELS.register_module()
class NNBYOL(_OnlineTargetModel):
    """NNBYOL (solo-learn solo/methods/nnbyol.py; NNCLR's nearest-neighbour target, Dwibedi et
    al., ICCV 2021, applied to BYOL): BYOL whose regression target for each view is the nearest
    neighbour (:func:`ortho_suite.losses.nearest_neighbours`) of the other view's L2-normalized
    target projection in ``queue``, a FIFO of past target projections of view 1 (buffers
    ``queue`` [queue_size, D] and ``queue_ptr``; random unit rows at start). The loss is
    byol(p1, nn2) + byol(p2, nn1) (:func:`ortho_suite.losses.byol_loss`) on the queue before
    this batch is added; then the gathered batch enters the queue. ``head.predictor`` is the
    predictor (``head`` a LatentPredictHead, so pretrain sizes it and ``--reg whitening`` finds
    it); its ``loss`` module is not used."""

    def __init__(self, backbone: dict, neck: dict, head: dict, base_momentum: float = 0.99,
                 end_momentum: float = 1.0, queue_size: int = 65536, **kwargs) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head, base_momentum=base_momentum,
                         end_momentum=end_momentum, **kwargs)
        self.queue_size = queue_size
        queue = F.normalize(torch.randn(queue_size, neck["out_channels"]), dim=1)
        self.register_buffer("queue", queue)
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, z: torch.Tensor) -> None:
        """Write the batch ``z`` (gathered over processes) over the oldest queue rows."""
        z = concat_all_gather(z)
        if self.queue_size % z.shape[0]:
            raise ValueError(f"NNBYOL's queue size {self.queue_size} must be a multiple of the "
                             f"global batch size {z.shape[0]}")
        ptr = int(self.queue_ptr)
        self.queue[ptr:ptr + z.shape[0]] = z
        self.queue_ptr[0] = (ptr + z.shape[0]) % self.queue_size

    def loss(self, inputs, data_samples, **kwargs) -> dict:
        if len(inputs) != 2:
            raise ValueError(f"NNBYOL takes two views, got {len(inputs)}")
        predictions = [self.head.predictor([self.online_projection(view)])[0] for view in inputs]
        self.update_target()
        with torch.no_grad():
            targets = [F.normalize(self.target_net(view)[0], dim=1) for view in inputs]
            neighbours = [losses.nearest_neighbours(z, self.queue)[1] for z in targets]
        loss = (losses.byol_loss(predictions[0], neighbours[1])
                + losses.byol_loss(predictions[1], neighbours[0]))
        self.enqueue(targets[0])
        return dict(loss=loss)


@MODELS.register_module()
class INTLEMA(_OnlineTargetModel):
    """INTL with an EMA target (official INTL code, methods/intl_m.py ``INTL_M``, its ImageNet
    multi-crop + EMA runs): the target network embeds the first view, the online network every
    other view; :func:`ortho_suite.losses.intl_ema_loss` (IterNorm with ``iters`` Newton steps,
    trace loss on the online outputs only, weight ``beta`` or 0.01 (log2(N) - 3)). With two views
    the online network sees view 2 only, as the official code with two crops."""

    def __init__(self, backbone: dict, neck: dict, base_momentum: float = 0.996,
                 end_momentum: float = 1.0, iters: int = 4, beta: float | None = None,
                 **kwargs) -> None:
        super().__init__(backbone=backbone, neck=neck, base_momentum=base_momentum,
                         end_momentum=end_momentum, **kwargs)
        self.iters, self.beta = iters, beta

    def loss(self, inputs, data_samples, **kwargs) -> dict:
        if len(inputs) < 2:
            raise ValueError(f"INTL-EMA needs at least two views, got {len(inputs)}")
        self.update_target()
        with torch.no_grad():
            target = self.target_net(inputs[0])[0]
        online = [self.online_projection(view) for view in inputs[1:]]
        return dict(loss=losses.intl_ema_loss(online, target, iters=self.iters, beta=self.beta))
