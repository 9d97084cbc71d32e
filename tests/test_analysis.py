import numpy as np
import pandas as pd
import pytest

from sparsedp.analysis import critical_batch_table, end_of_perfect_scaling, fit_critical_batch, steps_model

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


def test_table_has_a_row_per_curve_and_skips_unreached_points():
    rows = []
    for sparsity, b_crit in ((0.0, 256.0), (0.9, 1024.0)):
        for b, s in zip(BATCH, steps_model(BATCH, 100.0, b_crit)):
            rows.append(
                dict(workload="w", optimizer="momentum", sparsity=sparsity, batch_size=int(b), steps_to_result=round(s))
            )
    rows.append(dict(workload="w", optimizer="momentum", sparsity=0.9, batch_size=2**14, steps_to_result=None))
    table = critical_batch_table(pd.DataFrame(rows), min_saving=0.4, n_bootstrap=50)
    assert list(table["sparsity"]) == [0.0, 0.9] and list(table["n_points"]) == [10, 10]
    assert table["b_crit"].iloc[1] == pytest.approx(1024, rel=0.05)
