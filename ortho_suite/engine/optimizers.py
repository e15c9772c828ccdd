"""LARS as the papers' code implements it, registered into mmselfsup's OPTIMIZERS (scope
``mmselfsup``) for the paper recipes (``ortho_suite/configs/recipes/``).

LARS (You, Gitman, Ginsburg 2017) scales each parameter tensor's step by a trust ratio
eta ||w|| / ||update||. Two implementations are reproduced, because the recipes' sources differ:

- :class:`LARSSolo`, solo-learn's (``solo/utils/lars.py``, from Lightning Bolts), used by every
  solo-learn recipe: ratio eta ||w|| / (||g|| + wd ||w|| + eps), optionally clipped to the
  learning rate (``clip_lr``, LARC's clipping: the step is min(ratio, lr) times the decayed
  gradient), and with ``exclude_bias_n_norm`` every 1-D tensor (biases, norm weights) gets neither
  weight decay nor the ratio;
- :class:`LARSBarlowTwins`, the Barlow Twins code's, which DirectCLR copies (``directclr/utils.py``
  LARS with ``exclude_bias_and_norm`` = ``p.ndim == 1`` for both filters): ratio
  eta ||w|| / ||g + wd w||, no clipping.

mmselfsup's ``LARS`` is neither: it has no clipping, keeps the learning rate inside the momentum
buffer (so a scheduled rate acts on past steps too) and applies weight decay to the tensors it
excludes from the ratio (``lars_exclude``); solo-learn's CIFAR and ImageNet-100 recipes all clip.

Both here keep the learning rate outside the buffer: b <- m b + u, w <- w - lr b (the first step
sets b = u), u being the ratio-scaled, decayed gradient. Nesterov momentum and dampening, which
no recipe uses, are not implemented.
"""
from __future__ import annotations

import torch
from torch.optim import Optimizer

from mmselfsup.registry import OPTIMIZERS


def _momentum_step(optimizer: Optimizer, p: torch.Tensor, update: torch.Tensor, lr: float,
                   momentum: float) -> None:
    if momentum:
        state = optimizer.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = update.clone().detach()
        else:
            state["momentum_buffer"].mul_(momentum).add_(update)
        update = state["momentum_buffer"]
    p.add_(update, alpha=-lr)


def _check(lr, momentum, weight_decay, eta) -> None:
    for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay),
                        ("eta", eta)):
        if value is not None and value < 0:
            raise ValueError(f"LARS {name} must be >= 0, got {value}")


@OPTIMIZERS.register_module()
class LARSSolo(Optimizer):
    """solo-learn's LARS (``solo/utils/lars.py``): for each tensor w with gradient g, unless it is
    1-D and ``exclude_bias_n_norm``, and when ||w|| and ||g|| are both non-zero,
    u = (g + wd w) r with r = eta ||w|| / (||g|| + wd ||w|| + eps), and with ``clip_lr``
    r <- min(r / lr, 1); otherwise u = g (no weight decay). Then momentum (see module doc)."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 eta: float = 1e-3, eps: float = 1e-8, clip_lr: bool = False,
                 exclude_bias_n_norm: bool = False) -> None:
        _check(lr, momentum, weight_decay, eta)
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      eta=eta, eps=eps, clip_lr=clip_lr,
                                      exclude_bias_n_norm=exclude_bias_n_norm))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad
                if p.ndim != 1 or not group["exclude_bias_n_norm"]:
                    w_norm, g_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(p.grad)
                    ratio = group["eta"] * w_norm / (g_norm + wd * w_norm + group["eps"])
                    if group["clip_lr"]:
                        ratio = torch.clamp(ratio / lr, max=1.0)
                    scaled = (p.grad + wd * p) * ratio
                    update = torch.where((w_norm != 0) & (g_norm != 0), scaled, p.grad)
                _momentum_step(self, p, update, lr, group["momentum"])
        return loss


@OPTIMIZERS.register_module()
class LARSBarlowTwins(Optimizer):
    """The Barlow Twins code's LARS as DirectCLR uses it (``directclr/utils.py``): for each
    tensor w with gradient g, unless it is 1-D and ``exclude_bias_n_norm``, u = g + wd w scaled by
    eta ||w|| / ||u|| (1 if either norm is zero); excluded tensors get u = g. Then momentum (see
    module doc)."""

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 eta: float = 1e-3, exclude_bias_n_norm: bool = False) -> None:
        _check(lr, momentum, weight_decay, eta)
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      eta=eta, exclude_bias_n_norm=exclude_bias_n_norm))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad
                if p.ndim != 1 or not group["exclude_bias_n_norm"]:
                    update = update.add(p, alpha=group["weight_decay"])
                    w_norm, u_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(update)
                    ratio = torch.where((w_norm > 0) & (u_norm > 0),
                                        group["eta"] * w_norm / u_norm, torch.ones_like(w_norm))
                    update = update * ratio
                _momentum_step(self, p, update, group["lr"], group["momentum"])
        return loss
