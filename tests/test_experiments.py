"""The papers' small experiments: their quantitative claims, checked on the real runs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ortho_suite.experiments import directclr_toy, iternorm_mapping, or_proposition1
from ortho_suite.losses import iternorm

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def toy() -> dict:
    return directclr_toy.run(seeds=SEEDS)


def test_directclr_case1_collapses_exactly_the_augmented_dimensions(toy):
    """Strong noise on inputs 9-16: the 8 smallest embedding eigenvalues sit at least 2 (natural
    log, a factor 7) below the 8 largest, and the layer's 8 weakest input directions are the
    augmented ones (>= 99.9% of their mass), for every seed."""
    runs = [r for r in toy["runs"] if r["case"] == "case1"]
    assert len(runs) == len(SEEDS)
    for r in runs:
        assert r["final"]["gap"] >= 2.0, r["final"]
        assert r["augmented_alignment"] >= 0.999
        assert r["loss_last"] < r["loss_first"] / 10  # it trained


def test_directclr_case2_keeps_the_small_singular_values_small(toy):
    """Weak noise, decaying init: the 3 initially smallest eigenvalues stay at least 8 (natural
    log, a factor ~3000) below the largest, while the 12 largest end within a factor e of each
    other, for every seed."""
    runs = [r for r in toy["runs"] if r["case"] == "case2"]
    for r in runs:
        assert max(r["initial_bottom_relative"]) < -8
        assert max(r["final_bottom_relative"]) < -8, r["final_bottom_relative"]
        assert max(r["final_top12"]) - min(r["final_top12"]) < 1.0
        assert r["collapsed_dims"] >= 3


def test_proposition1_holds_to_1e10_for_orthogonal_w():
    result = or_proposition1.run(n=2048, d=32, out_dim=16, scales=(1e-3, 1e-1))
    assert result["input_check"]["covariance"] < 1e-10
    square, rect = result["cases"]["square"]["orthogonal"], result["cases"]["rectangular"]["orthogonal"]
    for key in ("mean", "covariance", "norm", "gradient_norm"):
        assert square[key] < 1e-10, key
    assert rect["mean"] < 1e-10 and rect["covariance"] < 1e-10
    assert square["so_penalty"] < 1e-20


def test_proposition1_degrades_with_the_so_penalty():
    sweep = or_proposition1.run(n=1024, d=16, out_dim=8, scales=(1e-4, 1e-3, 1e-2, 1e-1))["cases"]["square"]["sweep"]
    so = [r["so_penalty"] for r in sweep]
    assert so == sorted(so) and so[0] > 0
    for key in ("covariance", "norm", "gradient_norm"):
        errors = [r[key] for r in sweep]
        assert errors == sorted(errors) and errors[0] > 1e-8, key
    # errors scale like sqrt(SO) (linearly in ||W^T W - I||): slope 1/2 on log-log axes
    slope = np.polyfit(np.log(so), np.log([r["covariance"] for r in sweep]), 1)[0]
    assert slope == pytest.approx(0.5, abs=0.05)


def test_newton_polynomial_is_the_iteration_on_scalars():
    """p_T from an independent scalar loop of IterNorm's update P <- 1.5 P - 0.5 P^3 x."""
    for x in (1e-3, 0.1, 0.5, 1.0):
        for t in range(1, 11):
            p = 1.0
            for _ in range(t):
                p = 1.5 * p - 0.5 * p * p * p * x
            assert iternorm_mapping.mapping(x, t) == pytest.approx(x * p * p, rel=1e-12)


@pytest.mark.parametrize("iters", [1, 2, 4, 7, 10])
def test_iternorm_output_spectrum_matches_the_closed_form(iters):
    eig = torch.from_numpy(iternorm_mapping.skewed_spectrum(32, 1.5)) * 5.0
    measured = iternorm_mapping.output_spectrum(eig, iters, features=96, seed=iters).numpy()
    expected = np.sort(iternorm_mapping.mapping((eig / eig.sum()).numpy(), iters))[::-1]
    # float64 rounding in the matrix iteration grows with T (2.6e-8 at T = 10 here)
    np.testing.assert_allclose(np.sort(measured)[::-1], expected, rtol=1e-6, atol=1e-12)


def test_prescribed_spectrum_data_has_that_gram():
    eig = torch.tensor([3.0, 2.0, 0.5, 0.1], dtype=torch.float64)
    x = iternorm_mapping.data_with_spectrum(eig, 10, torch.Generator().manual_seed(0))
    xc = x - x.mean(dim=1, keepdim=True)
    assert torch.allclose(x, xc, atol=1e-12)  # rows already centred: IterNorm's centring is a no-op
    got = torch.linalg.eigvalsh(xc @ xc.T / 9).flip(0)
    assert torch.allclose(got, eig, atol=1e-12)
    assert iternorm(x, 30).shape == x.shape


def test_flat_spectrum_trace_matches_the_papers_regime():
    """T = 4 leaves a flat 256-sample spectrum at ~0.095 per sample (so INTL's trace loss cannot
    reach 0 at its batch sizes); T = 10 whitens it; a skewed spectrum always gives less."""
    flat = np.full(256, 1 / 256)
    assert iternorm_mapping.mapping(flat, 4).sum() / 256 == pytest.approx(0.095, abs=0.001)
    assert iternorm_mapping.mapping(flat, 10).sum() / 256 == pytest.approx(1.0, abs=0.001)
    skew = iternorm_mapping.skewed_spectrum(256)
    for t in range(1, 11):
        assert iternorm_mapping.mapping(skew, t).sum() < iternorm_mapping.mapping(flat, t).sum()
    grid = np.logspace(-4, 0, 50)
    for t in range(1, 11):
        assert np.all(np.diff(iternorm_mapping.mapping(grid, t)) > -1e-12)  # order-preserving
    assert math.isfinite(iternorm_mapping.mapping(1.0, 10))
