"""Any nn.Module as a network of many trials: the paper's networks on the generic path give the
layer interpreter's trajectories, BatchNorm's statistics are each trial's own, and what cannot be
trained per trial is refused naming the layer."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from sparsedp.engine import StudySettings, TrialSpec, new_group, train_step, train_study
from sparsedp.models import ModelError, Network, build_module, init_network
from sparsedp.pruning import prune

from conftest import network_of

SHAPES = {"simple_cnn": (1, 28, 28), "simple_cnn_same": (1, 28, 28), "resnet8": (3, 32, 32)}
# Float64 trajectories of the layer interpreter the paper's networks ran on before they became
# modules (models.forward at commit 29903ba): two trials, half their weights pruned at random,
# four steps of batch 8 on fixed random inputs. Per case: each step's training loss per trial,
# each parameter's sum and sum of squares per trial after the steps, and the validation logits'
# sums per trial and example.
TRAJECTORIES = json.loads((Path(__file__).parent / "data" / "interpreter_trajectories.json").read_text())
METAPARAMETERS = {
    "sgd": [{"learning_rate": 0.05}, {"learning_rate": 0.2}],
    "momentum": [{"learning_rate": 0.05, "momentum": 0.9}, {"learning_rate": 0.01, "momentum": 0.99}],
    "nesterov": [{"learning_rate": 0.05, "momentum": 0.9}, {"learning_rate": 0.01, "momentum": 0.99}],
    "adam": [
        {"learning_rate": 3e-3, "beta1": 0.9, "epsilon": 1e-8},
        {"learning_rate": 1e-2, "beta1": 0.5, "epsilon": 1e-4},
    ],
}


def random_data(shape, classes: int, n_train: int, n_val: int, seed: int) -> dict:
    """Random float64 examples and labels: the same numbers on every machine."""
    gen = torch.Generator().manual_seed(seed)
    return {
        "train_x": torch.randn(n_train, *shape, generator=gen, dtype=torch.float64),
        "train_y": torch.randint(classes, (n_train,), generator=gen),
        "val_x": torch.randn(n_val, *shape, generator=gen, dtype=torch.float64),
        "val_y": torch.randint(classes, (n_val,), generator=gen),
    }


@pytest.mark.parametrize("loop", [True, False], ids=["trial by trial", "vmap"])
@pytest.mark.parametrize("case", list(TRAJECTORIES))
def test_generic_path_reproduces_the_layer_interpreters_float64_trajectories(case, loop):
    model, optimizer, schedule = case.split("/")
    shape = SHAPES[model]
    data = random_data(shape, 10, 64, 16, seed=0)
    network, init = network_of(model, shape)
    specs = []
    for trial, mp in enumerate(METAPARAMETERS[optimizer]):
        params, _ = init(trial)
        masks = prune("random", network, params, 0.5, "weights", seed=trial)
        mp = {**mp, **({"decay_steps": 3, "end_factor": 0.1} if schedule == "linear_decay" else {})}
        specs.append(TrialSpec(trial, mp, {k: v.double() for k, v in params.items()}, masks))
    settings = StudySettings(optimizer, schedule, 8, (0.5,), 100, 100)
    state = new_group(specs, settings, "cpu", 64, 16)
    losses = []
    for step in range(4):
        batch = torch.stack([torch.arange(step * 8, (step + 1) * 8) + 3 * t for t in range(len(specs))])
        before = state.loss_sum.clone()
        train_step(state, settings, network, data, batch, torch.tensor(step), loop=loop)
        losses.append((state.loss_sum - before).tolist())
    with torch.no_grad():
        logits = network.logits(state.params, {}, data["val_x"], shared=True, loop=loop, train=False)
        moments = [[float(v[t].sum()), float(v[t].square().sum())] for v in state.params.values() for t in range(2)]
    want = TRAJECTORIES[case]
    torch.testing.assert_close(
        torch.tensor(losses, dtype=torch.float64),
        torch.tensor(want["losses"], dtype=torch.float64),
        rtol=1e-12,
        atol=1e-12,
    )
    torch.testing.assert_close(
        torch.tensor(moments, dtype=torch.float64),
        torch.tensor(want["params"], dtype=torch.float64),
        rtol=1e-12,
        atol=1e-12,
    )
    torch.testing.assert_close(
        logits.sum(-1), torch.tensor(want["val_logits"], dtype=torch.float64), rtol=1e-12, atol=1e-12
    )


class SmallBN(nn.Module):
    """A convolution with BatchNorm, as a user's model might be."""

    def __init__(self, input_shape, classes):
        super().__init__()
        self.conv = nn.Conv2d(input_shape[0], 6, 3)
        self.norm = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6 * (input_shape[1] - 2) * (input_shape[2] - 2), classes)

    def forward(self, x):
        return self.fc(torch.relu(self.norm(self.conv(x))).flatten(1))


