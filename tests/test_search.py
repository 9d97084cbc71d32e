import numpy as np
import pytest
from scipy.stats import qmc

from sparsedp.search import metaparameters, sobol_points


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("n", [1, 8, 100])
def test_sobol_points_equal_scipy_unscrambled_without_origin(dim, n):
    expected = qmc.Sobol(dim, scramble=False).random(n + 1)[1:]
    np.testing.assert_array_equal(sobol_points(n, dim), expected)


def test_first_sobol_points_are_the_van_der_corput_sequence():
    np.testing.assert_array_equal(sobol_points(4, 1)[:, 0], [0.5, 0.75, 0.25, 0.375])


def test_metaparameters_map_the_unit_cube_onto_the_search_space(config):
    search = config["search"]
    trials = metaparameters(config["workloads"]["mnist_momentum"], search)
    assert len(trials) == 100
    # Point 0 is (0.5, 0.5): the geometric middle of both log ranges.
    assert trials[0]["learning_rate"] == pytest.approx(1e-2)
    assert 1 - trials[0]["momentum"] == pytest.approx(10**-2.5)
    lrs = np.array([t["learning_rate"] for t in trials])
    moms = np.array([t["momentum"] for t in trials])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1
    assert moms.min() >= 0.9 and moms.max() <= 0.9999


def test_sgd_searches_the_learning_rate_only_and_every_study_gets_the_same_points(config):
    sgd = metaparameters(config["workloads"]["mnist_sgd"], config["search"])
    assert all(set(t) == {"learning_rate"} for t in sgd)
    momentum = metaparameters(config["workloads"]["mnist_momentum"], config["search"])
    # SGD's k-th learning rate is Momentum's: the same Sobol sequence in its first dimension.
    assert [t["learning_rate"] for t in sgd] == [t["learning_rate"] for t in momentum]


def test_linear_decay_searches_four_dimensions(config):
    workload = dict(config["workloads"]["mnist_nesterov"], schedule="linear_decay")
    trials = metaparameters(workload, config["search"])
    steps = [t["decay_steps"] for t in trials]
    assert min(steps) >= 30000 and max(steps) <= 60000 and all(isinstance(s, int) for s in steps)
    assert all(1e-4 <= t["end_factor"] <= 0.1 for t in trials)
