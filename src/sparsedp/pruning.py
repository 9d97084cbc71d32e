"""Pruning at initialisation: SNIP, random, magnitude, GraSP and SynFlow, for any network (models.Network).

Every method scores the N prunable parameters (higher = more worth keeping) and ``prune`` keeps
the top round(N * (1 - sparsity)) of them globally, so every method hits the sparsity exactly.
Adding a method is one score function here and one entry in registry.PRUNING. Parameters outside the scope
are kept whole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .models import Network
from .registry import DENSE, PRUNING
from .search import derived_seed

GRASP_TEMPERATURE = 200.0  # Wang et al.'s code divides the logits by T = 200 in both gradient passes
SYNFLOW_ROUNDS = 100  # Tanaka et al.'s SynFlow experiments: 100 rounds, exponential schedule


def scoring_examples(pruning: dict, seed: int, train_x, train_y):
    """The examples a data-driven method scores on (``pruning``: its settings): one batch of
    ``batch_size`` drawn from the trial's own stream ("batch", the SNIP paper), or the whole
    training split ("train_set", the reference code). (None, None) for the data-free methods."""
    if pruning.get("examples") == "batch":
        gen = torch.Generator().manual_seed(derived_seed(seed, "snip-batch"))
        idx = torch.randperm(len(train_x), generator=gen)[: pruning["batch_size"]].to(train_x.device)
        return train_x[idx], train_y[idx]
    if pruning.get("examples") == "train_set":
        return train_x, train_y
    return None, None


def _batch_losses(network, leaves, buffers, images, labels, batch_size, temperature=1.0):
    """The cross-entropy of logits / temperature, batch by batch, each batch's sum over the mean over all the
    examples: their total is the mean loss, and any number of examples fits in memory. The network is in
    training mode, as when training starts (BatchNorm: batch statistics), its running statistics left as given."""
    n = len(images)
    for start in range(0, n, batch_size):
        x, y = images[start : start + batch_size], labels[start : start + batch_size]
        x = x.to(next(iter(leaves.values())).dtype)
        own = {k: v.clone() for k, v in buffers.items()}
        logits = network.logits(leaves, own, x, shared=True, loop=True)[0] / temperature
        yield F.cross_entropy(logits, y, reduction="sum") / n


def _leaves(params):
    return {k: v.detach().clone().requires_grad_() for k, v in params.items()}


def _loss_gradient(network, leaves, buffers, names, images, labels, batch_size, temperature=1.0):
    grads = {k: torch.zeros_like(leaves[k]) for k in names}
    for loss in _batch_losses(network, leaves, buffers, images, labels, batch_size, temperature):
        for k, g in zip(names, torch.autograd.grad(loss, [leaves[k] for k in names])):
            grads[k] += g
    return grads


def snip(network, params, names, *, buffers, images, labels, batch_size, **_):
    """SNIP (Lee et al. 2019): connection sensitivity |dL/dc| at c = 1 for w_eff = c * w, i.e. |g * w|."""
    grads = _loss_gradient(network, _leaves(params), buffers, names, images, labels, batch_size)
    return {k: (grads[k] * params[k]).abs() for k in names}


def random(network, params, names, *, seed, **_):
    """A uniformly random subset: the scores are a random permutation of 0..N-1 (no ties), drawn on the CPU
    from the trial's own seed stream, so the mask is the same on every device and independent of the
    initialisation drawn from the same seed."""
    gen = torch.Generator().manual_seed(derived_seed(seed, "random-mask"))
    ranks = torch.randperm(sum(params[k].numel() for k in names), generator=gen)
    sizes = [params[k].numel() for k in names]
    return {k: r.view_as(params[k]).to(params[k].device) for k, r in zip(names, ranks.split(sizes))}


def magnitude(network, params, names, **_):
    """|w| at initialisation, ranked globally (layers with a smaller init scale lose more)."""
    return {k: params[k].abs() for k in names}


def hessian_gradient(network, params, buffers, names, images, labels, batch_size, temperature=GRASP_TEMPERATURE):
    """(g, Hg) over ``names``: g the gradient of the tempered mean loss, H its Hessian, Hg by double backprop:
    the gradient of g_stopped . grad L, one batch at a time (L is a sum over batches, so is Hg)."""
    leaves = _leaves(params)
    wrt = [leaves[k] for k in names]
    g = _loss_gradient(network, leaves, buffers, names, images, labels, batch_size, temperature)
    hg = {k: torch.zeros_like(leaves[k]) for k in names}
    for loss in _batch_losses(network, leaves, buffers, images, labels, batch_size, temperature):
        z = sum((g[k] * d).sum() for k, d in zip(names, torch.autograd.grad(loss, wrt, create_graph=True)))
        for k, d in zip(names, torch.autograd.grad(z, wrt)):
            hg[k] += d
    return g, hg


def grasp(network, params, names, *, buffers, images, labels, batch_size, **_):
    """GraSP (Wang et al. 2020): score S = -theta * Hg; the reference code removes the highest S (the weights
    whose removal preserves gradient flow best), so keeping the highest theta * Hg = -S is the same.
    g and H cover the prunable parameters only (in the reference code: conv/linear weights)."""
    _, hg = hessian_gradient(network, params, buffers, names, images, labels, batch_size)
    return {k: params[k] * hg[k] for k in names}


def synflow_scores(network, params, buffers, names, input_shape, masks=None):
    """|theta * dR/dtheta| with R = 1^T f(1) for the linearised network: |theta| (masked) for every parameter
    (the reference code takes |.| of all of them, biases too, and of the buffers), an input of ones, the
    network in evaluation mode (as there), float64 (R multiplies per-layer sums, which leaves float32's range
    in deep networks)."""
    lin = {k: v.detach().double().abs() for k, v in params.items()}
    for k, m in (masks or {}).items():
        lin[k] = lin[k] * m
    lin = {k: v.requires_grad_() for k, v in lin.items()}
    stats = {k: v.double().abs() if v.is_floating_point() else v for k, v in buffers.items()}
    ones = torch.ones(1, *input_shape, dtype=torch.float64, device=lin[names[0]].device)
    logits = network.logits(lin, stats, ones, shared=True, loop=True, train=False)
    grads = torch.autograd.grad(logits.sum(), [lin[k] for k in names])
    return {k: (g * lin[k]).detach().abs() for k, g in zip(names, grads)}


def synflow(network, params, names, *, buffers, input_shape, keep, **_):
    """SynFlow (Tanaka et al. 2020): data-free and iterative. Round r keeps round(N * d^(r/R)) of the N
    parameters (d = keep / N: their exponential schedule), rescoring the masked network each round; the
    last round's scores, with everything pruned before at -inf, give exactly ``keep`` through ``prune``."""
    n = sum(params[k].numel() for k in names)
    masks = None
    for r in range(1, SYNFLOW_ROUNDS + 1):
        scores = synflow_scores(network, params, buffers, names, input_shape, masks)
        if masks is not None:
            # A pruned weight scores 0, as do live ones whose flow vanished: keep them apart, pruned stays pruned.
            scores = {k: s.masked_fill(~masks[k], -torch.inf) for k, s in scores.items()}
        if r == SYNFLOW_ROUNDS:
            return scores
        masks = _keep_top(scores, names, round(n * (keep / n) ** (r / SYNFLOW_ROUNDS)))


