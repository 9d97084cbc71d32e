"""A researcher's own network and data through the whole workflow: a model defined in a file of
theirs (with BatchNorm) and a dataset given as .npz, beside a registry model; what reruns when the
registry grows or one piece of code changes; and bad models and data refused before any training
job, naming the file, with nothing already computed lost."""

import json
import re

import numpy as np
import pytest
import torch
from test_experiments import TRAINING, dry_run, planned_outputs

from conftest import OWN_MODEL, copy_run, own_config, results, snakemake


def test_a_users_model_and_npz_run_through_masks_trials_studies_and_figure_1(own_run):
    workdir, config = own_run
    out = results(workdir, config)
    facts = json.loads((out / "networks/digits16/my_net.json").read_text())
    assert facts["input_shape"] == [1, 16, 16] and facts["classes"] == 10  # from the data
    assert facts["prunable"]["weights"] == ["0.weight", "4.weight", "9.weight"]  # conv and linear, not BatchNorm
    assert set(facts["buffers"]) == {
        f"{i}.{b}" for i in (1, 5) for b in ("running_mean", "running_var", "num_batches_tracked")
    }
    prunable = facts["prunable"]["weights"]
    n = sum(int(np.prod(facts["parameters"][k])) for k in prunable)
    for method in ("snip", "random", "magnitude", "grasp", "synflow"):
        for seed in range(config["search"]["n_trials"]):
            mask = torch.load(out / f"masks/{method}/digits16/my_net/sparsity50/seed{seed:03d}.pt", weights_only=True)
            assert sum(int(mask["masks"][k].sum()) for k in prunable) == round(n * 0.5), (method, seed)
            assert all(bool(m.all()) for k, m in mask["masks"].items() if k not in prunable)
            assert mask["buffers"].keys() == facts["buffers"].keys()  # each trial starts from its own statistics
    trial = json.loads((out / "trials/own_momentum/grasp/sparsity50/batch16/trial003.json").read_text())
    assert trial["identity"]["model"] == "my_net" and trial["identity"]["dataset"] == "digits16"
    assert trial["n_validation"] == 300  # the .npz's own validation set
    study = json.loads((out / "studies/own_sgd/snip/sparsity50/batch64.json").read_text())
    assert study["goals"][0]["best_trial"] is not None
    fig1 = np.genfromtxt(out / "tables/fig1.csv", delimiter=",", names=True, dtype=None, encoding=None)
    assert set(fig1["workload"]) == {"own_momentum", "own_sgd"} and set(fig1["model"]) == {"my_net"}
    assert (out / "figures/fig1.png").stat().st_size > 10_000
    assert (out / "figures/pruning_methods.png").exists()
    trials = (out / "tables/trials.csv").read_text()
    assert ",resnet8," in trials and ",my_net," in trials  # the registry's model on the user's data, alike


REGISTRY_ENTRIES = {
    "src/sparsedp/registry.py": [  # each after the last entry of its table
        ('iterative)"),\n}', 'iterative)"),\n    "snip_squared": Pruning("SNIP squared", True, "a test"),\n}'),
        ('heavy_ball=False),\n}', 'heavy_ball=False),\n    "sgd_copy": Optimizer("SGD copy", ("learning_rate",), heavy_ball=False),\n}'),
        ('without batch norm"),\n}', 'without batch norm"),\n    "mlp": Model("MLP", "a test"),\n}'),
    ],
    "src/sparsedp/pruning.py": [
        ("\n\n# The score function of each method", "\n\n\ndef snip_squared(network, params, names, **kw):\n"
         "    return {k: s.square() for k, s in snip(network, params, names, **kw).items()}\n\n\n"
         "# The score function of each method"),
        ('"synflow": synflow}', '"synflow": synflow, "snip_squared": snip_squared}'),
    ],
    "src/sparsedp/engine.py": [
        ("\n\ndef _momentum(", "\n\ndef _sgd_copy(p, g, state, mp, lr):\n    p.sub_(g * _per_trial(lr, p))\n\n\ndef _momentum("),
        ('    "adam": Optimizer(_adam_state, _adam),', '    "adam": Optimizer(_adam_state, _adam),\n'
         '    "sgd_copy": Optimizer(lambda p: {}, _sgd_copy),'),
    ],
    "src/sparsedp/models.py": [
        ("\n\n# The factory of each model", "\n\n\nclass MLP(nn.Module):\n    def __init__(self, input_shape, classes):\n"
         "        super().__init__()\n        self.fc = nn.Linear(math.prod(input_shape), classes)\n\n"
         "    def forward(self, x):\n        return self.fc(x.flatten(1))\n\n\n# The factory of each model"),
        ('    "resnet8": ResNet8,\n}', '    "resnet8": ResNet8,\n    "mlp": MLP,\n}'),
    ],
}  # fmt: skip


