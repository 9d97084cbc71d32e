import hashlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sparsedp import pruning
from sparsedp.engine import StudySettings, TrialSpec, train_study
from sparsedp.pruning import collapsed_layers, hessian_gradient, prune, snip, synflow_scores
from sparsedp.registry import PRUNING

from conftest import network_of

SCOPES = ["weights", "weights_and_biases"]
SHAPES = {"simple_cnn": (1, 28, 28), "simple_cnn_same": (1, 28, 28), "resnet8": (3, 32, 32)}
NETWORKS = {model: network_of(model, shape) for model, shape in SHAPES.items()}


def init_parameters(model, seed):
    return NETWORKS[model][1](seed)[0]


def _prune(method, model, params, sparsity, scope, **kw):
    return prune(method, NETWORKS[model][0], params, sparsity, scope, input_shape=SHAPES[model], **kw)


def _snip(mnist, sparsity, scope="weights", seed=0, model="simple_cnn"):
    params = init_parameters(model, seed)
    x, y = mnist["train_x"][:100], mnist["train_y"][:100]
    return params, _prune("snip", model, params, sparsity, scope, images=x, labels=y, batch_size=50, seed=seed)


def _cifar_like(n, seed=0):
    """Random images of CIFAR-10's shape: ResNet-8's masks need inputs of the right shape, not real data."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=gen), torch.randint(0, 10, (n,), generator=gen)


def _kept(masks, scope, model="simple_cnn"):
    names = NETWORKS[model][0].prunable(scope)
    return sum(int(masks[k].sum()) for k in names), sum(masks[k].numel() for k in names)


@pytest.mark.parametrize("method", list(PRUNING))
@pytest.mark.parametrize("scope", SCOPES)
def test_exact_sparsity_for_every_method(mnist, method, scope, monkeypatch):
    monkeypatch.setattr(pruning, "SYNFLOW_ROUNDS", 10)  # the count is exact whatever the rounds; 100 take seconds
    params = init_parameters("simple_cnn", 1)
    x, y = mnist["train_x"][:32], mnist["train_y"][:32]
    for sparsity in [0.0, 0.5, 0.9, 0.99]:
        masks = _prune(method, "simple_cnn", params, sparsity, scope, images=x, labels=y, batch_size=16, seed=1)
        kept, n = _kept(masks, scope)
        assert kept == round(n * (1 - sparsity)), (sparsity, kept, n)
        assert all(masks[k].dtype == torch.bool and masks[k].shape == params[k].shape for k in params)
        # Outside the scope nothing is pruned.
        assert all(bool(masks[k].all()) for k in masks if k not in NETWORKS["simple_cnn"][0].prunable(scope))


@pytest.mark.parametrize("method", list(PRUNING))
def test_exact_sparsity_on_resnet8(method, monkeypatch):
    monkeypatch.setattr(pruning, "SYNFLOW_ROUNDS", 10)
    params = init_parameters("resnet8", 0)
    x, y = _cifar_like(8)
    masks = _prune(method, "resnet8", params, 0.9, "weights_and_biases", images=x, labels=y, batch_size=8, seed=0)
    kept, n = _kept(masks, "weights_and_biases", "resnet8")
    assert kept == round(n * 0.1)


def test_data_methods_refuse_to_run_without_data():
    params = init_parameters("simple_cnn", 0)
    for method in ["snip", "grasp"]:
        assert PRUNING[method].needs_data
        with pytest.raises(ValueError, match="needs images"):
            _prune(method, "simple_cnn", params, 0.5, "weights", seed=0)


# SNIP masks computed by src/sparsedp/snip.py at commit e950a04 (before it moved here): sha256 of the
# mask bits (np.packbits of all masks concatenated in parameter order), first 16 hex digits.
# (model, seed, examples, batch size, sparsity, scope): (fingerprint, kept parameters)
SNIP_E950A04 = {
    ("simple_cnn", 0, 100, 50, 0.5, "weights"): ("ff8ca2f457a04806", 31226),
    ("simple_cnn", 0, 100, 50, 0.9, "weights"): ("f04851bb418cc4ce", 6330),
    ("simple_cnn", 0, 100, 50, 0.99, "weights"): ("4c26495615e2961f", 728),
    ("simple_cnn", 0, 100, 50, 0.5, "weights_and_biases"): ("1bff0c13b0af3bed", 31173),
    ("simple_cnn", 0, 100, 50, 0.9, "weights_and_biases"): ("8084be5580446dc7", 6235),
    ("simple_cnn", 0, 100, 50, 0.99, "weights_and_biases"): ("02f9fdb3a26d9bd0", 623),
    ("simple_cnn_same", 1, 32, 32, 0.9, "weights"): ("6d5f6697e8424a9b", 328480),
    ("resnet8", 2, 16, 8, 0.9, "weights"): ("d94abd3757c4df5b", 7730),
    ("resnet8", 2, 16, 8, 0.7, "weights_and_biases"): ("48bb0b994bb429da", 22515),
}


@pytest.mark.parametrize("case", list(SNIP_E950A04), ids=lambda c: "-".join(map(str, c)))
def test_snip_masks_are_bit_identical_to_the_previous_implementation(mnist, case):
    model, seed, n, batch_size, sparsity, scope = case
    x, y = _cifar_like(16) if model == "resnet8" else (mnist["train_x"], mnist["train_y"])
    params = init_parameters(model, seed)
    masks = _prune("snip", model, params, sparsity, scope, images=x[:n], labels=y[:n], batch_size=batch_size, seed=seed)
    bits = np.packbits(torch.cat([m.flatten() for m in masks.values()]).numpy())
    fingerprint = hashlib.sha256(bits.tobytes()).hexdigest()[:16]
    assert (fingerprint, sum(int(m.sum()) for m in masks.values())) == SNIP_E950A04[case]


def test_simple_cnn_has_about_62k_parameters():
    n = sum(v.numel() for v in init_parameters("simple_cnn", 0).values())
    assert n == 32 * 25 + 32 + 64 * 32 * 25 + 64 + 1024 * 10 + 10 == 62346


def test_snip_score_is_the_connection_sensitivity_dL_dc(mnist):
    """SNIP's definition: |dL/dc| at c = 1 where the network uses c * w."""
    params = init_parameters("simple_cnn", 3)
    x, y = mnist["train_x"][:64], mnist["train_y"][:64]
    network = NETWORKS["simple_cnn"][0]
    scores = snip(network, params, list(params), buffers={}, images=x, labels=y, batch_size=64)
    gates = {k: torch.ones_like(v, requires_grad=True) for k, v in params.items()}
    logits = network.logits({k: gates[k] * params[k] for k in params}, {}, x, shared=True, loop=True)[0]
    grads = torch.autograd.grad(F.cross_entropy(logits, y), list(gates.values()))
    for k, g in zip(gates, grads):
        torch.testing.assert_close(scores[k], g.abs(), rtol=1e-4, atol=1e-7)
    # Accumulated over batches of 16, the same up to float rounding.
    chunked = snip(network, params, list(params), buffers={}, images=x, labels=y, batch_size=16)
    for k in scores:
        torch.testing.assert_close(scores[k], chunked[k], rtol=1e-3, atol=1e-5 * float(scores[k].max()))
    assert float(scores["conv1.bias"].abs().sum()) == 0  # zero-initialised biases have |g*w| = 0


