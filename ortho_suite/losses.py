"""SSL objectives as pure functions on 2-D embedding tensors (no mmengine needed).

Each computes what the method's official code computes; docstrings name the paper and the code.
In a distributed run (torch.distributed initialised, more than one process) the functions gather
embeddings across processes with gradient where the original code does (``gather=True``); in a
single process gathering is the identity.
"""
from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F


def _distributed() -> bool:
    """torch.distributed is initialised with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every process along dim 0, keeping the gradient path (the
    GatherLayer of SimCLR / DirectCLR / VICReg code); identity in a single process."""
    if not _distributed():
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)


def off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """The off-diagonal entries of a square matrix, flattened."""
    n = m.shape[0]
    return m.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1,
                 gather: bool = True) -> torch.Tensor:
    """SimCLR's NT-Xent (Chen et al., ICML 2020, Eq. 1): the 2N L2-normalized embeddings of both
    views; each anchor's positive is its other view and its negatives the other 2N - 2
    embeddings; cross-entropy over cosine / temperature, averaged over the 2N anchors."""
    z = torch.cat([gather_with_grad(F.normalize(z1, dim=1)), gather_with_grad(F.normalize(z2, dim=1))])
    n = z.shape[0] // 2
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def _info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float, gather: bool) -> torch.Tensor:
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    if gather:
        a, b = gather_with_grad(a), gather_with_grad(b)
    logits = a @ b.T / temperature
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))


def directclr_loss(r1: torch.Tensor, r2: torch.Tensor, dim: int | None = 360,
                   temperature: float = 0.1, gather: bool = True) -> torch.Tensor:
    """DirectCLR (Jing et al., ICLR 2022, Sec. 6.2; directclr/main.py): InfoNCE on the first
    ``dim`` coordinates of the representation, L2-normalized, with cross-view negatives only
    (N - 1 per anchor), symmetric: (CE(z1 -> z2) + CE(z2 -> z1)) / 2. ``dim=None`` uses the whole
    vector (the code's loss for its SimCLR rows, there applied to a projector's output)."""
    z1, z2 = (r1, r2) if dim is None else (r1[:, :dim], r2[:, :dim])
    return (_info_nce(z1, z2, temperature, gather) + _info_nce(z2, z1, temperature, gather)) / 2


def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """BYOL's regression loss (Grill et al., NeurIPS 2020, Eq. 2): 2 - 2 * mean cosine between the
    online prediction ``p`` and the target projection ``z`` (no gradient into ``z``)."""
    return 2 - 2 * F.cosine_similarity(p, z.detach(), dim=1).mean()


def vicreg_loss(z1: torch.Tensor, z2: torch.Tensor, sim_coeff: float = 25.0,
                std_coeff: float = 25.0, cov_coeff: float = 1.0, gather: bool = True) -> torch.Tensor:
    """VICReg (Bardes et al., ICLR 2022; main_vicreg.py): invariance = MSE of the local
    embeddings; on the gathered batch, variance = mean hinge relu(1 - sqrt(var + 1e-4)) per view
    (halved), covariance = squared off-diagonal covariances / D per view."""
    repr_loss = F.mse_loss(z1, z2)
    if gather:
        z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
    n, d = z1.shape
    z1, z2 = z1 - z1.mean(dim=0), z2 - z2.mean(dim=0)
    std1, std2 = torch.sqrt(z1.var(dim=0) + 1e-4), torch.sqrt(z2.var(dim=0) + 1e-4)
    std_loss = torch.mean(F.relu(1 - std1)) / 2 + torch.mean(F.relu(1 - std2)) / 2
    cov1, cov2 = z1.T @ z1 / (n - 1), z2.T @ z2 / (n - 1)
    cov_loss = off_diagonal(cov1).pow(2).sum() / d + off_diagonal(cov2).pow(2).sum() / d
    return sim_coeff * repr_loss + std_coeff * std_loss + cov_coeff * cov_loss


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float = 0.0051,
                      gather: bool = True) -> torch.Tensor:
    """Barlow Twins (Zbontar et al., ICML 2021; main.py): cross-correlation of the batch-normalized
    (affine-free BatchNorm1d, biased variance, eps 1e-5) embeddings over the global batch;
    sum of (1 - c_ii)^2 plus lambda times the sum of squared off-diagonal c_ij."""
    if gather:
        z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
    n = z1.shape[0]
    bn1 = F.batch_norm(z1, None, None, training=True, eps=1e-5)
    bn2 = F.batch_norm(z2, None, None, training=True, eps=1e-5)
    c = bn1.T @ bn2 / n
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    return on_diag + lambd * off_diagonal(c).pow(2).sum()


