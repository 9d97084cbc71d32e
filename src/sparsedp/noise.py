"""Beyond the paper: the gradient noise scale at initialisation (McCandlish et al. 2018).

The simple noise scale B_simple = tr(Σ) / |G|² (G: gradient of the mean training loss, Σ: the
covariance of per-example gradients) predicts the critical batch size. A batch of b examples
drawn independently has E|G_b|² = |G|² + tr(Σ)/b, so squared gradient norms at two batch sizes
b < B give unbiased estimates (App. A of McCandlish et al.):

    |G|²  ≈ (B |G_B|² − b |G_b|²) / (B − b)
    tr(Σ) ≈ (|G_b|² − |G_B|²) / (1/b − 1/B)

Per network, both are averaged over many draws before their ratio is taken (a ratio of means);
B_simple is then the mean over the networks (SNIP mask + initialisation of several trials).
The gradient is that of the mean cross-entropy w.r.t. the kept parameters, at initialisation;
batches are drawn with replacement from the training split, so the identity above holds
exactly for the training set's G and Σ.
"""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from .models import Network
from .search import derived_seed

log = logging.getLogger(__name__)


def unbiased_estimates(sq_small, sq_big, b_small: int, b_big: int):
    """|G|² and tr(Σ) from squared gradient norms at batch sizes b_small < b_big (per draw)."""
    sq_small, sq_big = np.asarray(sq_small, float), np.asarray(sq_big, float)
    g2 = (b_big * sq_big - b_small * sq_small) / (b_big - b_small)
    trace = (sq_small - sq_big) / (1 / b_small - 1 / b_big)
    return g2, trace


def ratio_of_means(trace, g2) -> tuple[float, float]:
    """mean tr(Σ) / mean |G|² and its delta-method standard error, the rows being independent units."""
    trace, g2 = np.asarray(trace, float), np.asarray(g2, float)
    ratio = trace.mean() / g2.mean()
    if len(trace) < 2:
        return ratio, np.nan
    return ratio, float(np.std(trace - ratio * g2, ddof=1) / np.sqrt(len(trace)) / abs(g2.mean()))


def sample_sq_norms(sq_norm, n_examples: int, b_small: int, b_big: int, draws: int, generator):
    """``sq_norm(indices)`` on independent batches of b_small and b_big examples drawn with
    replacement, ``draws`` times: two arrays of squared gradient norms."""
    small, big = [], []
    for _ in range(draws):
        small.append(sq_norm(torch.randint(n_examples, (b_small,), generator=generator)))
        big.append(sq_norm(torch.randint(n_examples, (b_big,), generator=generator)))
    return np.array(small), np.array(big)


def masked_sq_norm(network: Network, params: dict, buffers: dict, masks: dict, x, y) -> float:
    """|∇L|² of the mean cross-entropy of the masked network (trial axis of size 1) in training
    mode (its running statistics left as given), counting only the kept parameters: masked
    weights are zero and their gradients are excluded."""
    leaves = {k: (v * masks[k]).requires_grad_() for k, v in params.items()}
    own = {k: v.clone() for k, v in buffers.items()}
    loss = F.cross_entropy(network.logits(leaves, own, x, shared=True, loop=True)[0], y)
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return sum(float((g * masks[k]).double().square().sum()) for k, g in zip(leaves, grads))


def estimate(sq_norm, n_examples: int, b_small: int, b_big: int, draws: int, seeds) -> dict:
    """The noise scale of several networks: ``sq_norm(seed, indices)``. Per network, |G|² and
    tr(Σ) are averaged over its draws and their ratio taken; reported are the means over the
    networks with standard errors over the networks (over the draws when there is one network,
    by the delta method for the ratio)."""
    g2, trace = [], []  # [networks, draws]
    for seed in seeds:
        gen = torch.Generator().manual_seed(derived_seed(seed, "noise-scale"))
        small, big = sample_sq_norms(partial(sq_norm, seed), n_examples, b_small, b_big, draws, gen)
        for acc, est in zip((g2, trace), unbiased_estimates(small, big, b_small, b_big)):
            acc.append(est)
    g2, trace = np.array(g2), np.array(trace)
    per_network = np.array([ratio_of_means(t, g)[0] for g, t in zip(g2, trace)])

    def mean_se(per_draw):
        units = per_draw.mean(1) if len(seeds) > 1 else per_draw[0]
        return float(units.mean()), float(np.std(units, ddof=1) / np.sqrt(len(units)))

    if len(seeds) > 1:
        b_simple, b_simple_se = per_network.mean(), np.std(per_network, ddof=1) / np.sqrt(len(seeds))
    else:
        b_simple, b_simple_se = ratio_of_means(trace[0], g2[0])
    (g2_mean, g2_se), (trace_mean, trace_se) = mean_se(g2), mean_se(trace)
    return {
        "batch_small": b_small,
        "batch_big": b_big,
        "draws": draws,
        "seeds": list(seeds),
        "g2": g2_mean,
        "g2_se": g2_se,
        "trace_sigma": trace_mean,
        "trace_sigma_se": trace_se,
        "b_simple": float(b_simple),
        "b_simple_se": float(b_simple_se),
        "b_simple_per_seed": per_network.tolist(),
    }