# The score function of each method of registry.PRUNING (its label and needs are there):
# (network, params, names, *, buffers, input_shape, keep, images, labels, batch_size, seed) -> {name: scores}.
SCORES = {"snip": snip, "random": random, "magnitude": magnitude, "grasp": grasp, "synflow": synflow}


def _keep_top(scores, names, keep: int) -> dict[str, torch.Tensor]:
    """The ``keep`` highest scores over all of ``names`` together. A stable sort breaks ties by position
    (parameter order, then index), so the mask is deterministic; double precision keeps distinct float32
    scores distinct."""
    flat = torch.cat([scores[k].flatten() for k in names]).double()
    kept = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    kept[torch.sort(flat, descending=True, stable=True).indices[:keep]] = True
    parts = kept.split([scores[k].numel() for k in names])
    return {k: part.view_as(scores[k]) for k, part in zip(names, parts)}


def prune(
    method: str,
    network: Network,
    params: dict[str, torch.Tensor],
    sparsity: float,
    scope: str,
    *,
    buffers: dict[str, torch.Tensor] | None = None,
    input_shape=None,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    batch_size: int = 100,
    seed: int,
) -> dict[str, torch.Tensor]:
    """Boolean masks shaped like ``params`` (leading trial axis 1) keeping exactly round(N * (1 - sparsity)) of
    the N parameters in ``scope`` ("weights" or "weights_and_biases": network.prunable), the rest whole.
    ``buffers`` are the network's initial ones (none: it has none); data-free methods ignore
    ``images``/``labels``, SynFlow feeds an input of ones of ``input_shape``; ``seed`` is the trial's (the random
    method draws from a stream derived from it). Method DENSE prunes nothing (sparsity 0 only; it reads neither
    scope nor batch size)."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity {sparsity} is outside [0, 1)")
    if method == DENSE:
        if sparsity:
            raise ValueError(f"method {DENSE!r} prunes nothing: sparsity must be 0, not {sparsity}")
        return {k: torch.ones_like(v, dtype=torch.bool) for k, v in params.items()}
    if method not in SCORES:
        raise ValueError(f"unknown pruning method {method!r}; known: {', '.join(SCORES)}")
    if PRUNING[method].needs_data and (images is None or labels is None):
        raise ValueError(f"pruning with {method} needs images and labels")
    if method == "synflow" and input_shape is None:
        raise ValueError("pruning with synflow needs the input shape")
    names = network.prunable(scope)
    n = sum(params[k].numel() for k in names)
    keep = round(n * (1.0 - sparsity))
    kept = {}
    if keep < n:  # dense networks need no scores (SynFlow's would cost 100 rounds)
        scores = SCORES[method](
            network,
            params,
            names,
            buffers=buffers or {},
            input_shape=input_shape,
            keep=keep,
            images=images,
            labels=labels,
            batch_size=batch_size,
            seed=seed,
        )
        kept = _keep_top(scores, names, keep)
    return {k: kept[k] if k in kept else torch.ones_like(v, dtype=torch.bool) for k, v in params.items()}


def collapsed_layers(masks: dict[str, torch.Tensor]) -> list[str]:
    """The weight tensors with no kept entry: no signal passes that layer (layer collapse, Tanaka et al.).
    A bias pruned whole is not collapse (SNIP over weights and biases prunes zero-initialised biases first)."""
    return [k for k, m in masks.items() if not k.endswith("bias") and not bool(m.any())]
