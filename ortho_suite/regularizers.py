"""The encoder regularizers of the OR paper (He, Du, Ma, NeurIPS 2024): orthogonality of the
encoder's weights (Sec. 3-4) and the whitening baseline of its Table 1 (at the end).

Every Conv2d / Linear weight is viewed as W in R^{input x output}: a Conv2d weight
[C_out, C_in, kH, kW] gives input = C_in*kH*kW and output = C_out, a Linear weight [out, in] gives
input = in, output = out (Sec. 3.2). With A the deviation of the *smaller* Gram matrix from the
identity,

    A = W^T W - I  (output x output)  if input > output,
    A = W W^T - I  (input x input)    otherwise,

    SO(W)   = ||A||_F^2                  (soft orthogonality, squared Frobenius norm, Sec. 3.3)
    SRIP(W) = sigma(A), the spectral norm, by power iteration (Sec. 3.3, after Bansal et al. 2018)

and the training loss is  L = L_SSL + gamma * sum_{W in encoder} SO(W) or SRIP(W)  (Sec. 4), over
the encoder (backbone) only: never the projector, predictor, online probe or momentum copy.

SRIP's estimator is biased low. The paper's two power-iteration products (the default,
``power_iters=2``) give ||A A v|| / ||A v|| for a random normal v, which never exceeds sigma(A)
and, on random (Kaiming-normal) ResNet weights, is 27-32% below it on average over starts
(ratio to ``torch.linalg.matrix_norm(A, 2)``: 0.68-0.73 for 3x3 convolutions of 3-512 channels
and a 1x1 shortcut, 0.46-0.87 over 20 starts; 10 products 0.92-0.96, 200 products 0.999-1.000 (means);
measured, tests/test_srip_power_iters.py checks it). Summed over the 20 weights of the width-64
CIFAR ResNet-18 at its initialisation the ratio is 0.82 with 2 products and 0.95 with 10
(results/perf/srip_power_iters.json). The estimate also changes with the random start.
Two products stay the default: that is the paper's estimator, the one the gamma recipe below
goes with; ``power_iters`` (``model.encoder_regularizer.power_iters``, any integer >= 1) buys a
closer estimate at one batched matrix-vector product per weight shape and extra product; the
Gram matrices dominate the cost (10 products: +7% penalty-step time on CPU with one thread,
benchmarks/perf/srip_power_iters.py).

In PyTorch layout the stored weight is W^T: ``w = weight.reshape(C_out, -1)`` has shape
(output, input), so W^T W = w w^T and W W^T = w^T w.
"""
from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn

# The regularizers on the encoder's weights (catalog.REGULARIZERS names every regularizer).
ORTHOGONALITY_KINDS = ("so", "srip")

# gamma per backbone family and regularizer (the paper's Table 9 "recipe of adding OR"). The
# paper's table is an image and its values were not recovered; these are the values of the
# third-party solo-learn integration (zhangjie1234567/solo-learn, solo/losses/ortho.py), which
# fall inside the paper's tuning grids (SO {1e-5, 1e-6, 1e-7}, SRIP {1e-3, 1e-4, 1e-5}); the paper
# itself states only SO gamma = 1e-6 for ResNet-18 (Sec. 5, App. A.1). No SRIP value is known for
# ViTs, so none is given: asking for one is an error, not a guess.
GAMMA_RECIPE: dict[tuple[str, str], float] = {
    ("resnet18", "so"): 1e-6, ("resnet18", "srip"): 1e-3,
    ("resnet50", "so"): 1e-6, ("resnet50", "srip"): 1e-3,
    ("wideresnet28w2", "so"): 1e-6, ("wideresnet28w2", "srip"): 1e-4,
    ("vit_tiny", "so"): 1e-5, ("vit_small", "so"): 1e-5, ("vit_base", "so"): 1e-6,
}


def recipe_gamma(family: str, kind: str) -> float | None:
    """gamma for a backbone family and regularizer kind; None if the recipe has no value."""
    return GAMMA_RECIPE.get((family, kind))


def weight_as_rows(weight: torch.Tensor) -> torch.Tensor:
    """The stored weight as w = W^T of shape (output, input) (Conv2d: C_out x C_in*kH*kW)."""
    if weight.dim() < 2:
        raise ValueError(f"expected a Linear or Conv weight (>= 2-D), got shape {tuple(weight.shape)}")
    return weight.reshape(weight.shape[0], -1)


def gram_deviation(weight: torch.Tensor) -> torch.Tensor:
    """A = W^T W - I if input > output else W W^T - I, for one weight or a stack [B, out, in]."""
    w = weight if weight.dim() == 3 else weight_as_rows(weight)
    output, input_ = w.shape[-2], w.shape[-1]
    gram = w @ w.transpose(-1, -2) if input_ > output else w.transpose(-1, -2) @ w
    return gram - torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)


def _so_from_rows(w: torch.Tensor) -> torch.Tensor:
    return gram_deviation(w).square().sum(dim=(-2, -1))


