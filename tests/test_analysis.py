import numpy as np
import pandas as pd
import pytest

from sparsedp.analysis import (
    critical_batch_table,
    doubling_savings,
    end_of_perfect_scaling,
    fit_critical_batch,
    median_interval,
    plateau_start,
    regimes_verdict,
    replicate_table,
    steps_model,
    three_regimes,
)

BATCH = 2.0 ** np.arange(4, 14)


@pytest.mark.parametrize("s_min,b_crit", [(200.0, 512.0), (50.0, 2048.0), (1000.0, 64.0)])
def test_fit_recovers_the_model_from_noisy_curves(s_min, b_crit):
    rng = np.random.default_rng(1)
    steps = steps_model(BATCH, s_min, b_crit) * np.exp(rng.normal(0, 0.05, len(BATCH)))
    fitted_s_min, fitted_b_crit = fit_critical_batch(BATCH, steps)
    assert fitted_s_min == pytest.approx(s_min, rel=0.15)
    assert fitted_b_crit == pytest.approx(b_crit, rel=0.25)


def test_noise_free_curve_is_fitted_exactly():
    s_min, b_crit = fit_critical_batch(BATCH, steps_model(BATCH, 300.0, 1024.0))
    assert s_min == pytest.approx(300.0, rel=1e-6) and b_crit == pytest.approx(1024.0, rel=1e-6)


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


def row(sparsity, goal, batch, steps, replicate=0):
    return dict(workload="w", dataset="mnist", model="simple_cnn", optimizer="momentum", pruning="snip",
                sparsity=sparsity, goal_error=goal, batch_size=int(batch), steps_to_result=steps, replicate=replicate)  # fmt: skip


def test_table_has_a_row_per_curve_and_goal_and_skips_unreached_points():
    rows = []
    for goal, scale in ((0.02, 1.0), (0.05, 0.5)):
        for sparsity, b_crit in ((0.0, 256.0), (0.9, 1024.0)):
            rows += [
                row(sparsity, goal, b, round(s))
                for b, s in zip(BATCH, steps_model(BATCH, 100.0 * scale, b_crit * scale))
            ]
    rows.append(row(0.9, 0.02, 2**14, None))
    table = critical_batch_table(pd.DataFrame(rows), min_saving=0.4, plateau_saving=0.2, coverage=0.68)
    assert list(zip(table["sparsity"], table["goal_error"])) == [(0.0, 0.02), (0.0, 0.05), (0.9, 0.02), (0.9, 0.05)]
    assert list(table["n_points"]) == [10] * 4 and list(table["n_fits"]) == [1] * 4
    assert table["b_crit_fit"].iloc[3] == pytest.approx(512, rel=0.05)  # the looser goal's own curve
    # One replicate: a point per curve, no interval, and nothing decided.
    assert table["b_crit_fit_lo"].isna().all() and set(table["three_regimes"]) <= {"undecided", "no"}
    table = table[table["goal_error"] == 0.02]
    assert table["b_crit_fit"].iloc[1] == pytest.approx(1024, rel=0.05)


@pytest.mark.parametrize(
    "n,k,coverage", [(3, 1, 0.75), (4, 1, 0.875), (5, 1, 0.9375), (10, 3, 1 - 2 * 56 / 1024), (20, 8, None)]
)
def test_median_interval_is_the_widest_order_statistics_reaching_the_coverage(n, k, coverage):
    values = np.arange(n, dtype=float)[::-1]  # any order
    median, lo, hi, achieved = median_interval(values, 0.68)
    assert median == (n - 1) // 2 and (lo, hi) == (k - 1, n - k)
    if coverage is not None:
        assert achieved == pytest.approx(coverage)
    # The promised coverage is met: the true median of a skewed distribution lies inside that often.
    rng = np.random.default_rng(n)
    draws = rng.lognormal(size=(4000, n))
    inside = [median_interval(d, 0.68)[1] <= 1.0 <= median_interval(d, 0.68)[2] for d in draws]
    assert np.mean(inside) >= 0.68 - 0.03 and np.mean(inside) == pytest.approx(achieved, abs=0.03)


def test_median_interval_needs_enough_values_and_orders_censored_ones():
    assert np.isnan(median_interval([5.0], 0.68)[1]) and np.isnan(median_interval([5.0, 6.0], 0.68)[2])
    assert median_interval([5.0, 6.0], 0.5)[1:3] == (5.0, 6.0)
    median, lo, hi, _ = median_interval([300.0, np.inf, 200.0], 0.68)  # one replicate missed the goal
    assert (median, lo, hi) == (300.0, 200.0, np.inf)


def knee_curve(knee, batch=(16, 32, 64, 128, 256, 512, 1024)):
    """Perfect scaling (steps halve) up to ``knee``, then each doubling saves 10%."""
    steps, s = [], 8192.0
    for b in batch:
        steps.append(s)
        s = s / 2 if b < knee else s * 0.9
    return list(batch), steps


@pytest.mark.parametrize("knees,median,lo,hi", [((64, 128, 256), 128, 64, 256), ((128, 128, 512), 128, 128, 512)])
def test_the_papers_critical_batch_size_is_the_knee_of_each_replicate_with_its_interval(knees, median, lo, hi):
    rows = []
    for r, knee in enumerate(knees):
        batch, steps = knee_curve(knee)
        assert end_of_perfect_scaling(batch, steps, min_saving=0.4) == (knee, "observed")
        rows += [row(0.0, 0.02, b, s, replicate=r) for b, s in zip(batch, steps)]
    critical = critical_batch_table(pd.DataFrame(rows), min_saving=0.4, plateau_saving=0.2, coverage=0.68).iloc[0]
    assert (critical["b_crit_paper"], critical["b_crit_paper_lo"], critical["b_crit_paper_hi"]) == (median, lo, hi)
    assert critical["perfect_scaling_end"] == "observed" and critical["n_replicates"] == 3
    assert critical["interval_coverage"] == 0.75 and critical["n_fits"] == 3
    assert critical["b_crit_fit_lo"] <= critical["b_crit_fit"] <= critical["b_crit_fit_hi"]


