import numpy as np
import pandas as pd
import pytest

from sparsedp.analysis import (
    critical_batch_table,
    doubling_savings,
    end_of_perfect_scaling,
    fit_critical_batch,
    steps_model,
    three_regimes,
)

BATCH = 2.0 ** np.arange(4, 14)


@pytest.mark.parametrize("s_min,b_crit", [(200.0, 512.0), (50.0, 2048.0), (1000.0, 64.0)])
def test_fit_recovers_the_model_from_noisy_curves(s_min, b_crit):
    rng = np.random.default_rng(1)
    steps = steps_model(BATCH, s_min, b_crit) * np.exp(rng.normal(0, 0.05, len(BATCH)))
    fit = fit_critical_batch(BATCH, steps, n_bootstrap=200)
    assert fit["s_min"] == pytest.approx(s_min, rel=0.15)
    assert fit["b_crit"] == pytest.approx(b_crit, rel=0.25)
    assert fit["b_crit_lo"] <= fit["b_crit"] <= fit["b_crit_hi"]


def test_noise_free_curve_is_fitted_exactly():
    fit = fit_critical_batch(BATCH, steps_model(BATCH, 300.0, 1024.0), n_bootstrap=0)
    assert fit["s_min"] == pytest.approx(300.0, rel=1e-6) and fit["b_crit"] == pytest.approx(1024.0, rel=1e-6)


def test_end_of_perfect_scaling_is_the_first_doubling_that_saves_too_little():
    steps = [4096, 2048, 1024, 512, 400, 390]  # perfect until 128, then 22%, then 2.5% saved
    batch = [16, 32, 64, 128, 256, 512]
    assert end_of_perfect_scaling(batch, steps, min_saving=0.4) == (128, "observed")
    assert end_of_perfect_scaling(batch, steps, min_saving=0.1) == (256, "observed")


@pytest.mark.parametrize(
    "batch,steps,seen",
    [
        ([16, 32, 64, 128], [4096, 2048, 1024, 512], "above_range"),  # every doubling halves the steps
        ([128, 256, 512], [512, 400, 390], "below_range"),  # the first doubling already saves 22%
        ([16, 64, 256], [4096, 1024, 256], "no_doubling"),
    ],
)
def test_an_end_of_perfect_scaling_not_observed_is_empty_and_says_why(batch, steps, seen):
    end, status = end_of_perfect_scaling(batch, steps, min_saving=0.4)
    assert np.isnan(end) and status == seen


def test_table_has_a_row_per_curve_and_goal_and_skips_unreached_points():
    rows = []
    for goal, scale in ((0.02, 1.0), (0.05, 0.5)):
        for sparsity, b_crit in ((0.0, 256.0), (0.9, 1024.0)):
            for b, s in zip(BATCH, steps_model(BATCH, 100.0 * scale, b_crit * scale)):
                rows.append(dict(workload="w", dataset="mnist", model="simple_cnn", optimizer="momentum", pruning="snip", sparsity=sparsity, goal_error=goal,
                                 batch_size=int(b), steps_to_result=round(s)))  # fmt: skip
    rows.append(dict(workload="w", dataset="mnist", model="simple_cnn", optimizer="momentum", pruning="snip", sparsity=0.9, goal_error=0.02, batch_size=2**14,
                     steps_to_result=None))  # fmt: skip
    table = critical_batch_table(pd.DataFrame(rows), min_saving=0.4, n_bootstrap=50)
    assert list(zip(table["sparsity"], table["goal_error"])) == [(0.0, 0.02), (0.0, 0.05), (0.9, 0.02), (0.9, 0.05)]
    assert list(table["n_points"]) == [10] * 4
    assert table["b_crit"].iloc[3] == pytest.approx(512, rel=0.05)  # the looser goal's own curve
    table = table[table["goal_error"] == 0.02]
    assert table["b_crit"].iloc[1] == pytest.approx(1024, rel=0.05)


def test_three_regimes_need_two_perfect_doublings_then_a_flat_one():
    batch = [4, 8, 16, 32, 64, 128]
    assert doubling_savings(batch[:3], [400, 200, 150]) == [(4, 0.5), (8, 0.25)]
    assert three_regimes(batch, [800, 440, 250, 160, 130, 120])  # 45%, 43%, then 8% at 64 -> 128
    assert not three_regimes(batch, [800, 500, 300, 200, 150, 140])  # 37.5%: no perfect scaling
    assert not three_regimes(batch, [800, 440, 250, 140, 80, 48])  # never flattens
    assert not three_regimes([4, 8, 32, 64, 128], [800, 440, 240, 200, 190])  # the two doublings are not consecutive
