"""Spectral diagnostics against independent NumPy float64 evaluations of their formulas."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ortho_suite import spectra


def _random(n=200, d=12, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)


def _low_rank(n=300, d=20, r=5, seed=1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, r)) @ rng.normal(size=(r, d))


def _np_cov_eigs(x: np.ndarray) -> np.ndarray:
    return np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1]


@pytest.mark.parametrize("x", [_random(), _low_rank()])
def test_covariance_eigenvalues_and_normalized(x):
    ref = _np_cov_eigs(x)
    np.testing.assert_allclose(spectra.covariance_eigenvalues(x).numpy(), ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(spectra.normalized_eigenvalues(x).numpy(), ref / ref[0], rtol=1e-10, atol=1e-12)


def test_weight_spectrum_uses_input_samples_of_output_features():
    weight = np.random.default_rng(2).normal(size=(16, 4, 3, 3))  # Conv2d [C_out, C_in, kH, kW]
    samples = weight.reshape(16, -1).T                           # 36 samples x 16 features
    ref = _np_cov_eigs(samples)
    ours = spectra.weight_normalized_eigenvalues(torch.from_numpy(weight)).numpy()
    assert ours.shape == (16,)
    np.testing.assert_allclose(ours, ref / ref[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x", [_random(), _low_rank()])
def test_effective_rank_is_rankme(x):
    s = np.linalg.svd(x, compute_uv=False)
    p = s / s.sum() + 1e-7
    assert spectra.effective_rank(x) == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-10)


def test_low_rank_inputs():
    r = 5
    x = _low_rank(r=r)
    eig = spectra.normalized_eigenvalues(x).numpy()
    assert (eig[:r] > 1e-3).all() and (np.abs(eig[r:]) < 1e-12).all()
    assert spectra.collapsed_dimensions(x) == 20 - r
    assert spectra.effective_rank(x) <= r + 1e-6
    assert spectra.log_ioc(x) == float("-inf") or spectra.log_ioc(x) < -10


def test_log_ioc_matches_formula():
    x = _random()
    ref = _np_cov_eigs(x)
    assert spectra.log_ioc(x) == pytest.approx(math.log10(ref[-1] / ref[0]), rel=1e-10)


def _with_covariance(eigenvalues: np.ndarray, n: int = 500, seed: int = 3) -> np.ndarray:
    """Samples whose sample covariance is exactly diag(eigenvalues)."""
    d = len(eigenvalues)
    z = np.random.default_rng(seed).normal(size=(n, d))
    q, _ = np.linalg.qr(z - z.mean(0))
    return math.sqrt(n - 1) * q * np.sqrt(eigenvalues)


def test_alpha_req_recovers_an_exact_power_law():
    k = np.arange(1, 151)
    x = _with_covariance(k ** -1.3)
    np.testing.assert_allclose(np.sort(spectra.covariance_eigenvalues(x).numpy())[::-1],
                               k ** -1.3, rtol=1e-9)
    assert spectra.alpha_req(x) == pytest.approx(1.3, rel=1e-9)


def test_alpha_req_matches_weighted_least_squares_reference():
    eig = _np_cov_eigs(_random(n=400, d=150, seed=4))
    lam = eig / eig.sum()
    k = np.arange(4, 101)
    # np.polyfit minimizes sum (w_i r_i)^2, so w = sqrt(1/k) reproduces weights 1/k
    slope, _ = np.polyfit(-np.log(k), np.log(lam[3:100]), 1, w=np.sqrt(1.0 / k))
    assert spectra.powerlaw_exponent(eig) == pytest.approx(slope, rel=1e-9)


def test_embedding_log_spectrum_is_directclrs():
    z = _random(n=300, d=10, seed=5)
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    ref = np.log(np.linalg.svd(np.cov(zn, rowvar=False), compute_uv=False))
    np.testing.assert_allclose(spectra.embedding_log_spectrum(z).numpy(), ref, rtol=1e-9)


def test_spectrum_summary_collects_every_metric():
    x = _low_rank()
    summary = spectra.spectrum_summary(x)
    assert summary["effective_rank"] == pytest.approx(spectra.effective_rank(x))
    assert summary["collapsed_dims"] == spectra.collapsed_dimensions(x)
    assert summary["alpha_req"] == pytest.approx(spectra.alpha_req(x), nan_ok=True)
    assert len(summary["normalized_eigenvalues"]) == 20 and summary["samples"] == 300
