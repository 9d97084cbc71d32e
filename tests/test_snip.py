import pytest
import torch

from sparsedp.engine import StudySettings, TrialSpec, train_study
from sparsedp.models import forward, init_parameters, parameter_shapes, prunable
from sparsedp.snip import saliency, snip_masks


def _masks(mnist, sparsity, scope="weights", seed=0, model="simple_cnn"):
    params = init_parameters(model, seed)
    x, y = mnist["train_x"][:100], mnist["train_y"][:100]
    return params, snip_masks(saliency(model, params, x, y, 50), sparsity, scope)


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.7, 0.9, 0.99])
@pytest.mark.parametrize("scope", ["weights", "weights_and_biases"])
def test_exact_sparsity_over_the_prunable_set(mnist, sparsity, scope):
    _, masks = _masks(mnist, sparsity, scope)
    pruned_set = [k for k in masks if prunable(k, scope)]
    n = sum(masks[k].numel() for k in pruned_set)
    assert sum(int(masks[k].sum()) for k in pruned_set) == round(n * (1 - sparsity))
    # Outside the scope nothing is pruned.
    assert all(bool(masks[k].all()) for k in masks if k not in pruned_set)


def test_simple_cnn_has_about_62k_parameters():
    n = sum(torch.Size(s).numel() for s in parameter_shapes("simple_cnn").values())
    assert n == 32 * 25 + 32 + 64 * 32 * 25 + 64 + 1024 * 10 + 10 == 62346


def test_saliency_is_the_connection_sensitivity_dL_dc(mnist):
    """SNIP's definition: |dL/dc| at c = 1 where the network uses c * w."""
    params = init_parameters("simple_cnn", 3)
    x, y = mnist["train_x"][:64], mnist["train_y"][:64]
    scores = saliency("simple_cnn", params, x, y, 64)
    gates = {k: torch.ones_like(v, requires_grad=True) for k, v in params.items()}
    logits = forward("simple_cnn", {k: gates[k] * params[k] for k in params}, x)[0]
    grads = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, y), list(gates.values()))
    for k, g in zip(gates, grads):
        torch.testing.assert_close(scores[k], g.abs(), rtol=1e-4, atol=1e-7)
    # Accumulated over batches of 16, the same up to float rounding.
    chunked = saliency("simple_cnn", params, x, y, 16)
    for k in scores:
        torch.testing.assert_close(scores[k], chunked[k], rtol=1e-3, atol=1e-5 * float(scores[k].max()))
    assert float(scores["0.bias"].abs().sum()) == 0  # zero-initialised biases have |g*w| = 0


def test_zero_biases_are_pruned_first_when_biases_are_ranked(mnist):
    _, masks = _masks(mnist, 0.5, "weights_and_biases")
    assert not bool(masks["0.bias"].any()) and not bool(masks["7.bias"].any())


def test_masked_weights_stay_exactly_zero_through_training_with_momentum(mnist):
    params, masks = _masks(mnist, 0.9)
    spec = TrialSpec(trial=0, learning_rate=0.05, momentum=0.9, params=params, masks=masks)
    settings = StudySettings(
        "simple_cnn", "nesterov", 32, goal_error=0.001, budget_steps=40, eval_every=20, mode="census"
    )
    final = {}
    train_study([spec], mnist, settings, final_params=final)
    for k, m in masks.items():
        assert bool((final[0][k][~m] == 0).all()), k
        assert bool((final[0][k][m] != params[k][m]).any()), f"{k}: kept weights did not train"