def _edit(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


def test_growing_the_registry_reruns_nothing_and_editing_one_optimizer_only_its_trials(own_run, tmp_path, repo_copy):
    workdir = copy_run(own_run[0], tmp_path / "run")
    config = own_run[1]
    for name, edits in REGISTRY_ENTRIES.items():  # a pruning method, an optimizer and a model, each with its code
        for old, new in edits:
            _edit(repo_copy / name, old, new)
    dry = ["-s", str(repo_copy / "Snakefile")]
    assert dry_run(workdir, config, *dry)[0] == {}
    # SGD's update rule edited (the same arithmetic, other code): SGD's trials and nothing they do not feed.
    _edit(
        repo_copy / "src/sparsedp/engine.py", "    p.sub_(_per_trial(lr, p) * g)", "    p.sub_(g * _per_trial(lr, p))"
    )
    counts, out = dry_run(workdir, config, *dry)
    assert counts["train_pack"] == 4 and not set(counts) & (TRAINING - {"train_pack"})
    assert all("/trials/own_sgd/" in f for f in planned_outputs(out, "train_pack"))


def test_editing_a_users_model_file_reruns_its_results_and_nothing_else(own_run, tmp_path):
    workdir = copy_run(own_run[0], tmp_path / "run")
    config = own_run[1]
    model = workdir / "my_net.py"
    model.write_text(model.read_text().replace("import torch\n", "import torch  # the network of my paper\n"))
    assert dry_run(workdir, config)[0] == {}  # a comment is not code
    model.write_text(model.read_text().replace("nn.MaxPool2d(2),", "nn.AvgPool2d(2),", 1))
    counts, out = dry_run(workdir, config)
    # Its check, its masks (dense and the five methods' 50%), its 16 studies and its noise scales.
    assert {k: counts.get(k) for k in ("network_facts", "prune_pack", "train_pack", "noise_scale")} == {
        "network_facts": 1, "prune_pack": 6, "train_pack": 16, "noise_scale": 6
    }  # fmt: skip
    planned = [
        f for rule in ("network_facts", "prune_pack", "train_pack", "noise_scale") for f in planned_outputs(out, rule)
    ]
    assert planned and not [f for f in planned if "resnet" in f]


def _unchanged(out):
    return {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.suffix in (".json", ".pt")}


@pytest.mark.parametrize(
    "edit,needles",
    [
        (("return nn.Sequential(", "return 'not a network' or nn.Sequential("), ["my_net.py:build)", "returned a str, not a torch.nn.Module"]),
        (("(width_px // 4), classes)", "(width_px // 4), classes + 1)"), ["returns outputs of shape [2, 11]", "has 10 classes, so expected [2, 10]"]),
        (("nn.ReLU(), nn.MaxPool2d(2),\n        nn.Conv2d", "nn.Dropout(0.2), nn.MaxPool2d(2),\n        nn.Conv2d"), ["layer 2 draws random numbers"]),
    ],
    ids=["not a module", "wrong number of classes", "dropout"],
)  # fmt: skip
def test_a_model_that_cannot_be_trained_is_refused_before_any_mask_and_nothing_is_lost(
    own_run, tmp_path, edit, needles
):
    workdir = copy_run(own_run[0], tmp_path / "run")
    config = own_run[1]
    out = results(workdir, config)
    before = _unchanged(out)
    model = workdir / "my_net.py"
    model.write_text(model.read_text().replace(*edit))
    proc = snakemake(workdir, config, "--cores", "2", check=False)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Error in rule network_facts" in message and "model my_net" in message
    for needle in needles:
        assert needle in message, (needle, message[-3000:])
    assert not re.search(r"^(local)?rule (prune_pack|prune_mask|train_pack|train_trial):$", message, re.M)
    after = _unchanged(out)
    assert {p: b for p, b in after.items() if "networks" not in p.parts} == {
        p: b for p, b in before.items() if "networks" not in p.parts
    }  # every mask, trial, study and split as it was


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays,needle",
    [
        ({"x": np.zeros((20, 1, 4, 4), np.uint8)}, "no array 'y' (y); it holds x"),
        ({"x": np.zeros((20, 4)), "y": np.arange(19) % 3}, "x has 20 examples but y has 19 labels"),
        ({"x": np.where(np.arange(80).reshape(20, 4) == 9, np.nan, 0.0), "y": np.arange(20) % 3},
         "x has NaN or infinite values in 1 examples (the first: index 2)"),
        ({"x": np.zeros((20, 4)), "y": np.arange(20) % 3 - 1}, "y has negative labels"),
        ({"x": np.zeros((20, 4)), "y": (np.arange(20) % 3).astype(float)}, "y is float64; labels must be integers"),
        ({"x": np.zeros((20, 4)), "y": np.arange(20) % 3, "x_val": np.zeros((5, 4))}, "x_val and y_val come together"),
        ({"x": np.zeros((20, 4)), "y": np.arange(20) % 5}, "labels up to 4, outside 0..2 (classes: 3)"),
    ],
    ids=["missing array", "lengths", "NaN", "negative label", "float labels", "half a validation set", "label >= C"],
)  # fmt: skip
def test_a_bad_npz_is_refused_before_any_job_naming_the_file(tmp_path, arrays, needle):
    config = own_config()
    config["datasets"] = {"digits16": {"npz": "bad.npz", "classes": 3}}
    _write(tmp_path / "bad.npz", **arrays)
    (tmp_path / "my_net.py").write_text(OWN_MODEL)
    proc = snakemake(tmp_path, config, "--cores", "1", check=False)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'datasets.digits16.npz': bad.npz: " in message and needle in message, message[-2000:]
    assert not (tmp_path / "results").exists()


def test_the_report_of_such_a_run_names_the_users_model_and_data(own_run, tmp_path):
    from test_report import DOCUTILS_MESSAGE

    workdir, config = own_run
    path = tmp_path / "report.html"
    proc = snakemake(workdir, config, "--report", str(path))
    html = path.read_text()
    assert not DOCUTILS_MESSAGE.search(proc.stdout + proc.stderr) and not DOCUTILS_MESSAGE.search(html)
    assert "my_net on digits16" in html and "ResNet-8 on digits16" in html