def test_a_knee_beyond_the_measured_batch_sizes_is_censored_not_dropped():
    rows = []
    for r, knee in enumerate((64, 4096, 4096)):  # two replicates scale perfectly throughout
        batch, steps = knee_curve(knee)
        rows += [row(0.9, 0.02, b, s, replicate=r) for b, s in zip(batch, steps)]
    critical = critical_batch_table(pd.DataFrame(rows), min_saving=0.4, plateau_saving=0.2, coverage=0.68).iloc[0]
    assert np.isnan(critical["b_crit_paper"]) and critical["perfect_scaling_end"] == "above_range"
    assert (critical["b_crit_paper_lo"], critical["b_crit_paper_hi"]) == (64, np.inf)


def test_replicate_table_gives_each_study_its_median_spread_and_paired_saving():
    rows = [row(0.0, 0.02, 16, s, r) for r, s in enumerate((1000, 1200, 1600))]
    rows += [row(0.0, 0.02, 32, s, r) for r, s in enumerate((600, 500, None))]  # replicate 2 missed the goal
    table = replicate_table(pd.DataFrame(rows), coverage=0.68).set_index("batch_size")
    assert table.loc[16, ["steps_median", "steps_lo", "steps_hi"]].tolist() == [1200, 1000, 1600]
    assert table.loc[32, ["n_reached", "steps_median", "steps_lo", "steps_hi"]].tolist() == [2, 600, 500, np.inf]
    # Savings per replicate, replicate r against replicate r: 0.4, 1 - 500/1200, and -inf (missed).
    assert table.loc[32, "saving"] == pytest.approx(0.4) and table.loc[32, "saving_lo"] == -np.inf
    assert table.loc[32, "saving_hi"] == pytest.approx(1 - 500 / 1200) and np.isnan(table.loc[16, "saving"])


def test_three_regimes_need_two_perfect_doublings_then_a_flat_one():
    batch = [4, 8, 16, 32, 64, 128]
    assert doubling_savings(batch[:3], [400, 200, 150]) == [(4, 0.5), (8, 0.25)]
    assert three_regimes(batch, [800, 440, 250, 160, 130, 120])  # 45%, 43%, then 8% at 64 -> 128
    assert not three_regimes(batch, [800, 500, 300, 200, 150, 140])  # 37.5%: no perfect scaling
    assert not three_regimes(batch, [800, 440, 250, 140, 80, 48])  # never flattens
    assert not three_regimes([4, 8, 32, 64, 128], [800, 440, 240, 200, 190])  # the two doublings are not consecutive


def test_a_saving_of_exactly_the_threshold_is_not_less_than_it():
    # Steps are counted in evaluation intervals of 16, so a doubling from 160 to 128 steps saves
    # exactly 20%; 1 - 128 / 160 is 0.19999999999999996 in floats, which read as a plateau.
    batch = [256, 512, 1024, 2048, 4096]
    curve = replicate_table(
        pd.DataFrame([row(0.0, 0.02, b, s, r) for r in range(3) for b, s in zip(batch, (200, 160, 128, 128, 112))]),
        coverage=0.68,
    )
    assert curve["saving"].tolist()[1:] == [0.2, 0.2, 0.0, 0.125] and curve["saving_hi"].tolist()[2] == 0.2
    assert plateau_start(curve, plateau=0.2) == 1024  # 512 -> 1024 saves 20%: not yet the plateau
    assert doubling_savings([512, 1024], [160, 128]) == [(512, 0.2)]
    assert end_of_perfect_scaling([512, 1024, 2048], [160, 128, 128], min_saving=0.2) == (1024, "observed")


@pytest.mark.parametrize(
    "noise,verdict",
    [
        (0.0, "yes"),  # every replicate the same: the intervals are points, and show the regimes
        (0.3, "undecided"),  # replicates disagree by ±30%: the intervals reach across both thresholds
    ],
)
def test_three_regimes_are_decided_from_the_intervals_of_the_savings(noise, verdict):
    batch = [4, 8, 16, 32, 64, 128]
    steps = np.array([800, 440, 250, 160, 130, 120], float)  # 45%, 43%, then 8% at 64 -> 128
    rows = [
        row(0.0, 0.02, b, s * (1 + noise * (r - 1) * (-1) ** i), r)
        for r in range(3)
        for i, (b, s) in enumerate(zip(batch, steps))
    ]
    curve = replicate_table(pd.DataFrame(rows), coverage=0.68)
    assert regimes_verdict(curve, perfect=0.4, plateau=0.2) == verdict
    never = replicate_table(
        pd.DataFrame([row(0.0, 0.02, b, s, r) for r in range(3) for b, s in zip(batch, 800.0 / np.array(batch) * 4)]),
        0.68,
    )
    assert regimes_verdict(never, perfect=0.4, plateau=0.2) == "no"  # perfect scaling throughout, no plateau can be
    # Too few doublings to show the regimes at any savings: the batch sizes decide nothing.
    for measured in ([4, 8], [4, 8, 16], [4, 16, 64, 256], [4, 8, 32, 64]):
        short = never[never["batch_size"].isin(measured)]
        assert regimes_verdict(short, perfect=0.4, plateau=0.2) == "undecided", measured
    assert regimes_verdict(never[never["batch_size"] <= 32], perfect=0.4, plateau=0.2) == "no"