def test_zero_biases_are_pruned_first_when_biases_are_ranked(mnist):
    _, masks = _snip(mnist, 0.5, "weights_and_biases")
    assert not bool(masks["conv1.bias"].any()) and not bool(masks["fc.bias"].any())


def test_random_mask_is_reproducible_by_seed_and_uniform():
    params = init_parameters("simple_cnn", 0)
    a, b = (_prune("random", "simple_cnn", params, 0.9, "weights", seed=5) for _ in range(2))
    other = _prune("random", "simple_cnn", params, 0.9, "weights", seed=6)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], other[k]) for k in a)
    # It depends on the seed only, not on the initialisation.
    reinit = _prune("random", "simple_cnn", init_parameters("simple_cnn", 1), 0.9, "weights", seed=5)
    assert all(torch.equal(a[k], reinit[k]) for k in a)
    # Uniform over the prunable set: every layer keeps about 10% (4 binomial standard deviations).
    for k in ["conv1.weight", "conv2.weight", "fc.weight"]:
        n = a[k].numel()
        assert abs(int(a[k].sum()) - 0.1 * n) < 4 * (n * 0.1 * 0.9) ** 0.5, k


def test_magnitude_keeps_the_largest_initial_weights():
    params = init_parameters("simple_cnn", 2)
    masks = _prune("magnitude", "simple_cnn", params, 0.7, "weights", seed=2)
    kept = torch.cat([params[k][masks[k]].abs() for k in params if k.endswith("weight")])
    pruned = torch.cat([params[k][~masks[k]].abs() for k in params if k.endswith("weight")])
    assert float(kept.min()) >= float(pruned.max())


