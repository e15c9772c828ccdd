"""Each loss against an independent float64 NumPy evaluation of the official formula."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ortho_suite import losses

RTOL = 1e-6


def _pair(n=16, d=8, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d)) * scale
    return a, a + 0.5 * rng.normal(size=(n, d))


def _t(*arrays):
    return [torch.from_numpy(a) for a in arrays]


def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _logsumexp(v):
    m = v.max()
    return m + math.log(np.exp(v - m).sum())


def test_nt_xent_is_simclrs_loss():
    a, b = _pair()
    z = _unit(np.concatenate([a, b]))
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        positive = (i + n2 // 2) % n2
        sims = np.array([z[i] @ z[k] / 0.1 for k in range(n2) if k != i])  # 2N - 1 candidates
        total += -(z[i] @ z[positive] / 0.1 - _logsumexp(sims))
    ours = losses.nt_xent_loss(*_t(a, b), temperature=0.1).item()
    assert ours == pytest.approx(total / n2, rel=RTOL)


def _info_nce_ref(x, y, t):
    x, y = _unit(x), _unit(y)
    return np.mean([-(x[i] @ y[i] / t - _logsumexp(x[i] @ y.T / t)) for i in range(len(x))])


@pytest.mark.parametrize("dim", [3, None])
def test_directclr_uses_a_subvector_and_cross_view_negatives(dim):
    a, b = _pair(d=10)
    sa, sb = (a, b) if dim is None else (a[:, :dim], b[:, :dim])
    expected = (_info_nce_ref(sa, sb, 0.1) + _info_nce_ref(sb, sa, 0.1)) / 2
    assert losses.directclr_loss(*_t(a, b), dim=dim).item() == pytest.approx(expected, rel=RTOL)


def test_byol_loss():
    p, z = _pair()
    expected = 2 - 2 * np.mean(np.sum(_unit(p) * _unit(z), axis=1))
    assert losses.byol_loss(*_t(p, z)).item() == pytest.approx(expected, rel=RTOL)


def test_vicreg_loss():
    a, b = _pair(n=32, d=6, scale=0.3)
    n, d = a.shape
    invariance = np.mean((a - b) ** 2)
    def var_cov(x):
        xc = x - x.mean(0)
        std = np.sqrt(xc.var(0, ddof=1) + 1e-4)
        cov = xc.T @ xc / (n - 1)
        return np.mean(np.maximum(0, 1 - std)), ((cov ** 2).sum() - (np.diag(cov) ** 2).sum()) / d
    (va, ca), (vb, cb) = var_cov(a), var_cov(b)
    expected = 25 * invariance + 25 * (va / 2 + vb / 2) + 1 * (ca + cb)
    assert losses.vicreg_loss(*_t(a, b)).item() == pytest.approx(expected, rel=RTOL)


def test_barlow_twins_loss():
    a, b = _pair(n=32, d=6)
    def bn(x):
        return (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)  # biased variance, as BatchNorm1d
    c = bn(a).T @ bn(b) / len(a)
    expected = ((np.diag(c) - 1) ** 2).sum() + 0.0051 * ((c ** 2).sum() - (np.diag(c) ** 2).sum())
    assert losses.barlow_twins_loss(*_t(a, b)).item() == pytest.approx(expected, rel=RTOL)


def _iternorm_ref(x, iters):
    xc = x - x.mean(1, keepdims=True)
    sigma = xc @ xc.T / (x.shape[1] - 1)
    sigma_n = sigma / np.trace(sigma)
    p = np.eye(len(x))
    for _ in range(iters):
        p = 1.5 * p - 0.5 * p @ p @ p @ sigma_n
    return p / np.sqrt(np.trace(sigma)) @ xc


def test_intl_loss_matches_official_formula():
    a, b = _pair(n=16, d=40)
    def tl(z):
        zc = z - z.mean(1, keepdims=True)
        return (((zc ** 2).sum(1) / (z.shape[1] - 1) - 1) ** 2).sum()
    w1, w2 = _iternorm_ref(a, 4), _iternorm_ref(b, 4)
    beta = 0.01 * (math.log2(16) - 3)
    expected = (2 - 2 * np.mean(np.sum(_unit(w2) * _unit(w1), axis=1))) + beta * (tl(w2) + tl(w1))
    assert losses.intl_beta(256) == pytest.approx(0.05) and losses.intl_beta(128) == pytest.approx(0.04)
    assert losses.intl_loss(*_t(a, b)).item() == pytest.approx(expected, rel=RTOL)


def test_iternorm_maps_the_spectrum_by_its_newton_polynomial():
    """Output Gram eigenvalue = f_T(x) = x p_T(x)^2 of the normalized input eigenvalue x, with
    p_0 = 1, p_{k+1} = 1.5 p_k - 0.5 p_k^3 x (closed form of the Newton iteration)."""
    x = np.random.default_rng(3).normal(size=(12, 50)) * np.linspace(0.2, 3, 50)
    out = losses.iternorm(torch.from_numpy(x), iters=4).numpy()
    xc = x - x.mean(1, keepdims=True)
    sigma = xc @ xc.T / 49
    lam = np.sort(np.linalg.eigvalsh(sigma / np.trace(sigma)))
    p = np.ones_like(lam)
    for _ in range(4):
        p = 1.5 * p - 0.5 * p ** 3 * lam
    out_gram = np.sort(np.linalg.eigvalsh(out @ out.T / 49))
    nonzero = lam > 1e-12  # centring each sample removes one direction
    np.testing.assert_allclose(out_gram[nonzero], (lam * p ** 2)[nonzero], rtol=1e-6, atol=1e-12)


def test_wmse_whitening_and_loss():
    a, b = _pair(n=32, d=4)
    def whiten(x):
        xc = x - x.mean(0)
        chol = np.linalg.cholesky(xc.T @ xc / (len(x) - 1))
        return xc @ np.linalg.inv(chol).T
    wa = losses.cholesky_whiten(torch.from_numpy(a)).numpy()
    np.testing.assert_allclose(wa, whiten(a), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.cov(wa, rowvar=False), np.eye(4), atol=1e-9)
    expected = 2 - 2 * np.mean(np.sum(_unit(whiten(a)) * _unit(whiten(b)), axis=1))
    assert losses.wmse_loss(*_t(a, b)).item() == pytest.approx(expected, rel=RTOL)


def test_wmse_slices_whiten_separately():
    a, b = _pair(n=32, d=4)
    g = torch.Generator().manual_seed(0)
    ours = losses.wmse_loss(*_t(a, b), w_size=16, generator=g).item()
    perm = torch.randperm(32, generator=torch.Generator().manual_seed(0)).view(-1, 16).numpy()
    wa, wb = np.empty_like(a), np.empty_like(b)
    for idx in perm:
        wa[idx] = losses.cholesky_whiten(torch.from_numpy(a[idx])).numpy()
        wb[idx] = losses.cholesky_whiten(torch.from_numpy(b[idx])).numpy()
    assert ours == pytest.approx(2 - 2 * np.mean(np.sum(_unit(wa) * _unit(wb), axis=1)), rel=RTOL)
    with pytest.raises(ValueError, match="multiple of w_size"):
        losses.wmse_loss(*_t(a, b), w_size=10)


@pytest.mark.parametrize("fn", [losses.nt_xent_loss, losses.directclr_loss, losses.vicreg_loss,
                                losses.barlow_twins_loss, losses.intl_loss, losses.wmse_loss])
def test_gradients_reach_both_views(fn):
    a, b = (torch.tensor(x, requires_grad=True) for x in _pair(n=64, d=8))  # W-MSE needs N > d
    fn(a, b).backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0


def test_byol_stops_the_target_gradient():
    p, z = (torch.tensor(x, requires_grad=True) for x in _pair())
    losses.byol_loss(p, z).backward()
    assert p.grad.abs().sum() > 0 and z.grad is None


def _softmax(v):
    e = np.exp(v - v.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_dino_loss_is_the_cross_entropy_of_centred_sharpened_teacher_and_student():
    rng = np.random.default_rng(4)
    students = [rng.normal(size=(8, 12)) for _ in range(3)]  # 2 global views + 1 extra crop
    teachers = [rng.normal(size=(8, 12)) for _ in range(2)]  # teacher: global views only
    center = rng.normal(size=(1, 12)) * 0.3
    total, pairs = 0.0, 0
    for iq, t in enumerate(teachers):
        q = _softmax((t - center) / 0.04)
        for iv, s in enumerate(students):
            if iv == iq:
                continue
            log_p = s / 0.1 - np.array([_logsumexp(row / 0.1) for row in s])[:, None]
            total += np.mean(-(q * log_p).sum(axis=1))
            pairs += 1
    ours = losses.dino_loss(_t(*students), _t(*teachers), torch.from_numpy(center),
                            student_temp=0.1, teacher_temp=0.04).item()
    assert pairs == 4 and ours == pytest.approx(total / pairs, rel=RTOL)


def test_dino_teacher_gets_no_gradient_and_center_is_an_ema_of_the_teacher_mean():
    rng = np.random.default_rng(5)
    s1, s2, t1, t2 = (torch.tensor(rng.normal(size=(6, 5)), requires_grad=True) for _ in range(4))
    losses.dino_loss([s1, s2], [t1, t2], torch.zeros(1, 5, dtype=torch.float64)).backward()
    assert s1.grad.abs().sum() > 0 and s2.grad.abs().sum() > 0
    assert t1.grad is None and t2.grad is None
    center = rng.normal(size=(1, 5))
    teacher = np.concatenate([t1.detach().numpy(), t2.detach().numpy()])
    expected = 0.9 * center + 0.1 * teacher.mean(axis=0, keepdims=True)
    ours = losses.dino_center(torch.from_numpy(center), torch.from_numpy(teacher), momentum=0.9)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)


def test_nearest_neighbours_by_inner_product():
    rng = np.random.default_rng(6)
    query, support = _unit(rng.normal(size=(10, 4))), _unit(rng.normal(size=(50, 4)))
    expected = np.array([np.argmax([q @ s for s in support]) for q in query])
    idx, rows = losses.nearest_neighbours(*_t(query, support))
    np.testing.assert_array_equal(idx.numpy(), expected)
    np.testing.assert_array_equal(rows.numpy(), support[expected])


def test_intl_ema_loss_matches_official_formula():
    """INTL_M: online crops regress the IterNorm-whitened target crop; trace loss on online
    outputs only; averaged over the online crops."""
    rng = np.random.default_rng(7)
    target = rng.normal(size=(16, 40))
    online = [target + 0.5 * rng.normal(size=(16, 40)) for _ in range(2)]
    def tl(z):
        zc = z - z.mean(1, keepdims=True)
        return (((zc ** 2).sum(1) / (z.shape[1] - 1) - 1) ** 2).sum()
    wt = _iternorm_ref(target, 4)
    beta = 0.01 * (math.log2(16) - 3)
    expected = np.mean([(2 - 2 * np.mean(np.sum(_unit(_iternorm_ref(z, 4)) * _unit(wt), axis=1)))
                        + beta * tl(_iternorm_ref(z, 4)) for z in online])
    ours = losses.intl_ema_loss(_t(*online), torch.from_numpy(target), iters=4)
    assert ours.item() == pytest.approx(expected, rel=RTOL)
    zs = [torch.tensor(z, requires_grad=True) for z in online]
    t = torch.tensor(target, requires_grad=True)
    losses.intl_ema_loss(zs, t).backward()
    assert all(z.grad.abs().sum() > 0 for z in zs) and t.grad is None


def test_wmse_detach_second_keeps_the_value_and_stops_view_two_gradient():
    """solo-learn's wmse_loss_func: cosine_similarity(z1, z2.detach())."""
    a, b = (torch.tensor(x, requires_grad=True) for x in _pair(n=64, d=8))
    g = torch.Generator().manual_seed(1)
    detached = losses.wmse_loss(a, b, w_size=32, generator=g, detach_second=True)
    both = losses.wmse_loss(a, b, w_size=32, generator=torch.Generator().manual_seed(1))
    assert detached.item() == pytest.approx(both.item(), rel=1e-12)
    detached.backward()
    assert a.grad.abs().sum() > 0 and b.grad is None
