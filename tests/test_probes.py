"""k-NN and linear probes against brute-force references and separable data."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ortho_suite.probes import (
    PROBE_PROTOCOLS,
    knn_accuracy,
    knn_predict,
    linear_probe,
    topk_accuracy,
)


def _data(n_train=300, n_test=80, d=16, classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n_train, d, generator=g, dtype=torch.float64),
            torch.randint(0, classes, (n_train,), generator=g),
            torch.randn(n_test, d, generator=g, dtype=torch.float64),
            torch.randint(0, classes, (n_test,), generator=g))


def _brute_force(train, train_y, test, k, temperature, metric, weighted, classes):
    tr, te = train.numpy(), test.numpy()
    preds = []
    for q in te:
        if metric == "cosine":
            sims = tr @ q / (np.linalg.norm(tr, axis=1) * np.linalg.norm(q))
            nearest = np.argsort(-sims, kind="stable")[:k]
            weights = np.exp(sims[nearest] / temperature) if weighted else np.ones(k)
        else:
            dists = np.linalg.norm(tr - q, axis=1)
            nearest = np.argsort(dists, kind="stable")[:k]
            weights = np.ones(k)
        votes = np.zeros(classes)
        for idx, w in zip(nearest, weights):
            votes[train_y[idx]] += w
        preds.append(int(np.argmax(votes)))
    return np.array(preds)


@pytest.mark.parametrize("k,metric,weighted", [(20, "cosine", True), (200, "cosine", True),
                                               (5, "euclidean", False), (7, "cosine", False)])
def test_knn_equals_brute_force(k, metric, weighted):
    train, train_y, test, test_y = _data()
    scores = knn_predict(train, train_y, test, k=k, temperature=0.1, metric=metric,
                         weighted=weighted, chunk_size=17)
    expected = _brute_force(train, train_y.numpy(), test, k, 0.1, metric, weighted, 5)
    np.testing.assert_array_equal(scores.argmax(1).numpy(), expected)
    acc = knn_accuracy(train, train_y, test, test_y, k=k, metric=metric, weighted=weighted)
    assert acc == pytest.approx(100.0 * (expected == test_y.numpy()).mean())


def test_topk_accuracy():
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 1, 0])
    acc = topk_accuracy(scores, labels, ks=(1, 2, 5))
    assert acc["top1"] == pytest.approx(100 / 3) and acc["top2"] == pytest.approx(200 / 3)
    assert acc["top5"] == 100.0


def _separable(n=2000, d=32, classes=10, seed=1):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, d, generator=g) * 5
    y = torch.randint(0, classes, (n,), generator=g)
    return centres[y] + 0.3 * torch.randn(n, d, generator=g), y


@pytest.mark.parametrize("protocol,epochs", [("or", 10), ("intl_cifar", 60)])
def test_probe_on_separable_features_reaches_100(protocol, epochs):
    x, y = _separable()
    result = linear_probe(x[:1500], y[:1500], x[1500:], y[1500:], protocol, epochs=epochs)
    assert result["top1"] == pytest.approx(100.0) and result["top5"] == 100.0
    assert result["protocol"] == protocol and result["epochs"] == epochs


def test_probe_protocols_are_the_papers():
    or_, intl = PROBE_PROTOCOLS["or"], PROBE_PROTOCOLS["intl_cifar"]
    assert (or_.optimizer, or_.lr, or_.epochs, or_.milestones, or_.weight_decay, or_.batch_size,
            or_.nesterov) == ("sgd", 0.1, 100, (60,), 5e-4, 256, True)
    assert (intl.optimizer, intl.lr, intl.final_lr, intl.epochs, intl.weight_decay,
            intl.batch_size) == ("adam", 1e-2, 1e-6, 500, 5e-6, 1000)
    imagenet = PROBE_PROTOCOLS["imagenet"]
    assert (imagenet.optimizer, imagenet.lr, imagenet.epochs, imagenet.milestones,
            imagenet.weight_decay, imagenet.augmented) == ("sgd", 0.2, 100, (60, 80), 0.0, True)
    x, y = _separable(n=100)
    with pytest.raises(ValueError, match="augmented images"):
        linear_probe(x, y, x, y, "imagenet")


def test_probe_is_deterministic_for_a_seed():
    x, y = _separable(n=500)
    a = linear_probe(x[:400], y[:400], x[400:], y[400:], "or", epochs=3, seed=5)
    b = linear_probe(x[:400], y[:400], x[400:], y[400:], "or", epochs=3, seed=5)
    assert a == b