@pytest.mark.parametrize("loop", [True, False], ids=["trial by trial", "vmap"])
def test_batchnorm_statistics_are_each_trials_own(loop, monkeypatch):
    """Three trials of a BatchNorm model trained together end with the parameters and running
    statistics each ends with alone, in float64; evaluation uses them."""
    import sparsedp.models as models

    monkeypatch.setitem(models.NETWORKS, "small_bn", SmallBN)
    entry = {"name": "small_bn", "factory": None, "kwargs": {}, "init": "module"}
    shape = (1, 10, 10)
    network = Network(build_module(entry, shape, 4).double())
    data = random_data(shape, 4, 96, 40, seed=1)
    specs = []
    for trial, lr in enumerate([0.1, 0.03, 0.3]):
        _, params, buffers = init_network(entry, shape, 4, trial)
        masks = prune("magnitude", network, params, 0.5, "weights", seed=trial)
        assert set(buffers) == {"norm.running_mean", "norm.running_var", "norm.num_batches_tracked"}
        specs.append(
            TrialSpec(
                trial,
                {"learning_rate": lr, "momentum": 0.9},
                {k: v.double() for k, v in params.items()},
                masks,
                buffers={k: v.double() if v.is_floating_point() else v for k, v in buffers.items()},
            )
        )
    settings = StudySettings("momentum", "constant", 8, (0.01,), 12, 6, mode="census", loop_trials=loop)
    together, alone = {}, {}
    outcomes = train_study(specs, data, settings, network, final_params=together)
    for spec in specs:
        train_study([spec], data, dataclasses.replace(settings, loop_trials=True), network, final_params=alone)
    for trial in range(3):
        assert int(together[trial]["norm.num_batches_tracked"]) == 12
        assert not torch.equal(together[trial]["norm.running_mean"], specs[trial].buffers["norm.running_mean"])
        for name in together[trial]:
            torch.testing.assert_close(together[trial][name], alone[trial][name], rtol=1e-10, atol=1e-12)
    # Evaluation is in evaluation mode, on the trial's own running statistics: the counts are those
    # of the trial's module in eval mode.
    for spec, outcome in zip(specs, outcomes):
        module = build_module(entry, shape, 4).double()
        module.load_state_dict({k: v[0] for k, v in together[spec.trial].items()})
        module.eval()
        with torch.no_grad():
            errors = int((module(data["val_x"]).argmax(1) != data["val_y"]).sum())
        assert outcome.curve["val_errors"][-1] == errors


def test_a_layer_drawing_random_numbers_is_refused_naming_it():
    module = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    with pytest.raises(ModelError, match="layer 2 draws random numbers"):
        Network(module)
    Network(nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.0)))  # p = 0 draws nothing


def test_a_factory_gets_the_keywords_it_takes_and_must_return_a_module(tmp_path):
    (tmp_path / "nets.py").write_text(
        "import torch\n"
        "def mlp(classes, hidden=5):\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(hidden), torch.nn.Linear(hidden, classes))\n"
        "def anything(**kw):\n"
        "    return torch.nn.Linear(kw['input_shape'][0], kw['classes'])\n"
        "def not_a_module(input_shape, classes):\n"
        "    return 'a string'\n"
    )
    entry = {"name": "mine", "factory": f"{tmp_path}/nets.py:mlp", "kwargs": {"hidden": 7}, "init": "module"}
    module = build_module(entry, (1, 4, 4), 3)
    assert module[2].in_features == 7 and module[2].out_features == 3
    assert build_module({**entry, "factory": f"{tmp_path}/nets.py:anything", "kwargs": {}}, (5,), 2).in_features == 5
    with pytest.raises(ModelError, match="returned a str, not a torch.nn.Module"):
        build_module({**entry, "factory": f"{tmp_path}/nets.py:not_a_module", "kwargs": {}}, (5,), 2)
    with pytest.raises(ModelError, match="no function 'missing'"):
        build_module({**entry, "factory": f"{tmp_path}/nets.py:missing"}, (5,), 2)


def test_prunable_parameters_are_convolution_and_linear_weights_unless_the_module_names_them():
    network = Network(SmallBN((1, 10, 10), 4))
    assert network.prunable("weights") == ["conv.weight", "fc.weight"]  # not BatchNorm's weight
    assert network.prunable("weights_and_biases") == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    module = SmallBN((1, 10, 10), 4)
    module.prunable_parameters = ["fc.weight"]
    assert Network(module).prunable("weights") == ["fc.weight"]
    module.prunable_parameters = ["fc.kernel"]
    with pytest.raises(ModelError, match="fc.kernel, not parameters"):
        Network(module).prunable("weights")


def test_initialisation_is_the_trials_own_and_leaves_the_random_state_alone(monkeypatch):
    import sparsedp.models as models

    monkeypatch.setitem(models.NETWORKS, "small_bn", SmallBN)
    entry = {"name": "small_bn", "factory": None, "kwargs": {}, "init": "module"}
    state = torch.random.get_rng_state()
    a, b, again = (init_network(entry, (1, 10, 10), 4, seed)[1] for seed in (0, 1, 0))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(a[k], again[k]) for k in a) and not torch.equal(a["conv.weight"], b["conv.weight"])
    # The reference code's initialisation: truncated normal weights of variance 1/fan_in, zero biases.
    _, scaled, _ = init_network({**entry, "init": "variance_scaling"}, (1, 10, 10), 4, 0)
    bound = 2 * (1 / 9) ** 0.5 / models.TRUNC_NORMAL_STD  # two standard deviations, fan-in 3 x 3
    assert float(scaled["conv.bias"].abs().sum()) == 0 and float(scaled["conv.weight"].abs().max()) <= bound
    assert torch.equal(scaled["norm.weight"], torch.ones(1, 6))  # BatchNorm's own parameters are the module's