def normalized_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """W-MSE / INTL invariance term: 2 - 2 * mean cosine of the rows."""
    return 2 - 2 * (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(dim=1).mean()


def iternorm(x: torch.Tensor, iters: int = 4) -> torch.Tensor:
    """INTL's IterNorm whitening, default axis 0 (Weng et al., ICLR 2024; methods/whitening.py):
    centre each sample over its features, Sigma = X X^T / (d - 1) (N x N), Sigma_N = Sigma / tr,
    P_0 = I, P_{k+1} = 1.5 P_k - 0.5 P_k^3 Sigma_N (``iters`` Newton steps), output
    P_T / sqrt(tr Sigma) @ X. Gradients flow through the whitening matrix."""
    n, d = x.shape
    xc = x - x.mean(dim=1, keepdim=True)
    sigma = xc @ xc.T / (d - 1)
    trace = torch.trace(sigma)
    sigma_n = sigma / trace
    p = torch.eye(n, dtype=x.dtype, device=x.device)
    for _ in range(iters):
        p = 1.5 * p - 0.5 * torch.linalg.matrix_power(p, 3) @ sigma_n
    return p / torch.sqrt(trace) @ xc


def trace_loss(z: torch.Tensor) -> torch.Tensor:
    """INTL's trace loss on an IterNorm output (axis 0): sum over samples of (v_j - 1)^2, v_j the
    variance of sample j over its features (centred, / (d - 1))."""
    zc = z - z.mean(dim=1, keepdim=True)
    v = zc.pow(2).sum(dim=1) / (z.shape[1] - 1)
    return (v - 1).pow(2).sum()


def intl_beta(batch_size: int) -> float:
    """INTL's trace-loss weight: 0.01 * (log2(N) - 3) for N whitened samples (cal_trade_off)."""
    return 0.01 * (math.log2(batch_size) - 3)


def intl_loss(z1: torch.Tensor, z2: torch.Tensor, iters: int = 4, beta: float | None = None,
              gather: bool = True) -> torch.Tensor:
    """INTL for two views (methods/intl.py): each view IterNorm-whitened over the gathered batch;
    normalized MSE between the whitened views plus beta * (trace loss of each)."""
    if gather:
        z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
    beta = intl_beta(z1.shape[0]) if beta is None else beta
    w1, w2 = iternorm(z1, iters), iternorm(z2, iters)
    return normalized_mse(w2, w1) + beta * (trace_loss(w2) + trace_loss(w1))


def cholesky_whiten(x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """W-MSE's Whitening2d (Ermolov et al., ICML 2021): centre per feature, covariance
    (/ (N - 1)) shrunk by ``eps`` toward I, z = (x - mean) L^-T with L its Cholesky factor."""
    xc = x - x.mean(dim=0, keepdim=True)
    cov = xc.T @ xc / (x.shape[0] - 1)
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    chol = torch.linalg.cholesky((1 - eps) * cov + eps * eye)
    inv = torch.linalg.solve_triangular(chol, eye, upper=False)
    return xc @ inv.T


def wmse_loss(z1: torch.Tensor, z2: torch.Tensor, w_size: int | None = None, w_iter: int = 1,
              eps: float = 0.0, generator: torch.Generator | None = None,
              detach_second: bool = False) -> torch.Tensor:
    """W-MSE with two views (Ermolov et al., ICML 2021; htdt/self-supervised methods/w_mse.py):
    ``w_iter`` times, the batch is split at random into slices of ``w_size`` samples (whole batch
    when None), each slice of each view is whitened on its own, and the normalized MSE of the
    whitened views is averaged over iterations.

    ``detach_second``: no gradient through the second view's whitened output, as solo-learn's
    ``wmse_loss_func`` (solo/losses/wmse.py, ``cosine_similarity(z1, z2.detach())``); same value,
    the official code differentiates both views."""
    n = z1.shape[0]
    w_size = w_size or n
    if n % w_size:
        raise ValueError(f"batch size {n} must be a multiple of w_size {w_size}")
    loss = z1.new_zeros(())
    for _ in range(w_iter):
        w1, w2 = torch.empty_like(z1), torch.empty_like(z2)
        perm = torch.randperm(n, generator=generator).to(z1.device).view(-1, w_size)
        for idx in perm:
            w1[idx], w2[idx] = cholesky_whiten(z1[idx], eps), cholesky_whiten(z2[idx], eps)
        loss = loss + normalized_mse(w1, w2.detach() if detach_second else w2)
    return loss / w_iter


def dino_loss(student_logits_views: list[torch.Tensor], teacher_logits_views: list[torch.Tensor],
              center: torch.Tensor, student_temp: float = 0.1,
              teacher_temp: float = 0.07) -> torch.Tensor:
    """DINO's cross-entropy between teacher and student (Caron et al., ICCV 2021, Sec. 3.1 and
    Algorithm 1; solo-learn solo/losses/dino.py). The teacher's centred, sharpened distribution
    softmax((t - center) / teacher_temp) (no gradient) of each teacher view is the target of
    log_softmax(s / student_temp) of every student view with another index; each pair's
    cross-entropy is averaged over the batch, then the pairs are averaged. With two views:
    (CE(t1, s2) + CE(t2, s1)) / 2. ``center``: [1, K]."""
    student_log_probs = [F.log_softmax(s / student_temp, dim=1) for s in student_logits_views]
    targets = [F.softmax((t - center) / teacher_temp, dim=1).detach() for t in teacher_logits_views]
    terms = [-(q * student_log_probs[v]).sum(dim=1).mean()
             for iq, q in enumerate(targets) for v in range(len(student_log_probs)) if v != iq]
    return sum(terms) / len(terms)


@torch.no_grad()
def dino_center(center: torch.Tensor, teacher_logits: torch.Tensor,
                momentum: float = 0.9) -> torch.Tensor:
    """DINO's next center (Caron et al., ICCV 2021, Sec. 3.1; solo-learn
    DINOLoss.update_center): the EMA ``momentum * center + (1 - momentum) * mean`` of the teacher
    logits of every view (``teacher_logits``: [views x N, K]), the mean over every process's
    samples."""
    batch_center = teacher_logits.sum(dim=0, keepdim=True)
    count = teacher_logits.shape[0]
    if _distributed():
        dist.all_reduce(batch_center)
        count *= dist.get_world_size()
    return center * momentum + batch_center / count * (1 - momentum)


@torch.no_grad()
def nearest_neighbours(query: torch.Tensor,
                       support: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each query's nearest neighbour in the support set by inner product (NNCLR, Dwibedi et al.,
    ICCV 2021, Sec. 3; solo-learn NNBYOL.find_nn): indices argmax_j <q, s_j> and the rows
    ``support[idx]``. With L2-normalized rows (as NNCLR / NNBYOL use) this is cosine similarity."""
    idx = (query @ support.T).argmax(dim=1)
    return idx, support[idx]


def intl_ema_loss(online_views: list[torch.Tensor], target: torch.Tensor, iters: int = 4,
                  beta: float | None = None, gather: bool = True) -> torch.Tensor:
    """INTL with an EMA target (winci-ai/INTL methods/intl_m.py, INTL_M): the target network's
    projection of the first crop (no gradient), IterNorm-whitened, is the target of every other
    crop's online projection, IterNorm-whitened: mean over online crops of normalized
    MSE(online, target) plus beta times the online output's trace loss (the target's has none).
    Each crop is whitened over the gathered batch; beta = 0.01 (log2(N) - 3) when None."""
    if gather:
        online_views, target = [gather_with_grad(z) for z in online_views], gather_with_grad(target)
    beta = intl_beta(target.shape[0]) if beta is None else beta
    whitened_target = iternorm(target.detach(), iters)
    terms = []
    for z in online_views:
        whitened = iternorm(z, iters)
        terms.append(normalized_mse(whitened, whitened_target) + beta * trace_loss(whitened))
    return sum(terms) / len(terms)


@torch.no_grad()
def sinkhorn_knopp(scores: torch.Tensor, iters: int = 3, epsilon: float = 0.05) -> torch.Tensor:
    """SwAV's codes (Caron et al., NeurIPS 2020, Sec. 3.1, Eq. 3; solo-learn
    solo/utils/sinkhorn_knopp.py): Q = exp(scores / epsilon), transposed to K prototypes x B
    samples, scaled to total 1, then ``iters`` times each prototype's row to 1/K and each sample's
    column to 1/B; returned as B x K, each row (a sample's soft assignment) summing to 1.

    ``scores``: [B, K] prototype scores of this process's samples. In a distributed run the total
    and the per-prototype sums cover every process's samples, and B counts them all. No gradient
    (the codes are targets)."""
    distributed = _distributed()
    q = torch.exp(scores / epsilon).T
    n_prototypes = q.shape[0]
    n_samples = q.shape[1] * (dist.get_world_size() if distributed else 1)
    total = q.sum()
    if distributed:
        dist.all_reduce(total)
    q = q / total
    for _ in range(iters):
        per_prototype = q.sum(dim=1, keepdim=True)
        if distributed:
            dist.all_reduce(per_prototype)
        q = q / per_prototype / n_prototypes
        q = q / q.sum(dim=0, keepdim=True) / n_samples
    return (q * n_samples).T


def swav_loss(scores: list[torch.Tensor], codes: list[torch.Tensor],
              temperature: float = 0.1) -> torch.Tensor:
    """SwAV's swapped prediction (Caron et al., NeurIPS 2020, Eq. 1-2; solo-learn
    solo/losses/swav.py): the code of view a (``codes[a]``, [B, K], no gradient) is predicted from
    every other view v by softmax(scores[v] / temperature); the cross-entropy is averaged over the
    batch and over the (a, v) pairs. With two views: (CE(q1, p2) + CE(q2, p1)) / 2."""
    terms = [-(code * F.log_softmax(scores[v] / temperature, dim=1)).sum(dim=1).mean()
             for a, code in enumerate(codes) for v in range(len(scores)) if v != a]
    return sum(terms) / len(terms)


def moco_infonce_loss(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor,
                      temperature: float = 0.1) -> torch.Tensor:
    """MoCo's contrastive loss (He et al., CVPR 2020, Eq. 1; MoCo v2: Chen et al. 2020): each
    L2-normalized query q_i is scored against its own key k_i (the positive) and every row n_j of
    ``queue`` (negatives, unit rows of past keys, [K, D]):

        L = mean_i  -log( exp(q_i.k_i / t) / (exp(q_i.k_i / t) + sum_j exp(q_i.n_j / t)) ).

    Keys and queue get no gradient (they come from the momentum encoder)."""
    q = F.normalize(query, dim=1)
    k = F.normalize(key.detach(), dim=1)
    logits = torch.cat([(q * k).sum(dim=1, keepdim=True), q @ queue.detach().T], dim=1)
    targets = torch.zeros(len(q), dtype=torch.long, device=q.device)
    return F.cross_entropy(logits / temperature, targets)


def nnclr_loss(p1: torch.Tensor, p2: torch.Tensor, nn1: torch.Tensor, nn2: torch.Tensor,
               temperature: float = 0.5, gather: bool = False) -> torch.Tensor:
    """NNCLR's objective (Dwibedi et al., ICCV 2021, Eq. 2-3) in the form LightlySSL's CIFAR-10
    benchmark trains it: the nearest neighbour ``nn_a`` (from the support set, no gradient) of
    view a's projection is the positive of view b's prediction ``p_b``, and the loss is the
    NT-Xent of the pair (nn_a, p_b) over all 2N L2-normalized rows (each row's positive is its
    partner, its negatives the other 2N - 2 rows), averaged over the two pairings:

        L = (NTXent(nn1, p2) + NTXent(nn2, p1)) / 2.

    Deviation from the paper: the paper's Eq. 2 has only the N rows nn_i as anchors and the
    predictions as candidates (cross-view negatives only), temperature 0.1; LightlySSL uses its
    NTXentLoss (2N anchors, same-side negatives too) at its default temperature 0.5.
    ``gather``: both sides over every process (LightlySSL's benchmark does not gather)."""
    def nt_xent(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
        if gather:
            a, b = gather_with_grad(a), gather_with_grad(b)
        z = torch.cat([a, b])
        n = len(a)
        logits = (z @ z.T / temperature).masked_fill(
            torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
        targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
        return F.cross_entropy(logits, targets)

    return (nt_xent(nn1.detach(), p2) + nt_xent(nn2.detach(), p1)) / 2


@torch.no_grad()
def dclw_weights(z1: torch.Tensor, z2: torch.Tensor, sigma: float = 0.5) -> torch.Tensor:
    """DCLW's negative von Mises-Fisher weight of each positive pair (Yeh et al., ECCV 2022,
    Sec. 3, weighting w): w_i = 2 - exp(<u_i, v_i> / sigma) / mean_j exp(<u_j, v_j> / sigma)
    for the L2-normalized rows u = z1, v = z2 (mean over the batch, so the weights average 1).
    No gradient."""
    s = (F.normalize(z1, dim=1) * F.normalize(z2, dim=1)).sum(dim=1) / sigma
    return 2 - len(s) * torch.softmax(s, dim=0)


def _decoupled_direction(a: torch.Tensor, b: torch.Tensor, temperature: float,
                         weights: torch.Tensor | None) -> torch.Tensor:
    n = len(a)
    same = torch.eye(n, dtype=torch.bool, device=a.device)
    ab, aa = a @ b.T / temperature, a @ a.T / temperature
    positive = ab.diagonal()
    if weights is not None:
        positive = positive * weights
    negatives = torch.cat([aa.masked_fill(same, float("-inf")), ab.masked_fill(same, float("-inf"))],
                          dim=1)
    return (torch.logsumexp(negatives, dim=1) - positive).mean()


def dcl_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1,
             sigma: float | None = None, gather: bool = False) -> torch.Tensor:
    """Decoupled contrastive learning (Yeh et al., ECCV 2022, Eq. 6): InfoNCE with the positive
    pair taken out of the denominator. For L2-normalized rows u = z1, v = z2 of N samples,

        L(u, v) = mean_i [ -w_i <u_i, v_i> / t + log sum_{j != i} (exp(<u_i, u_j> / t)
                                                                 + exp(<u_i, v_j> / t)) ],

    symmetric: (L(u, v) + L(v, u)) / 2. DCL: w_i = 1; DCLW (``sigma`` given, the paper's 0.5):
    w_i = :func:`dclw_weights` (the same weights in both directions), no gradient through them.
    Temperature 0.1 as LightlySSL's DCLLoss/DCLWLoss. ``gather``: both views over every process
    (LightlySSL's CIFAR-10 benchmark does not gather; its ImageNet benchmark does)."""
    u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    if gather:
        u, v = gather_with_grad(u), gather_with_grad(v)
    weights = None if sigma is None else dclw_weights(u, v, sigma)
    return (_decoupled_direction(u, v, temperature, weights)
            + _decoupled_direction(v, u, temperature, weights)) / 2


def dclw_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1, sigma: float = 0.5,
              gather: bool = False) -> torch.Tensor:
    """Weighted DCL (DCLW, Yeh et al., ECCV 2022, Eq. 6 with the von Mises-Fisher weighting,
    sigma = 0.5): :func:`dcl_loss` with ``sigma``."""
    return dcl_loss(z1, z2, temperature=temperature, sigma=sigma, gather=gather)
