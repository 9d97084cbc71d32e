"""SNIP (Lee et al., ICLR 2019): prune at initialisation by connection sensitivity |g * w|."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .models import forward, prunable


def saliency(model: str, params, images, labels, batch_size: int) -> dict[str, torch.Tensor]:
    """|dL/dc| at c = 1 for w_eff = c * w, i.e. |g * w|, with g accumulated over the examples
    (the loss is the mean over all of them, summed batch by batch)."""
    leaves = {k: v.detach().clone().requires_grad_() for k, v in params.items()}
    grads = {k: torch.zeros_like(v) for k, v in params.items()}
    n = len(images)
    for start in range(0, n, batch_size):
        x, y = images[start : start + batch_size], labels[start : start + batch_size]
        logits = forward(model, leaves, x)[0]
        loss = F.cross_entropy(logits, y, reduction="sum") / n
        for k, g in zip(leaves, torch.autograd.grad(loss, list(leaves.values()))):
            grads[k] += g
    return {k: (grads[k] * params[k]).abs() for k in params}


def snip_masks(scores: dict[str, torch.Tensor], sparsity: float, scope: str) -> dict[str, torch.Tensor]:
    """Keep exactly round(N * (1 - sparsity)) of the N prunable parameters, by global top-k of
    normalised saliency; parameters outside ``scope`` are kept whole."""
    names = [k for k in scores if prunable(k, scope)]
    flat = torch.cat([scores[k].flatten() for k in names]).double()
    flat = flat / flat.sum() if flat.sum() > 0 else flat
    keep = round(flat.numel() * (1.0 - sparsity))
    kept = torch.zeros(flat.numel(), dtype=torch.bool)
    kept[torch.topk(flat, keep, sorted=False).indices] = True
    masks, offset = {}, 0
    for k in scores:
        if k in names:
            masks[k] = kept[offset : offset + scores[k].numel()].view_as(scores[k])
            offset += scores[k].numel()
        else:
            masks[k] = torch.ones_like(scores[k], dtype=torch.bool)
    return masks