def _srip_from_rows(w: torch.Tensor, power_iters: int, generator: torch.Generator | None) -> torch.Tensor:
    """Power iteration x_k = A x_{k-1} from x_0 ~ N(0, I); sigma = ||x_n|| / ||x_{n-1}||.

    With power_iters = 2 this is the paper's u = A v, v = A u, sigma = ||v|| / ||u||. Each iterate
    is normalized before the next product (the ratio is scale-invariant, so this only avoids
    overflow); gradients flow through every product, as in the formula.
    """
    if power_iters < 1:
        raise ValueError(f"power_iters must be >= 1, got {power_iters}")
    a = gram_deviation(w)
    x = torch.randn(a.shape[:-1] + (1,), generator=generator, dtype=a.dtype,
                    device="cpu" if generator is not None else a.device).to(a.device)
    x = x / x.norm(dim=-2, keepdim=True)
    for _ in range(power_iters - 1):
        x = a @ x
        x = x / x.norm(dim=-2, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)
    return (a @ x).norm(dim=(-2, -1))


def so_penalty(weight: torch.Tensor) -> torch.Tensor:
    """Soft orthogonality ||W^T W - I||_F^2 (input > output) or ||W W^T - I||_F^2 (OR paper, Sec. 3.3)."""
    return _so_from_rows(weight_as_rows(weight))


def srip_penalty(weight: torch.Tensor, power_iters: int = 2,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """SRIP: spectral norm of the Gram deviation by ``power_iters`` power-iteration products from
    a random normal vector (OR paper, Sec. 3.3; Bansal et al., NeurIPS 2018). Differentiable.
    A lower bound of the exact norm: with the paper's 2 products about 30% low on random weights
    (module docstring); it converges to the exact norm as ``power_iters`` grows."""
    return _srip_from_rows(weight_as_rows(weight), power_iters, generator)


def regularized_weights(encoder: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """(name, weight) of every Conv2d (incl. 1x1 shortcuts) and Linear layer of ``encoder``."""
    return [(f"{name}.weight" if name else "weight", module.weight)
            for name, module in encoder.named_modules()
            if isinstance(module, (nn.Conv2d, nn.Linear)) and module.weight is not None]


def orthogonality_penalty(encoder: nn.Module, kind: str, power_iters: int = 2,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """Sum of SO or SRIP over every Conv2d and Linear weight of ``encoder`` (OR paper, Sec. 4).

    Pass the backbone only. Weights of the same shape are stacked and their Gram matrices computed
    in one batched product, so the cost is a handful of kernels, not one per layer.
    """
    if kind not in ORTHOGONALITY_KINDS:
        raise ValueError(f"unknown orthogonality penalty {kind!r}; expected 'so' or 'srip'")
    groups: dict[tuple, list[torch.Tensor]] = defaultdict(list)
    for _, weight in regularized_weights(encoder):
        rows = weight_as_rows(weight)
        groups[(tuple(rows.shape), rows.dtype, rows.device)].append(rows)
    if not groups:
        raise ValueError("the encoder has no Conv2d or Linear weight to regularize")
    total = None
    device_type = next(iter(groups))[2].type
    # The Gram matrices stay in the weights' precision (fp32) even under bf16/fp16 autocast.
    with torch.autocast(device_type=device_type, enabled=False):
        for stack in groups.values():
            w = torch.stack(stack)
            per_layer = (_so_from_rows(w) if kind == "so"
                         else _srip_from_rows(w, power_iters, generator))
            total = per_layer.sum() if total is None else total + per_layer.sum()
    return total


def vicreg_variance_covariance(x: torch.Tensor, eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """VICReg's variance and covariance terms of one batch of embeddings ``x`` [N, D]
    (Bardes et al., ICLR 2022, Eq. 1-4, official code): mean hinge ``relu(1 - sqrt(var + eps))`` over
    dimensions, and the sum of squared off-diagonal covariances divided by D."""
    n, d = x.shape
    x = x - x.mean(dim=0)
    std = torch.sqrt(x.var(dim=0) + eps)
    variance = torch.relu(1.0 - std).mean()
    cov = (x.T @ x) / (n - 1)
    off_diagonal = cov - torch.diag_embed(torch.diagonal(cov))
    covariance = off_diagonal.square().sum() / d
    return variance, covariance


def whitening_penalty(outputs: list[torch.Tensor], cov_ratio: float = 0.004) -> torch.Tensor:
    """The OR paper's whitening baseline (Table 1, Sec. 5): VICReg's variance term averaged over
    the views' predictor outputs plus ``cov_ratio`` (0.004 in the paper) times their covariance
    terms summed, as VICReg's code combines its views."""
    terms = [vicreg_variance_covariance(z) for z in outputs]
    variance = sum(v for v, _ in terms) / len(terms)
    covariance = sum(c for _, c in terms)
    return variance + cov_ratio * covariance
