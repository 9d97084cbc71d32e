from decimal import Decimal

import pytest

from sparsedp.config import (
    TRIAL_FIGURES,
    ConfigError,
    Study,
    figure_studies,
    load_yaml,
    sparsity_label,
    studies,
    study_mode,
    validate,
)

from conftest import REPO, SCHEMA, load_config

# config/config.yaml is config.yaml itself (a link, for snakedeploy and the workflow catalog), no preset.
PRESETS = sorted(str(p.relative_to(REPO)) for p in (REPO / "config").glob("*.yaml") if not p.is_symlink())


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_shipped_configs_are_valid(preset):
    config = load_config(*([preset] if preset else []))
    assert config["experiment"] == ("paper" if preset is None else preset.split("/")[1].removesuffix(".yaml"))


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_are_overlays_listing_only_what_differs(preset):
    """A preset merged over config.yaml: no key set to the value config.yaml already has."""
    paper, overlay = load_yaml(REPO / "config.yaml"), load_yaml(REPO / preset)

    def same(a, b, key):
        if isinstance(a, dict) and isinstance(b, dict):
            for k in a:
                same(a[k], b.get(k), f"{key}.{k}")
        else:
            assert a != b, f"{preset} repeats config.yaml's {key}: {a!r}"

    for key, value in overlay.items():
        same(value, paper.get(key), key)


def test_default_config_is_the_paper_grid():
    config = load_config()
    mnist = studies(config, ["mnist_sgd", "mnist_momentum", "mnist_nesterov"])
    assert len(mnist) == 3 * 4 * 10
    assert {s.batch_size for s in mnist} == {2**k for k in range(4, 14)}
    assert {s.sparsity for s in mnist} == {0.0, 0.5, 0.7, 0.9}
    cifar = studies(config, ["cifar_nesterov"])
    assert {s.batch_size for s in cifar} == {2**k for k in range(1, 14)}
    assert {s.sparsity for s in cifar} == {0.0, 0.9}
    assert config["workloads"]["cifar_nesterov"]["goal_errors"] == [0.4]


def _set(config, dotted, value):
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value


