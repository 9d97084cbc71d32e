"""One registry says what exists; every part that acts on an entry has one for it, and the
config schema's enums are the registry's."""

from pathlib import Path

import pytest

from sparsedp import config as cfg
from sparsedp import data, engine, fetch, models, plots, pruning, registry
from sparsedp.search import metaparameters

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"


def test_schema_enums_are_the_registry():
    schema = cfg.load_schema(SCHEMA)
    workload = schema["properties"]["workloads"]["additionalProperties"]["properties"]
    assert workload["dataset"]["enum"] == list(registry.DATASETS)
    assert workload["model"]["enum"] == list(registry.MODELS)
    assert workload["optimizer"]["enum"] == list(registry.OPTIMIZERS)
    assert workload["schedule"]["enum"] == list(registry.SCHEDULES)
    assert workload["pruning"]["items"]["enum"] == list(registry.PRUNING)
    assert set(schema["properties"]["figures"]["properties"]) == set(registry.FIGURES)
    keys = {m.range_key for m in registry.METAPARAMETERS.values()}
    assert set(schema["$defs"]["ranges"]["properties"]) == keys
    assert set(schema["properties"]["search"]["properties"]) == keys | {"n_trials", "race_group"}


def test_every_entry_has_its_function():
    assert engine.OPTIMIZERS.keys() == registry.OPTIMIZERS.keys()
    assert engine.SCHEDULES.keys() == registry.SCHEDULES.keys()
    assert pruning.SCORES.keys() == registry.PRUNING.keys()
    assert plots.FIGURES.keys() == registry.FIGURES.keys()
    assert models.NETWORKS.keys() == registry.MODELS.keys()
    assert data.READERS.keys() == fetch.DATASETS.keys() == registry.DATASETS.keys()
    caption = (ROOT / "workflow/report/figure.rst").read_text()
    assert all(f'"{name}"' in caption for name in registry.FIGURES), "every figure needs its report caption"
    for entry in [*registry.OPTIMIZERS.values(), *registry.SCHEDULES.values()]:
        assert set(entry.metaparameters) <= set(registry.METAPARAMETERS)
    assert all(m.init in ("module", "variance_scaling") for m in registry.MODELS.values())
    assert all(d.standardise in ("global", "channel", "none") for d in registry.DATASETS.values())
    assert all(f.needs in (None, *registry.METAPARAMETERS) for f in registry.FIGURES.values())


def test_an_optimizer_only_the_registry_knows_is_refused_before_any_job(config):
    config["workloads"]["mnist_sgd"]["optimizer"] = "lamb"
    with pytest.raises(cfg.ConfigError, match="allowed: " + ", ".join(registry.OPTIMIZERS)):
        cfg.validate(config, SCHEMA)


def test_adam_searches_learning_rate_one_minus_beta1_and_epsilon_in_their_default_ranges(config):
    config["workloads"]["mnist_sgd"]["optimizer"] = "adam"
    config = cfg.validate(config, SCHEMA)
    assert config["search"]["one_minus_beta1"] == registry.METAPARAMETERS["beta1"].default
    trials = metaparameters(config["workloads"]["mnist_sgd"], config["search"])
    assert all(set(t) == {"learning_rate", "beta1", "epsilon"} for t in trials)
    beta1 = registry.METAPARAMETERS["beta1"].default
    assert all(1 - beta1["high"] <= t["beta1"] <= 1 - beta1["low"] for t in trials)
    # Point 0 is the geometric middle of each log range.
    assert trials[0]["epsilon"] == pytest.approx(1e-6)


def test_dense_studies_are_shared_by_every_pruning_method(config):
    config["workloads"]["mnist_sgd"]["pruning"] = ["snip", "random"]
    config = cfg.validate(config, SCHEMA)
    grid = cfg.studies(config, ["mnist_sgd"])
    spec = config["workloads"]["mnist_sgd"]
    n_batches, sparse = len(spec["batch_sizes"]), [s for s in spec["sparsities"] if s]
    assert len(grid) == n_batches * (1 + 2 * len(sparse))
    assert {s.pruning for s in grid if s.sparsity == 0} == {registry.DENSE}
    assert cfg.Study("mnist_sgd", 0.0, 16, "random") == cfg.Study("mnist_sgd", 0.0, 16, "snip")
    assert cfg.Study("mnist_sgd", 0.9, 16, "random").path == "mnist_sgd/random/sparsity90/batch16"