def test_grasp_hessian_gradient_matches_finite_differences(mnist):
    """Hg by double backprop against central differences of the gradient along g, in float64."""
    params = {k: v.double() for k, v in init_parameters("simple_cnn", 4).items()}
    x, y = mnist["train_x"][:8].double(), mnist["train_y"][:8]
    network = NETWORKS["simple_cnn"][0]
    names = network.prunable("weights")
    g, hg = hessian_gradient(network, params, {}, names, x, y, batch_size=3, temperature=200.0)

    def gradient(shift):
        p = {k: (v + shift * g[k] if k in g else v).requires_grad_() for k, v in params.items()}
        loss = F.cross_entropy(network.logits(p, {}, x, shared=True, loop=True)[0] / 200.0, y)
        return dict(zip(names, torch.autograd.grad(loss, [p[k] for k in names])))

    norm = torch.cat([v.flatten() for v in g.values()]).norm()
    eps = 1e-4 / float(norm)
    plus, minus = gradient(eps), gradient(-eps)
    fd = torch.cat([(plus[k] - minus[k]).flatten() / (2 * eps) for k in names])
    exact = torch.cat([hg[k].flatten() for k in names])
    assert float(exact.norm()) > 0
    torch.testing.assert_close(exact, fd, rtol=1e-5, atol=1e-6 * float(exact.abs().max()))


def test_grasp_removes_the_highest_scores(mnist):
    """Wang et al.'s convention: S = -theta * Hg, the highest S pruned."""
    params = init_parameters("simple_cnn", 4)
    x, y = mnist["train_x"][:32], mnist["train_y"][:32]
    names = NETWORKS["simple_cnn"][0].prunable("weights")
    _, hg = hessian_gradient(NETWORKS["simple_cnn"][0], params, {}, names, x, y, batch_size=32)
    masks = _prune("grasp", "simple_cnn", params, 0.8, "weights", images=x, labels=y, batch_size=32, seed=4)
    score = {k: -params[k] * hg[k] for k in names}
    kept = torch.cat([score[k][masks[k]] for k in names])
    pruned = torch.cat([score[k][~masks[k]] for k in names])
    assert float(kept.max()) <= float(pruned.min())


@pytest.mark.parametrize("model", ["simple_cnn", "simple_cnn_same"])
def test_synflow_conserves_the_score_of_every_layer(model):
    """Tanaka et al.'s conservation theorem: with zero biases the network is positively homogeneous in each
    layer's weights, so every layer's summed score equals R = 1^T f(1), masked or not."""
    params = init_parameters(model, 0)  # biases are zero at initialisation
    assert all(not bool(v.any()) for k, v in params.items() if k.endswith("bias"))
    names = [k for k in params if k.endswith("weight")]
    gen = torch.Generator().manual_seed(0)
    partial = {k: torch.rand(params[k].shape, generator=gen) < 0.5 for k in names}
    for masks in [None, partial]:
        scores = synflow_scores(NETWORKS[model][0], params, {}, names, SHAPES[model], masks)
        sums = torch.stack([s.sum() for s in scores.values()])
        assert sums.dtype == torch.float64 and float(sums.min()) > 0
        torch.testing.assert_close(sums, sums[0].expand_as(sums), rtol=1e-10, atol=0)


def test_synflow_needs_no_data(monkeypatch):
    monkeypatch.setattr(pruning, "SYNFLOW_ROUNDS", 5)
    assert not PRUNING["synflow"].needs_data
    params = init_parameters("simple_cnn", 0)
    masks = _prune("synflow", "simple_cnn", params, 0.99, "weights", seed=0)
    noise, labels = torch.randn(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)
    with_data = _prune("synflow", "simple_cnn", params, 0.99, "weights", images=noise, labels=labels, seed=0)
    assert all(torch.equal(masks[k], with_data[k]) for k in masks)


def test_synflow_avoids_the_layer_collapse_of_snip():
    """62 of 62,346 weights kept, yet every layer keeps some (SNIP collapses this network: test_collapsed_layers)."""
    masks = _prune("synflow", "simple_cnn", init_parameters("simple_cnn", 0), 0.999, "weights", seed=0)
    assert collapsed_layers(masks) == []


def test_collapsed_layers(mnist):
    _, collapsed = _snip(mnist, 0.999)  # seed 0: SNIP prunes all 51,200 weights of the second convolution
    assert collapsed_layers(collapsed) == ["conv2.weight"]
    _, healthy = _snip(mnist, 0.9)
    assert collapsed_layers(healthy) == []
    # A bias pruned whole is no collapse: signal still passes the layer's weights.
    _, biases_pruned = _snip(mnist, 0.5, "weights_and_biases")
    assert not bool(biases_pruned["conv1.bias"].any()) and collapsed_layers(biases_pruned) == []


def test_masked_weights_stay_exactly_zero_through_training_with_momentum(mnist):
    params, masks = _snip(mnist, 0.9)
    spec = TrialSpec(trial=0, metaparameters={"learning_rate": 0.05, "momentum": 0.9}, params=params, masks=masks)
    settings = StudySettings(
        "nesterov", "constant", 32, goal_errors=(0.001,), budget_steps=40, eval_every=20, mode="census"
    )
    final = {}
    train_study([spec], mnist, settings, NETWORKS["simple_cnn"][0], final_params=final)
    for k, m in masks.items():
        assert bool((final[0][k][~m] == 0).all()), k
        assert bool((final[0][k][m] != params[k][m]).any()), f"{k}: kept weights did not train"