BAD = [
    ("workloads.mnist_sgd.optimizer", "lamb", "allowed: sgd, momentum, nesterov, adam"),
    ("workloads.mnist_sgd.pruning", ["snip", "obd"], "allowed: snip, random, magnitude, grasp, synflow"),
    ("workloads.mnist_sgd.pruning", [], "should be non-empty"),
    ("search.one_minus_beta1", {"low": 0.1, "high": 1.0}, "must be < 1"),
    ("figures.pruning_methods", {"workloads": ["mnist_sgd"]}, "needs .sparsity."),
    ("figures.pruning_methods", {"workloads": ["mnist_sgd"], "sparsity": 0.8}, "not a sparsity of"),
    ("figures.fig1_mnist.pruning", "grasp", "grasp is not among the pruning methods of"),
    ("workloads.mnist_sgd.sparsities", [0.0, 1.0], "greater than or equal to the maximum of 1"),
    ("workloads.mnist_sgd.sparsities", [-0.1], "less than the minimum of 0"),
    ("workloads.mnist_sgd.sparsities", [], "should be non-empty"),
    ("workloads.mnist_sgd.batch_sizes", [0], "allowed: 1, 2, 4"),
    ("workloads.mnist_sgd.batch_sizes", [100], "allowed: 1, 2, 4"),
    ("workloads.mnist_sgd.batch_sizes", [16.5], "allowed: 1, 2, 4"),
    ("workloads.mnist_sgd.batch_sizes", [], "should be non-empty"),
    ("workloads.mnist_sgd.goal_errors", [1.5], "greater than or equal to the maximum of 1"),
    ("workloads.mnist_sgd.goal_errors", [0], "less than or equal to the minimum of 0"),
    ("workloads.mnist_sgd.goal_errors", [], "should be non-empty"),
    ("workloads.mnist_sgd.sparsities", [0.9, 0.9000001], r"0.9000001 has more than 5 decimals"),
    ("workloads.mnist_sgd.sparsities", [0.9999999], r"has more than 5 decimals"),
    ("search.n_trials", 10.0, "10.0 is not of type 'integer'"),
    ("masks.batch_size", 100.0, "100.0 is not of type 'integer'"),
    ("workloads.mnist_sgd.budget_steps", 1000.0, "1000.0 is not of type 'integer'"),
    ("experiment", "My Run", "does not match"),
    ("figures.fig1_mnist.workloads", ["mnist_sgd", "gone"], "unknown workload 'gone'"),
    ("workloads.mnist_sgd.budget_steps", -5, "less than the minimum of 1"),
    ("workloads.mnist_sgd.budget_steps", "many", "is not of type 'integer'"),
    ("workloads.mnist_sgd.model", "resnet50", "allowed: simple_cnn, simple_cnn_same, resnet8"),
    ("models.mine", {"factory": "nowhere/net.py:build"}, r"nowhere/net.py not found .*working directory"),
    ("models.mine", {"factory": "build"}, "does not match"),
    ("models.mine", {"factory": "tests/conftest.py:no_such_function"}, "defines no 'no_such_function'"),
    ("models.mine", {"factory": "no_such_package.nets:build"}, "no module 'no_such_package'"),
    ("models.simple_cnn", {"factory": "tests/conftest.py:tiny_config"}, "simple_cnn is a registry model"),
    (
        "models.mine",
        {"factory": "tests/conftest.py:tiny_config", "init": "xavier"},
        "allowed: module, variance_scaling",
    ),
    ("datasets.mine", {"npz": "nowhere.npz"}, "No such file"),
    ("datasets.mine", {"npz": "a.npz", "function": "tests/conftest.py:tiny_config"}, "is valid under each of"),
    ("datasets.mine", {"npz": "a.npz", "validation": 1.5}, "validation"),
    ("datasets.mine", {"npz": "a.npz", "standardise": "zca"}, "allowed: global, channel, none"),
    ("datasets.cifar10", {"npz": "a.npz"}, "cifar10 is a registry dataset"),
    ("figures.fig5_cifar.studies", [[0.5, 128]], r"\[0.5, 128\] is not a study of \['cifar_nesterov'\]"),
    ("figures.fig5_cifar.studies", KeyError, "a trial-level figure needs 'studies'"),
    ("workloads.mnist_sgd.excluded_studies", [[0.3, 16]], r"\[0.3, 16\] is not a study of this workload's grid"),
    ("workloads.mnist_sgd.excluded_studies", [[0.9, 100]], "allowed: 1, 2, 4"),
    ("workloads.mnist_sgd.excluded_studies", [[0.9]], "is too short|should be non-empty"),
    ("workloads.mnist_sgd.dataset", "imagenet", "allowed: mnist, cifar10"),
    ("workloads.mnist_sgd.mode", "fast", "allowed: race, census"),
    ("workloads.mnist_sgd.goal_eror", 0.02, "Additional properties are not allowed .*goal_eror"),
    ("workloads", {}, "should be non-empty|does not have enough properties"),
    ("training.eval_every", 0, "less than the minimum of 1"),
    ("training.pack_size", 16, "allowed: 1, 10, 100"),
    ("search.n_trials", 55, "55 is not a multiple of training.pack_size 10"),
    ("training.early_exit", "yes", "is not of type 'boolean'"),
    ("training.checkpoint_every", -1, "less than the minimum of 0"),
    ("search.n_trials", 0, "less than the minimum of 1"),
    ("search.learning_rate", {"low": 1.0, "high": 1e-4}, "low 1.0 > high 0.0001"),
    ("search.one_minus_momentum", {"low": 0.1, "high": 1.5}, "must be < 1"),
    ("masks.scope", "everything", "allowed: weights, weights_and_biases"),
    ("device", "tpu", "allowed: auto, cpu, cuda"),
    ("data.sources", ["ftp"], "allowed: local, torchvision, npm"),
    ("data.cache", KeyError, "'cache' is a required property"),
    ("figures.fig1_mnist.workloads", ["mnist_adam"], "unknown workload 'mnist_adam'"),
    ("figures.fig9", {"workloads": ["mnist_sgd"]}, "Additional properties are not allowed .*fig9"),
    ("noise_scale.batch_small", 2048, "2048 is not smaller than noise_scale.batch_big 1024"),
    ("noise_scale.batch_big", 1000, "allowed: 1, 2, 4"),
    ("noise_scale.seeds", 101, "masks exist only for the search.n_trials 100 trials"),
    ("noise_scale.draws", 1, "less than the minimum of 2"),
    ("noise_scale.seeds", KeyError, "'seeds' is a required property"),
    ("figures.fig4_mnist.workloads", ["mnist_sgd"], "mnist_sgd searches no momentum"),
    ("figures.fig4_mnist.studies", [[0.3, 16]], r"\[0.3, 16\] is not a study of \['mnist_momentum'\]"),
    ("figures.fig4_mnist.studies", KeyError, "a trial-level figure needs 'studies'"),
    ("workloads.mnist_sgd.goal_errors", [float("nan")], "nan is not a finite number"),
    ("search.learning_rate", {"low": float("nan"), "high": 1.0}, "nan is not a finite number"),
    ("search.learning_rate", {"low": 1e-4, "high": float("inf")}, "inf is not a finite number"),
    ("analysis.min_saving", float("nan"), "nan is not a finite number"),
    ("workloads.mnist_sgd.budget_steps", "many", "'many' is not of type 'integer'"),
    ("search.race_group", 0, "less than the minimum of 1"),
    ("data.local_dir", "/nowhere/mnist", "/nowhere/mnist is not a folder"),
]


