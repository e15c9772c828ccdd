"""Spectral collapse diagnostics (pure functions, float64).

Inputs are sample matrices ``x [N, D]`` (N samples of D features) as torch tensors or arrays;
every computation runs in float64. Definitions:

- covariance eigenvalues: of the centred covariance (x - mean)^T (x - mean) / (N - 1), descending.
- normalized eigenvalues: those divided by the largest (OR paper, Definition 1, after He & Ozay 2022).
- weight spectra: a weight reshaped to W (input x output) (OR paper, Sec. 3.2) is the sample
  matrix: ``input`` samples of ``output`` features.
- effective rank: RankMe (Garrido et al., ICML 2023, Eq. 1): exp of the entropy of the singular
  values of x itself (not centred) normalized to sum 1, plus epsilon = 1e-7.
- log IoC: INTL's condition indicator lg(lambda_min / lambda_max) of the covariance (Weng et al.,
  ICLR 2024); -inf when the smallest eigenvalue is not positive.
- alpha-ReQ: the power-law decay exponent alpha of lambda_k ~ k^-alpha (Agrawal et al., NeurIPS
  2022), fitted as the authors' code does (fastssl, after Stringer & Pachitariu 2018): weighted
  least squares of log(lambda_k / sum lambda) on -log k with weights 1/k over ranks 4..100.
- collapsed dimensions: normalized eigenvalues below a relative threshold (default 1e-5; with
  float64 covariances numerical zeros sit near 1e-16).
- DirectCLR's embedding spectrum (Jing et al., ICLR 2022, Sec. 3 and its spectrum.py): log of the
  singular values of the covariance of the L2-normalized embeddings.
"""
from __future__ import annotations

import math

import numpy as np
import torch

COLLAPSE_THRESHOLD = 1e-5
RANKME_EPS = 1e-7
ALPHA_REQ_RANKS = (4, 100)  # 1-based, inclusive (fastssl: trange = np.arange(3, 100))


def _as_float64(x) -> torch.Tensor:
    t = torch.as_tensor(x)
    if t.dim() != 2:
        raise ValueError(f"expected a 2-D sample matrix [N, D], got shape {tuple(t.shape)}")
    return t.detach().to("cpu", torch.float64)


def covariance(x) -> torch.Tensor:
    t = _as_float64(x)
    if t.shape[0] < 2:
        raise ValueError("a covariance needs at least 2 samples")
    centred = t - t.mean(dim=0, keepdim=True)
    return centred.T @ centred / (t.shape[0] - 1)


def covariance_eigenvalues(x) -> torch.Tensor:
    """Eigenvalues of the centred covariance, descending (float64; tiny negatives kept)."""
    return torch.linalg.eigvalsh(covariance(x)).flip(0)


def normalized_eigenvalues(x) -> torch.Tensor:
    """Covariance eigenvalues divided by the largest (OR paper, Definition 1)."""
    eig = covariance_eigenvalues(x)
    return eig / eig[0]


def weight_as_samples(weight) -> torch.Tensor:
    """W (input x output) of a Conv2d [C_out, C_in, kH, kW] or Linear [out, in] weight."""
    w = torch.as_tensor(weight).detach()
    return w.reshape(w.shape[0], -1).T


def weight_normalized_eigenvalues(weight) -> torch.Tensor:
    """Normalized eigenvalues of a weight viewed as ``input`` samples of ``output`` features."""
    return normalized_eigenvalues(weight_as_samples(weight))


def effective_rank(x, eps: float = RANKME_EPS) -> float:
    """RankMe: exp(-sum p_k log p_k), p_k = sigma_k(x) / ||sigma(x)||_1 + eps."""
    sigma = torch.linalg.svdvals(_as_float64(x))
    p = sigma / sigma.sum() + eps
    return float(torch.exp(-(p * torch.log(p)).sum()))


def log_ioc(x) -> float:
    """lg(lambda_min / lambda_max) of the covariance; -inf if lambda_min <= 0."""
    return _log_ioc(covariance_eigenvalues(x))


def _log_ioc(eig: torch.Tensor) -> float:
    smallest, largest = float(eig[-1]), float(eig[0])
    return math.log10(smallest / largest) if smallest > 0 else float("-inf")


def alpha_req(x, ranks: tuple[int, int] = ALPHA_REQ_RANKS) -> float:
    """Power-law decay exponent of the covariance spectrum (alpha-ReQ), fitted over ``ranks``."""
    eig = covariance_eigenvalues(x).numpy()
    return powerlaw_exponent(eig, ranks)


def powerlaw_exponent(eigenvalues, ranks: tuple[int, int] = ALPHA_REQ_RANKS) -> float:
    """alpha of lambda_k ~ k^-alpha by weighted least squares (weights 1/k) over 1-based ranks."""
    eig = np.asarray(eigenvalues, dtype=np.float64)
    eig = eig / eig.sum()
    first, last = ranks[0], min(ranks[1], len(eig))
    k = np.arange(first, last + 1, dtype=np.float64)
    lam = eig[first - 1:last]
    keep = lam > 0
    if keep.sum() < 2:
        return float("nan")
    k, y = k[keep], np.log(lam[keep])
    design = np.stack([-np.log(k), np.ones_like(k)], axis=1)
    weights = 1.0 / k
    wx = design * weights[:, None]
    coef = np.linalg.solve(design.T @ wx, wx.T @ y)
    return float(coef[0])


def collapsed_dimensions(x, threshold: float = COLLAPSE_THRESHOLD) -> int:
    """Number of normalized covariance eigenvalues below ``threshold``."""
    return int((normalized_eigenvalues(x) < threshold).sum())


def embedding_log_spectrum(z) -> torch.Tensor:
    """DirectCLR's diagnostic: log singular values (descending) of the covariance of the
    L2-normalized embeddings."""
    t = _as_float64(z)
    t = t / t.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.log(torch.linalg.svdvals(covariance(t)))


def spectrum_summary(x, threshold: float = COLLAPSE_THRESHOLD) -> dict:
    """Every scalar diagnostic of one sample matrix, and its normalized eigenvalues."""
    eig = covariance_eigenvalues(x)
    normalized = eig / eig[0]
    return {
        "samples": int(torch.as_tensor(x).shape[0]),
        "dims": int(torch.as_tensor(x).shape[1]),
        "effective_rank": effective_rank(x),
        "log_ioc": _log_ioc(eig),
        "alpha_req": powerlaw_exponent(eig.numpy()),
        "collapsed_dims": int((normalized < threshold).sum()),
        "collapse_threshold": threshold,
        "normalized_eigenvalues": normalized.tolist(),
    }
