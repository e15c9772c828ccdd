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


def _check(lr, momentum, weight_decay, eta) -> None:
    for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay),
                        ("eta", eta)):
        if value is not None and value < 0:
            raise ValueError(f"LARS {name} must be >= 0, got {value}")


class _LARS(Optimizer):
    """The step both variants share: each tensor with a gradient gets ``scaled_update`` (the
    variant's ratio-scaled, decayed gradient) unless it is 1-D and ``exclude_bias_n_norm``, in
    which case its plain gradient; then b <- m b + u (b = u on the first step), w <- w - lr b."""

    def scaled_update(self, p: torch.Tensor, group: dict) -> torch.Tensor:
        raise NotImplementedError

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
                    update = self.scaled_update(p, group)
                if group["momentum"]:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = update.clone().detach()
                    else:
                        state["momentum_buffer"].mul_(group["momentum"]).add_(update)
                    update = state["momentum_buffer"]
                p.add_(update, alpha=-group["lr"])
        return loss


@OPTIMIZERS.register_module()
class LARSSolo(_LARS):
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

    def scaled_update(self, p: torch.Tensor, group: dict) -> torch.Tensor:
        wd = group["weight_decay"]
        w_norm, g_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(p.grad)
        ratio = group["eta"] * w_norm / (g_norm + wd * w_norm + group["eps"])
        if group["clip_lr"]:
            ratio = torch.clamp(ratio / group["lr"], max=1.0)
        scaled = (p.grad + wd * p) * ratio
        return torch.where((w_norm != 0) & (g_norm != 0), scaled, p.grad)


@OPTIMIZERS.register_module()
class LARSBarlowTwins(_LARS):
    """The Barlow Twins code's LARS as DirectCLR uses it (``directclr/utils.py``): for each
    tensor w with gradient g, unless it is 1-D and ``exclude_bias_n_norm``, u = g + wd w scaled by
    eta ||w|| / ||u|| (1 if either norm is zero); excluded tensors get u = g. Then momentum (see
    module doc)."""

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 eta: float = 1e-3, exclude_bias_n_norm: bool = False) -> None:
        _check(lr, momentum, weight_decay, eta)
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      eta=eta, exclude_bias_n_norm=exclude_bias_n_norm))

    def scaled_update(self, p: torch.Tensor, group: dict) -> torch.Tensor:
        update = p.grad.add(p, alpha=group["weight_decay"])
        w_norm, u_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(update)
        ratio = torch.where((w_norm > 0) & (u_norm > 0),
                            group["eta"] * w_norm / u_norm, torch.ones_like(w_norm))
        return update * ratio
