"""Probes of a frozen encoder on its features: k-NN classifiers and linear probes.

Pure torch on feature tensors. Feature extraction lives in :mod:`ortho_suite.features`; the
``evaluate`` stage (ortho_suite/evaluate/) and the online monitor during training use these.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def knn_predict(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                k: int = 200, temperature: float = 0.1, metric: str = "cosine",
                weighted: bool = True, num_classes: int | None = None,
                chunk_size: int = 1024) -> torch.Tensor:
    """Class scores ``[n_test, C]`` of a k-nearest-neighbour classifier.

    - ``metric='cosine', weighted=True`` (solo-learn's and lightly's k-NN monitor, after Wu et al.
      2018): each of the k most similar training features votes for its class with weight
      exp(cos / temperature).
    - ``metric='euclidean', weighted=False`` (the W-MSE / INTL CIFAR protocol with k = 5): the k
      nearest by Euclidean distance on raw features vote once each (majority; ties go to the
      smallest class index).
    """
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"unknown k-NN metric {metric!r}; expected 'cosine' or 'euclidean'")
    num_classes = num_classes or int(train_labels.max()) + 1
    k = min(k, len(train_feats))
    train = F.normalize(train_feats, dim=1) if metric == "cosine" else train_feats
    scores = []
    for start in range(0, len(test_feats), chunk_size):
        test = test_feats[start:start + chunk_size]
        if metric == "cosine":
            sim = F.normalize(test, dim=1) @ train.T
            top, idx = sim.topk(k, dim=1)
        else:
            dist = torch.cdist(test, train)
            top, idx = dist.topk(k, dim=1, largest=False)
        weights = torch.exp(top / temperature) if weighted else torch.ones_like(top)
        votes = torch.zeros(len(test), num_classes, dtype=weights.dtype, device=weights.device)
        votes.scatter_add_(1, train_labels[idx], weights)
        scores.append(votes)
    return torch.cat(scores)


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, ks=(1, 5)) -> dict[str, float]:
    """Top-k accuracies in percent (k larger than the class count counts every sample).
    Tied scores rank the smaller class index first, as ``argmax`` does."""
    result = {}
    ranked = torch.sort(scores, dim=1, descending=True, stable=True).indices
    for k in ks:
        hit = (ranked[:, :k] == labels.view(-1, 1)).any(dim=1)
        result[f"top{k}"] = 100.0 * hit.double().mean().item()
    return result


def knn_accuracy(train_feats, train_labels, test_feats, test_labels, **kwargs) -> float:
    """Top-1 accuracy (%) of :func:`knn_predict`."""
    scores = knn_predict(train_feats, train_labels, test_feats, **kwargs)
    return topk_accuracy(scores, test_labels, ks=(1,))["top1"]


@dataclass(frozen=True)
class ProbeProtocol:
    """A linear-probe recipe on cached (frozen, un-augmented) features."""

    name: str
    source: str
    optimizer: str            # 'sgd' | 'adam'
    lr: float
    epochs: int
    batch_size: int
    weight_decay: float
    momentum: float = 0.9
    nesterov: bool = False
    milestones: tuple[int, ...] = ()   # step decay by `gamma` at these epochs
    gamma: float = 0.1
    final_lr: float | None = None      # exponential decay to this value over `epochs`
    augmented: bool = False            # train on augmented images through the frozen backbone


PROBE_PROTOCOLS = {
    p.name: p for p in [
        # He, Du, Ma (NeurIPS 2024), App. A.6: SGD with Nesterov momentum, 100 epochs, wd 5e-4,
        # lr 0.1 divided by 10 at epochs 60 and 100 (100 is the end), batch 256.
        ProbeProtocol("or", "OR paper App. A.6", "sgd", lr=0.1, epochs=100, batch_size=256,
                      weight_decay=5e-4, nesterov=True, milestones=(60,)),
        # INTL / W-MSE CIFAR evaluation (official code, eval/): Adam, lr 1e-2 decayed
        # exponentially to 1e-6 over 500 epochs, weight decay 5e-6, mini-batches of 1000.
        ProbeProtocol("intl_cifar", "INTL / W-MSE code, eval/", "adam", lr=1e-2, epochs=500,
                      batch_size=1000, weight_decay=5e-6, final_lr=1e-6),
        # The standard ImageNet protocol as INTL's evaluate.py runs it for ImageNet-100 (after
        # MoCo's main_lincls): frozen backbone in eval mode, random resized crop 224 + flip on
        # the training images every epoch, SGD momentum 0.9, lr 0.2 (batch 256), 100 epochs,
        # divided by 10 at epochs 60 and 80, no weight decay, head initialized N(0, 0.01).
        ProbeProtocol("imagenet", "INTL evaluate.py (MoCo main_lincls style)", "sgd", lr=0.2,
                      epochs=100, batch_size=256, weight_decay=0.0, milestones=(60, 80),
                      augmented=True),
    ]
}


def lr_at(protocol: ProbeProtocol, epoch: float) -> float:
    """The protocol's learning rate at (possibly fractional) ``epoch``."""
    if protocol.final_lr is not None:
        return protocol.lr * (protocol.final_lr / protocol.lr) ** (epoch / protocol.epochs)
    return protocol.lr * protocol.gamma ** sum(epoch >= m for m in protocol.milestones)


def linear_probe(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                 test_labels: torch.Tensor, protocol: ProbeProtocol | str = "or",
                 epochs: int | None = None, seed: int = 0, progress=None) -> dict:
    """Train a linear classifier on frozen features with ``protocol``; return test top-1/top-5 (%)
    and the final training loss. ``epochs`` overrides the protocol's length (for smoke runs; the
    schedule scales with it)."""
    if isinstance(protocol, str):
        protocol = PROBE_PROTOCOLS[protocol]
    if protocol.augmented:
        raise ValueError(f"protocol {protocol.name!r} trains on augmented images through the "
                         "backbone: use ortho_suite.evaluate.augmented_probe.augmented_probe")
    total = epochs or protocol.epochs
    scale = total / protocol.epochs
    generator = torch.Generator().manual_seed(seed)
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = torch.nn.Linear(train_feats.shape[1], num_classes, dtype=train_feats.dtype)
    head = head.to(train_feats.device)
    if protocol.optimizer == "sgd":
        opt = torch.optim.SGD(head.parameters(), lr=protocol.lr, momentum=protocol.momentum,
                              nesterov=protocol.nesterov, weight_decay=protocol.weight_decay)
    else:
        opt = torch.optim.Adam(head.parameters(), lr=protocol.lr, weight_decay=protocol.weight_decay)
    n = len(train_feats)
    loss = torch.tensor(float("nan"))
    for epoch in range(total):
        for group in opt.param_groups:
            group["lr"] = lr_at(protocol, epoch / scale)
        order = torch.randperm(n, generator=generator).to(train_feats.device)
        for start in range(0, n, protocol.batch_size):
            idx = order[start:start + protocol.batch_size]
            loss = F.cross_entropy(head(train_feats[idx]), train_labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if progress is not None:
            progress(epoch + 1, total)
    with torch.no_grad():
        scores = head(test_feats)
    result = topk_accuracy(scores, test_labels)
    result.update(protocol=protocol.name, epochs=total, final_train_loss=loss.item())
    if not math.isfinite(result["final_train_loss"]):
        result["status"] = "diverged"
    return result
