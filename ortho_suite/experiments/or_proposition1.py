"""Proposition 1 of the OR paper (He, Du, Ma, NeurIPS 2024, Sec. 3), checked numerically in float64.

For S = X W with W^T W = I (W: input x output, orthonormal columns) and X centred with covariance
sigma^2 I: (1) S is centred with covariance sigma^2 I; (2) for square W, ||S||_F = ||X||_F; (3) for
square W, the back-propagated gradients have equal norms, ||dL/dS||_F = ||dL/dX||_F. The
experiment measures each statement's error for orthogonal W and for W moved away from
orthogonality, indexed by the SO penalty ||W^T W - I||_F^2 of :func:`ortho_suite.regularizers.so_penalty`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..plots import _save, plt
from ..provenance import atomic_write_json, atomic_write_text
from ..regularizers import so_penalty
from ..spectra import covariance


def whitened_centred(n: int, d: int, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """n x d samples, exactly centred, with sample covariance sigma^2 I (ZCA of Gaussian data)."""
    x = torch.randn(n, d, generator=generator, dtype=torch.float64)
    x = x - x.mean(0)
    eig, vec = torch.linalg.eigh(x.T @ x / (n - 1))
    return sigma * x @ vec @ torch.diag(eig.rsqrt()) @ vec.T


def orthonormal_columns(rows: int, cols: int, generator: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(rows, cols, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def statement_errors(x: torch.Tensor, w: torch.Tensor, sigma: float) -> dict:
    """Absolute errors of the proposition's statements for S = X W (relative for the norms)."""
    s = x @ w
    errors = {"mean": float(s.mean(0).abs().max()),
              "covariance": float((covariance(s) - sigma ** 2 * torch.eye(w.shape[1],
                                                                         dtype=s.dtype)).abs().max())}
    if w.shape[0] == w.shape[1]:
        errors["norm"] = abs(float(torch.linalg.norm(s) / torch.linalg.norm(x)) - 1)
        xg = x.clone().requires_grad_(True)
        out = xg @ w
        # any loss works; a non-linear one gives a non-trivial upstream gradient dL/dS
        loss = torch.sin(out).sum() + out.pow(3).sum() / 10
        grad_s, = torch.autograd.grad(loss, out, retain_graph=True)
        grad_x, = torch.autograd.grad(loss, xg)
        errors["gradient_norm"] = abs(float(torch.linalg.norm(grad_x) / torch.linalg.norm(grad_s)) - 1)
    return errors


def run(n: int = 4096, d: int = 64, out_dim: int = 32, sigma: float = 1.5, seed: int = 0,
        scales=tuple(np.logspace(-6, 0, 25))) -> dict:
    """Orthogonal W (square and rectangular), then W + eps * G for growing eps (SO on the x-axis)."""
    g = torch.Generator().manual_seed(seed)
    x = whitened_centred(n, d, sigma, g)
    result = {"n": n, "input": d, "sigma": sigma, "seed": seed, "cases": {}}
    for name, cols in (("square", d), ("rectangular", out_dim)):
        w = orthonormal_columns(d, cols, g)
        direction = torch.randn(d, cols, generator=g, dtype=torch.float64) / np.sqrt(d)
        sweep = []
        for eps in scales:
            w_eps = w + float(eps) * direction
            sweep.append({"eps": float(eps), "so_penalty": float(so_penalty(w_eps.T)),
                          **statement_errors(x, w_eps, sigma)})
        result["cases"][name] = {"orthogonal": {"so_penalty": float(so_penalty(w.T)),
                                                **statement_errors(x, w, sigma)},
                                 "sweep": sweep}
    result["input_check"] = {"mean": float(x.mean(0).abs().max()),
                             "covariance": float((covariance(x) - sigma ** 2 * torch.eye(d, dtype=x.dtype)).abs().max())}
    return result


def write(result: dict, out_dir) -> list:
    """Figure (each statement's error against the SO penalty of W), data and note."""
    out_dir = Path(out_dir)
    fig, ax = plt.subplots(figsize=(6, 4))
    for case, style in (("square", "-"), ("rectangular", "--")):
        sweep = result["cases"][case]["sweep"]
        so = [r["so_penalty"] for r in sweep]
        for key, label in (("covariance", "max |Cov(S) - sigma^2 I|"), ("norm", "| ||S||/||X|| - 1 |"),
                           ("gradient_norm", "| ||dL/dX||/||dL/dS|| - 1 |")):
            if key in sweep[0]:
                ax.loglog(so, [max(r[key], 1e-17) for r in sweep], style, label=f"{label} ({case} W)")
    ax.set_xlabel("SO penalty ||W^T W - I||_F^2")
    ax.set_ylabel("error of the statement")
    ax.set_title("OR Proposition 1 as W departs from orthogonality", fontsize=9)
    ax.legend(fontsize=6)
    _save(fig, out_dir / "or_proposition1.png")
    atomic_write_json(out_dir / "or_proposition1.json", result)
    sq, rect = result["cases"]["square"]["orthogonal"], result["cases"]["rectangular"]["orthogonal"]
    at = lambda case, so: next(r for r in result["cases"][case]["sweep"] if r["so_penalty"] >= so)  # noqa: E731
    near, far = at("square", 1e-2), at("square", 1.0)
    lines = [
        "# OR Proposition 1, numerically", "",
        "Source: He, Du, Ma, NeurIPS 2024, Proposition 1 (Sec. 3; the matrix form of Huang et al. "
        "2018). Float64; X: "
        f"{result['n']} x {result['input']} samples centred and whitened to covariance sigma^2 I, sigma = "
        f"{result['sigma']} (input check: mean {result['input_check']['mean']:.1e}, covariance error "
        f"{result['input_check']['covariance']:.1e}); W with orthonormal columns, square "
        f"({result['input']} x {result['input']}) and rectangular ({result['input']} x 32); "
        "gradients from L = sum(sin S) + sum(S^3)/10 by autograd.", "",
        "| statement | square W | rectangular W |", "|---|---|---|",
        f"| (1) S centred: max abs mean | {sq['mean']:.1e} | {rect['mean']:.1e} |",
        f"| (1) Cov(S) = sigma^2 I: max abs error | {sq['covariance']:.1e} | {rect['covariance']:.1e} |",
        f"| (2) ‖S‖_F = ‖X‖_F: relative error | {sq['norm']:.1e} | n/a (square W only) |",
        f"| (3) ‖dL/dS‖_F = ‖dL/dX‖_F: relative error | {sq['gradient_norm']:.1e} | n/a (square W only) |", "",
        "Every statement holds to float64 precision for orthogonal W. Moving W away from "
        "orthogonality (W + eps G, the SO penalty on the figure's x-axis) breaks (1)-(3) smoothly: at "
        f"SO = {near['so_penalty']:.2g} the covariance error is {near['covariance']:.1e} and the gradient-norm "
        f"error {near['gradient_norm']:.1e}; at SO = {far['so_penalty']:.2g} they are "
        f"{far['covariance']:.1e} and {far['gradient_norm']:.1e}. The errors grow like the square root "
        "of the SO penalty (slope 1/2 on the log-log plot), i.e. linearly in ‖W^T W - I‖_F. "
        "Centring (the first half of (1)) holds for any W, orthogonal or not: a linear map keeps a "
        "zero mean.", ""]
    atomic_write_text(out_dir / "or_proposition1.md", "\n".join(lines))
    return [out_dir / n for n in ("or_proposition1.png", "or_proposition1.json", "or_proposition1.md")]
