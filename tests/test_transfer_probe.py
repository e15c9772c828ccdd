"""The transfer linear protocol (ortho_suite/evaluate/transfer.py) against scikit-learn's
LogisticRegression (an independent L-BFGS solver of the same objective) on small synthetic
features: the fitted classifier, the L2 selection on validation data and the refit."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from ortho_suite.errors import UsageError
from ortho_suite.evaluate.transfer import (
    TRANSFER_PROTOCOLS,
    TransferProtocol,
    fit_logistic,
    holdout_split,
    transfer_linear_probe,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny problems: one thread (on the shared 2-core machine more threads only contend)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _clusters(n: int, seed: int = 0, d: int = 6, classes: int = 3, spread: float = 1.6):
    """n samples of overlapping Gaussian classes (so the L2 strength matters), float64; the class
    centres are the same for every seed (one distribution, several samples of it)."""
    centres = np.random.default_rng(1000).normal(size=(classes, d))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = centres[y] + spread * rng.normal(size=(n, d))
    return torch.from_numpy(x), torch.from_numpy(y)


def _sklearn(x, y, l2):
    """scikit-learn's multinomial fit of C * sum CE + ||W||^2 / 2, i.e. our objective x (C n)."""
    model = LogisticRegression(C=1.0 / (len(y) * l2), tol=1e-12, max_iter=20000)
    return model.fit(x.numpy(), y.numpy())


@pytest.mark.parametrize("l2", [1e-3, 1e-1, 3.0])
def test_fit_matches_sklearn_logistic_regression(l2):
    x, y = _clusters(90)
    fit = fit_logistic(x, y, l2, num_classes=3)
    ref = _sklearn(x, y, l2)
    # the L2 penalty makes W unique (its rows sum to 0 at the optimum); the bias is unique only
    # up to a common shift, so compare the probabilities
    assert np.allclose(fit["weight"].numpy(), ref.coef_, atol=1e-6)
    probs = torch.softmax(x @ fit["weight"].T + fit["bias"], dim=1).numpy()
    assert np.allclose(probs, ref.predict_proba(x.numpy()), atol=1e-7)
    assert fit["grad_max"] < 1e-7


def test_selection_and_refit_match_an_independent_sklearn_loop():
    """Official-validation case (Flowers-102, DTD): choose the L2 strength with the best
    validation top-1 (ties: the largest), refit on train + val, test once."""
    grid = tuple(float(v) for v in np.logspace(-4, 2, 7))
    proto = TransferProtocol("t", "test", l2_grid=grid, val_fraction=0.1)
    xtr, ytr = _clusters(60, seed=1)
    xva, yva = _clusters(60, seed=2)
    xte, yte = _clusters(200, seed=3)

    ours = transfer_linear_probe(xtr, ytr, xte, yte, xva, yva, protocol_name=proto)

    val_acc = {l2: 100.0 * np.mean(_sklearn(xtr, ytr, l2).predict(xva.numpy()) == yva.numpy())
               for l2 in grid}
    best = max(val_acc.values())
    chosen = max(l2 for l2 in grid if val_acc[l2] == best)
    final = _sklearn(torch.cat([xtr, xva]), torch.cat([ytr, yva]), chosen)
    test_top1 = 100.0 * np.mean(final.predict(xte.numpy()) == yte.numpy())

    assert ours["l2"] == chosen and ours["val_top1"] == pytest.approx(best)
    assert [ours["val_curve"][f"{l2:.6g}"] for l2 in grid] == pytest.approx([val_acc[l2] for l2 in grid])
    assert ours["top1"] == pytest.approx(test_top1)
    assert len(set(val_acc.values())) > 1  # the grid matters on these data
    assert ours["n_fit"] == 60 and ours["n_val"] == 60 and ours["validation"].startswith("the dataset")


def test_without_a_validation_split_a_tenth_of_train_is_held_out():
    """Food-101, GTSRB, CIFAR: 10% of train held out (seeded) for the selection, then all of
    train refitted; the result equals the official-validation call on that same split."""
    x, y = _clusters(100, seed=4)
    xte, yte = _clusters(50, seed=6)
    grid = (1e-3, 1e-1, 10.0)
    proto = TransferProtocol("t", "test", l2_grid=grid, val_fraction=0.1)
    held = transfer_linear_probe(x, y, xte, yte, protocol_name=proto, seed=5)
    fit_idx, val_idx = holdout_split(100, 0.1, seed=5)
    assert len(val_idx) == 10 and held["n_val"] == 10 and held["n_fit"] == 90
    assert sorted(torch.cat([fit_idx, val_idx]).tolist()) == list(range(100))
    explicit = transfer_linear_probe(x[fit_idx], y[fit_idx], xte, yte, x[val_idx], y[val_idx],
                                     protocol_name=proto)
    assert (held["l2"], held["top1"]) == (explicit["l2"], pytest.approx(explicit["top1"]))
    assert torch.equal(holdout_split(100, 0.1, seed=5)[1], val_idx)  # deterministic


def test_the_named_protocol_is_the_published_grid():
    proto = TRANSFER_PROTOCOLS["kornblith_lbfgs"]
    assert len(proto.l2_grid) == 45
    assert proto.l2_grid[0] == pytest.approx(1e-6) and proto.l2_grid[-1] == pytest.approx(1e5)
    ratios = np.diff(np.log10(proto.l2_grid))
    assert np.allclose(ratios, 11 / 44)
    with pytest.raises(UsageError, match="unknown transfer protocol 'sgd'"):
        transfer_linear_probe(*_clusters(20), *_clusters(10, seed=1), protocol_name="sgd")
