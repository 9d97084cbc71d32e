"""The gradient noise scale: the estimator against known answers, and masked weights excluded."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sparsedp.models import SimpleCNN
from sparsedp.noise import estimate, masked_sq_norm, unbiased_estimates
from sparsedp.reduce import noise_table

from conftest import network_of


def test_unbiased_estimates_invert_the_expected_squared_norms():
    g2, trace = 3.0, 200.0  # E|G_b|² = |G|² + tr(Σ)/b
    est_g2, est_trace = unbiased_estimates([g2 + trace / 16], [g2 + trace / 1024], 16, 1024)
    assert est_g2[0] == pytest.approx(g2) and est_trace[0] == pytest.approx(trace)


def linear_regression(n=100_000, d=16, noise=1.0, seed=0):
    """Per-example loss (x·w − y)²/2 at w = w* + Δ, |Δ| = 1: gradient g = x (x·Δ − ε). For
    x ~ N(0, I): G = Δ and Σ = (|Δ|² + σ²) I + ΔΔᵀ, so tr(Σ)/|G|² = d (1 + σ²) + 1."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    delta = torch.randn(d, generator=gen, dtype=torch.float64)
    delta /= delta.norm()
    per_example = x * (x @ delta - noise * torch.randn(n, generator=gen, dtype=torch.float64)).unsqueeze(1)
    g = per_example.mean(0)
    exact = float((per_example - g).square().sum(1).mean() / g.square().sum())  # this dataset's G and Σ
    return per_example, exact, d * (1 + noise**2) + 1


def squared_norm_of(per_example):
    def sq_norm(seed, idx):
        return float(per_example[idx].mean(0).square().sum())

    return sq_norm


def test_estimator_recovers_the_noise_scale_of_linear_regression():
    per_example, exact, analytic = linear_regression()
    assert exact == pytest.approx(analytic, rel=0.05)  # the finite dataset is close to its population
    result = estimate(squared_norm_of(per_example), len(per_example), 8, 128, 2000, [0])
    assert result["b_simple"] == pytest.approx(exact, rel=0.1)
    assert result["g2"] == pytest.approx(float(per_example.mean(0).square().sum()), rel=0.1)
    assert result["trace_sigma"] == pytest.approx(exact * result["g2"], rel=0.1)
    assert abs(result["b_simple"] - exact) < 4 * result["b_simple_se"]
    assert 0 < result["b_simple_se"] < 0.1 * exact


def test_several_networks_average_their_own_noise_scales():
    # Network 0 without label noise (B_simple = d + 1 = 17), network 1 with (d (1 + 1) + 1 = 33).
    problems = {seed: linear_regression(noise=float(seed), seed=seed) for seed in (0, 1)}
    norms = {seed: squared_norm_of(per_example) for seed, (per_example, _, _) in problems.items()}
    result = estimate(lambda seed, idx: norms[seed](seed, idx), 100_000, 8, 128, 1000, [0, 1])
    exact = [problems[seed][1] for seed in (0, 1)]
    assert result["b_simple_per_seed"] == pytest.approx(exact, rel=0.1)
    assert result["b_simple"] == pytest.approx(sum(exact) / 2, rel=0.1)
    assert result["b_simple_se"] == pytest.approx(abs(exact[1] - exact[0]) / 2, rel=0.2)  # std over 2 / sqrt(2)


def test_identical_examples_give_zero_noise_scale():
    # Every example has the same gradient: Σ = 0, so B_simple = 0 exactly.
    result = estimate(lambda seed, idx: 4.0, 1000, 16, 256, 10, [0, 1])
    assert result["g2"] == pytest.approx(4.0) and result["trace_sigma"] == pytest.approx(0.0, abs=1e-9)
    assert result["b_simple"] == pytest.approx(0.0, abs=1e-9)


def test_masked_weights_do_not_contribute():
    torch.manual_seed(0)
    network, init = network_of("simple_cnn")
    params, _ = init(0)
    masks = {
        k: (torch.rand_like(v) < 0.1).float() if k.endswith("weight") else torch.ones_like(v) for k, v in params.items()
    }
    x, y = torch.randn(8, 1, 28, 28), torch.randint(10, (8,))
    kept = masked_sq_norm(network, params, {}, masks, x, y)
    # Changing the values of pruned weights changes nothing: they are zero in the network.
    moved = {k: v + 10 * (1 - masks[k]) * torch.randn_like(v) for k, v in params.items()}
    assert masked_sq_norm(network, moved, {}, masks, x, y) == kept
    # The same as an nn.Module with pruned weights zeroed, counting the kept entries' gradients only.
    module = SimpleCNN((1, 28, 28), 10)
    module.load_state_dict({k: (v * masks[k])[0] for k, v in params.items()})
    F.cross_entropy(module(x), y).backward()
    grads = dict(module.named_parameters())
    full = sum(float(p.grad.square().sum()) for p in grads.values())
    assert kept == pytest.approx(sum(float((grads[k].grad * masks[k][0]).square().sum()) for k in grads), rel=1e-4)
    assert kept < 0.5 * full  # pruned positions carry gradient, which is excluded


def test_noise_table_joins_each_workload_to_its_network():
    identity = dict(dataset="mnist", model="simple_cnn", batch_small=16, batch_big=256, draws=2)
    record = dict(seeds=[0], g2=1.0, g2_se=0.1, trace_sigma=10.0, trace_sigma_se=1.0, b_simple_se=1.0,
                  b_simple_per_seed=[10.0], run={"seconds": 1.0, "device": "cpu"})  # fmt: skip
    records = [
        {**record, "identity": {**identity, "pruning_method": m, "sparsity": s}, "b_simple": b}
        for m, s, b in [("none", 0.0, 10.0), ("snip", 0.9, 20.0), ("random", 0.9, 30.0)]
    ]
    spec = dict(dataset="mnist", model="simple_cnn", sparsities=[0.0, 0.9])
    workloads = {"a": {**spec, "optimizer": "sgd", "pruning": ["snip"]}}
    workloads["b"] = {**spec, "optimizer": "momentum", "pruning": ["snip", "random"]}
    table = noise_table(records, workloads)
    assert list(table["workload"]) == ["a", "a", "b", "b", "b"]
    assert list(table["pruning"]) == ["none", "snip", "none", "snip", "random"]
    assert list(table["b_simple"]) == [10.0, 20.0, 10.0, 20.0, 30.0]
    assert "run" not in table and not np.isnan(table["g2"]).any()