@pytest.mark.parametrize("key,value,message", BAD, ids=[f"{k}={v}" for k, v, _ in BAD])
def test_bad_config_is_rejected_naming_the_key(config, key, value, message):
    _set(config, key, value)
    with pytest.raises(ConfigError, match=message) as info:
        validate(config, SCHEMA)
    reported = key if value is not KeyError else key.rsplit(".", 1)[0]
    if "Additional properties" in message:
        reported = key.rsplit(".", 1)[0]
    assert f"config key '{reported}" in str(info.value)


def test_sparsity_labels_are_exact_and_one_to_one():
    legal = [0.0, 0.5, 0.7, 0.9, 0.95, 0.995, 0.999, 0.99999, 0.12345]
    labels = [sparsity_label(s) for s in legal]
    assert labels[:4] == ["0", "50", "70", "90"] and sparsity_label(0.99999) == "99.999"
    assert [float(Decimal(label) / 100) for label in labels] == legal  # the folder gives back the sparsity
    assert len(set(labels)) == len(legal)


def test_a_workload_removed_by_a_preset_cannot_stay_in_a_figure(config):
    config["workloads"]["mnist_nesterov"] = None
    with pytest.raises(ConfigError, match="workload 'mnist_nesterov' is removed"):
        validate(config, SCHEMA)


def test_schema_defaults_fill_what_a_config_leaves_out(config):
    for key in ("threads", "checkpoint_every", "eval_chunk", "pack_size", "group_examples", "early_exit"):
        del config["training"][key]
    del config["device"], config["data"]["sources"], config["masks"]["allow_layer_collapse"]
    validate(config, SCHEMA)
    assert config["training"]["threads"] == 1 and config["device"] == "auto"
    assert config["data"]["sources"] == ["local", "torchvision", "npm"]
    assert config["masks"]["allow_layer_collapse"] is False


