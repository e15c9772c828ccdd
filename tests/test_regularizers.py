"""SO and SRIP (OR paper, Sec. 3.3-4) against float64 NumPy evaluations of the formulas."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ortho_suite.regularizers import (
    GAMMA_RECIPE,
    orthogonality_penalty,
    regularized_weights,
    so_penalty,
    srip_penalty,
)

# (weight shape, input > output?) with input = prod(shape[1:]), output = shape[0]
SHAPES = [
    ((8, 3, 3, 3), True),     # conv, input 27 > output 8: W^T W
    ((64, 4, 1, 1), False),   # 1x1 conv, input 4 < output 64: W W^T
    ((10, 20), True),         # linear, input 20 > output 10
    ((30, 5), False),         # linear, input 5 < output 30
    ((6, 6), False),          # square: W W^T (same size either way)
]


def _as_input_by_output(weight: np.ndarray) -> np.ndarray:
    """The paper's W in R^{input x output} (Sec. 3.2) from a PyTorch-layout weight."""
    return weight.reshape(weight.shape[0], -1).T


def _reference_gram_deviation(weight: np.ndarray) -> np.ndarray:
    w = _as_input_by_output(weight)
    n_in, n_out = w.shape
    if n_in > n_out:
        return w.T @ w - np.eye(n_out)
    return w @ w.T - np.eye(n_in)


def reference_so(weight: np.ndarray) -> float:
    return float(np.sum(_reference_gram_deviation(weight) ** 2))


def reference_spectral_norm(weight: np.ndarray) -> float:
    return float(np.linalg.norm(_reference_gram_deviation(weight), ord=2))


def _random_weight(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.3, size=shape)


def _orthogonal_weight(shape, seed=0) -> np.ndarray:
    """Orthonormal columns of W (input x output) or rows, whichever side is smaller."""
    n_out, n_in = shape[0], int(np.prod(shape[1:]))
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(max(n_in, n_out), min(n_in, n_out))))
    w = q if n_in >= n_out else q.T  # input x output
    return w.T.reshape(shape)


@pytest.mark.parametrize("shape,tall", SHAPES)
def test_so_matches_formula_in_float64(shape, tall):
    weight = _random_weight(shape)
    ours = so_penalty(torch.from_numpy(weight)).item()
    assert ours == pytest.approx(reference_so(weight), rel=1e-9)
    gram_side = shape[0] if tall else int(np.prod(shape[1:]))
    assert _reference_gram_deviation(weight).shape == (gram_side, gram_side)


@pytest.mark.parametrize("shape,_", SHAPES)
def test_so_and_srip_vanish_for_orthogonal_weights(shape, _):
    weight = torch.from_numpy(_orthogonal_weight(shape))
    assert so_penalty(weight).item() < 1e-20
    assert srip_penalty(weight, power_iters=10).item() < 1e-10


@pytest.mark.parametrize("shape,_", SHAPES)
def test_srip_converges_to_exact_spectral_norm(shape, _):
    weight = _random_weight(shape, seed=1)
    ours = srip_penalty(torch.from_numpy(weight), power_iters=2000).item()
    assert ours == pytest.approx(reference_spectral_norm(weight), rel=1e-4)


def test_srip_two_iterations_is_the_papers_formula():
    """u = A v, v' = A u, sigma = ||v'|| / ||u|| from v ~ N(0, I), the same draw as ours."""
    weight = _random_weight((16, 4, 3, 3), seed=2)
    a = _reference_gram_deviation(weight)
    v = torch.randn((a.shape[0], 1), generator=torch.Generator().manual_seed(7),
                    dtype=torch.float64).numpy()
    u = a @ v
    expected = np.linalg.norm(a @ u) / np.linalg.norm(u)
    ours = srip_penalty(torch.from_numpy(weight), power_iters=2,
                        generator=torch.Generator().manual_seed(7)).item()
    assert ours == pytest.approx(expected, rel=1e-12)
    assert ours <= reference_spectral_norm(weight) * (1 + 1e-12)  # a Rayleigh-type lower bound


@pytest.mark.parametrize("penalty", [so_penalty, lambda w: srip_penalty(w, power_iters=5)])
def test_gradients_flow(penalty):
    weight = torch.tensor(_random_weight((8, 3, 3, 3)), requires_grad=True)
    penalty(weight).backward()
    assert torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0


def test_so_gradient_matches_closed_form():
    """d/dW ||W^T W - I||_F^2 = 4 W (W^T W - I) for a tall W (input x output)."""
    w_np = _random_weight((10, 20))  # linear, input 20 > output 10
    weight = torch.tensor(w_np, requires_grad=True)
    so_penalty(weight).backward()
    w = _as_input_by_output(w_np)
    expected = 4 * w @ (w.T @ w - np.eye(10))
    np.testing.assert_allclose(weight.grad.numpy(), expected.T, rtol=1e-10)


class _Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(3, 8, 3)
        self.conv_b = nn.Conv2d(8, 8, 3, bias=False)
        self.conv_c = nn.Conv2d(8, 8, 3, bias=False)  # same shape as conv_b: batched together
        self.bn = nn.BatchNorm2d(8)                   # not a conv/linear: not regularized
        self.shortcut = nn.Conv2d(8, 16, 1)
        self.fc = nn.Linear(16, 4)


def test_orthogonality_penalty_sums_every_conv_and_linear():
    torch.manual_seed(0)
    encoder = _Encoder().double()
    names = [name for name, _ in regularized_weights(encoder)]
    assert names == ["conv_a.weight", "conv_b.weight", "conv_c.weight", "shortcut.weight", "fc.weight"]
    expected_so = sum(reference_so(w.detach().numpy()) for _, w in regularized_weights(encoder))
    assert orthogonality_penalty(encoder, "so").item() == pytest.approx(expected_so, rel=1e-9)
    expected_srip = sum(reference_spectral_norm(w.detach().numpy()) for _, w in regularized_weights(encoder))
    ours = orthogonality_penalty(encoder, "srip", power_iters=3000).item()
    assert ours == pytest.approx(expected_srip, rel=1e-4)


def test_orthogonality_penalty_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown orthogonality penalty"):
        orthogonality_penalty(_Encoder(), "l2")


def test_gamma_recipe_holds_the_values_the_issue_and_reference_state():
    assert GAMMA_RECIPE[("resnet18", "so")] == GAMMA_RECIPE[("resnet50", "so")] == 1e-6
    assert GAMMA_RECIPE[("resnet18", "srip")] == GAMMA_RECIPE[("resnet50", "srip")] == 1e-3
    assert GAMMA_RECIPE[("wideresnet28w2", "srip")] == 1e-4
    assert GAMMA_RECIPE[("vit_tiny", "so")] == GAMMA_RECIPE[("vit_small", "so")] == 1e-5
    assert GAMMA_RECIPE[("vit_base", "so")] == 1e-6
    assert ("vit_base", "srip") not in GAMMA_RECIPE  # unknown values stay missing