def test_a_yaml_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: x\nsearch: {n_trials: 10\ntraining: {}\n")
    with pytest.raises(ConfigError, match=rf"{bad}, line \d+, column \d+: not valid YAML"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match="config file .*missing.yaml not found"):
        load_yaml(tmp_path / "missing.yaml")


def test_studies_of_trial_level_figures_are_trained_in_census_mode(config):
    shown = {s for fig in TRIAL_FIGURES for s in figure_studies(config, fig)}
    assert Study("mnist_momentum", 0.9, 8192) in shown and Study("cifar_nesterov", 0.0, 128) in shown
    for study in studies(config):
        assert study_mode(config, study) == ("census" if study in shown else "race")
    # Only the figure's own workloads: Figure 4's (sparsity, batch) pairs of SGD stay in race mode.
    assert study_mode(config, Study("mnist_sgd", 0.9, 16)) == "race"
    # A workload in census mode keeps it for every study; without trial-level figures, no census.
    config["workloads"]["mnist_sgd"]["mode"] = "census"
    assert study_mode(config, Study("mnist_sgd", 0.9, 16)) == "census"
    del config["figures"]["fig4_mnist"], config["figures"]["fig5_cifar"]
    assert study_mode(config, Study("mnist_momentum", 0.9, 8192)) == "race"


def test_an_excluded_pair_leaves_the_grid_at_every_method_and_replicate(config):
    from sparsedp.identity import study_identity

    spec = config["workloads"]["mnist_momentum"]
    spec["pruning"], spec["replicates"] = ["snip", "random"], 2
    validate(config, SCHEMA)
    before = {s: study_identity(config, s) for s in studies(config)}
    spec["excluded_studies"] = [[0.9, 8192]]
    after = studies(config)
    gone = [s for s in before if s not in after]
    assert {(s.workload, s.sparsity, s.batch_size) for s in gone} == {("mnist_momentum", 0.9, 8192)}
    assert {(s.pruning, s.replicate) for s in gone} == {(m, r) for m in ("snip", "random") for r in (0, 1)}
    # Every other study is where it was, with the identity it had: nothing retrains.
    assert after == [s for s in before if s not in gone]
    assert all(study_identity(config, s) == before[s] for s in after)
    # A trial-level figure cannot show an excluded study.
    with pytest.raises(ConfigError, match=r"\[0.9, 8192\] is not a study of \['mnist_momentum'\]"):
        validate(config, SCHEMA)


def test_a_sparsity_cannot_lose_every_batch_size(config):
    spec = config["workloads"]["mnist_sgd"]
    spec["excluded_studies"] = [[0.5, b] for b in spec["batch_sizes"]]
    with pytest.raises(ConfigError, match="excludes every batch size at sparsity 0.5; remove 0.5 from sparsities"):
        validate(config, SCHEMA)


def test_default_figure4_is_the_papers_grid(config):
    chosen = figure_studies(config, "fig4_mnist")
    assert {(s.sparsity, s.batch_size) for s in chosen} == {(s, b) for s in (0.0, 0.9) for b in (16, 128, 1024, 8192)}
    assert {s.workload for s in chosen} == {"mnist_momentum"}


def test_a_workload_can_search_its_own_ranges(config):
    from sparsedp.config import search_ranges

    config["workloads"]["mnist_sgd"]["search"] = {"learning_rate": {"low": 0.01, "high": 3.0}}
    validate(config, SCHEMA)
    assert search_ranges(config, "mnist_sgd")["learning_rate"] == {"low": 0.01, "high": 3.0}
    assert search_ranges(config, "mnist_momentum")["learning_rate"] == config["search"]["learning_rate"]
    config["workloads"]["mnist_sgd"]["search"] = {"learning_rate": {"low": 3.0, "high": 0.01}}
    with pytest.raises(ConfigError, match="workloads.mnist_sgd.search.learning_rate': low 3.0 > high 0.01"):
        validate(config, SCHEMA)


def test_numbers_given_as_text_by_snakemakes_config_option_are_read_as_numbers(config):
    """``--config search='{n_trials: 20}'`` reaches the workflow as {"n_trials": "20"}."""
    config["search"] = {**config["search"], "n_trials": "20", "learning_rate": {"low": "1e-3", "high": "0.5"}}
    validate(config, SCHEMA)
    assert config["search"]["n_trials"] == 20 and config["search"]["learning_rate"] == {"low": 1e-3, "high": 0.5}
