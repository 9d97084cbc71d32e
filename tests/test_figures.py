"""Figures drawn from hand-made tables: Figure 4's markers follow the trial statuses; Figures
1-3 mark each curve's critical batch size."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.markers import MarkerStyle

from sparsedp.analysis import KEYS, b_crit_range, steps_model
from sparsedp.plots import STATUS_STYLE, figure1, figure2, figure4, render

STATUSES = ["complete", "incomplete", "infeasible", "complete", "incomplete", "complete", "infeasible", "complete"]


def trials_table(studies=((0.0, 16), (0.9, 16), (0.0, 256), (0.9, 256))):
    rows = []
    for sparsity, batch in studies:
        for k, status in enumerate(STATUSES):
            complete = status == "complete"
            rows.append(
                dict(workload="mnist_momentum", dataset="mnist", model="simple_cnn", optimizer="momentum",
                     pruning="none" if sparsity == 0 else "snip", sparsity=sparsity, batch_size=batch, trial=k,
                     learning_rate=10.0 ** (-3 + k / 4), momentum=1 - 10.0 ** (-1 - k / 8), status=status,
                     steps_to_result=(400 - 10 * k + batch) if complete else np.nan,
                     steps_trained=(400 - 10 * k + batch) if complete else 1500, goal_error=0.05)
            )  # fmt: skip
    table = pd.DataFrame(rows)
    return table.assign(best=table["trial"] == 7)  # the lowest steps-to-result among the complete ones


def marker_path(marker):
    style = MarkerStyle(marker)
    return style.get_path().transformed(style.get_transform()).vertices


def test_figure4_marks_each_trial_by_its_status_and_the_best_with_a_star():
    table = trials_table()
    fig = figure4(table)
    axes = fig.axes
    assert len(axes) == 4  # rows: sparsity 0, 90%; columns: batch 16, 256
    expected_best = table[table["status"] == "complete"].sort_values(["steps_to_result", "trial"])
    for ax, (sparsity, batch) in zip(axes, [(0.0, 16), (0.0, 256), (0.9, 16), (0.9, 256)]):
        best_steps = 400 - 10 * 7 + batch
        assert (
            ax.get_title()
            == f"{100 * sparsity:g}% sparse, B = {batch}\n4 complete, 2 incomplete, 2 infeasible\nbest: {best_steps} steps"
        )
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        study = table[(table["sparsity"] == sparsity) & (table["batch_size"] == batch)]
        plotted = {c.get_label(): c for c in ax.collections}
        assert set(plotted) == {"complete", "incomplete", "infeasible", "best"}
        for status in ("complete", "incomplete", "infeasible"):
            sub = study[study["status"] == status]
            offsets = plotted[status].get_offsets()
            np.testing.assert_allclose(offsets[:, 0], sub["learning_rate"])
            np.testing.assert_allclose(offsets[:, 1], 1 - sub["momentum"])
            np.testing.assert_allclose(
                plotted[status].get_paths()[0].vertices, marker_path(STATUS_STYLE[status]["marker"])
            )
        best = expected_best[(expected_best["sparsity"] == sparsity) & (expected_best["batch_size"] == batch)].iloc[0]
        assert best["trial"] == 7  # the lowest steps-to-result among the complete ones
        np.testing.assert_allclose(plotted["best"].get_offsets(), [[best["learning_rate"], 1 - best["momentum"]]])
        np.testing.assert_allclose(plotted["best"].get_paths()[0].vertices, marker_path("*"))
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["complete", "incomplete", "infeasible", "best trial"]
    plt.close(fig)


def test_figure4_leaves_pairs_that_were_not_chosen_empty_and_renders(tmp_path):
    table = trials_table(studies=((0.0, 16), (0.9, 256)))
    table.loc[table["trial"] == 1, "status"] = "pruned"  # a race-mode study still draws
    fig = figure4(table)
    assert [ax.axison for ax in fig.axes] == [True, False, False, True]
    plt.close(fig)
    render("fig4_mnist", table, tmp_path / "f.pdf", tmp_path / "f.png", experiment="test")
    assert (tmp_path / "f.png").stat().st_size > 10_000


BATCH = [16, 32, 64, 128, 256, 512, 1024, 2048]


def studies_and_fits():
    rows, fits = [], []
    for optimizer in ("sgd", "momentum"):
        for sparsity, b_crit in ((0.0, 128.0), (0.9, 512.0)):
            steps = steps_model(BATCH, 100.0, b_crit)
            rows += [dict(workload=f"mnist_{optimizer}", dataset="mnist", model="simple_cnn", optimizer=optimizer,
                          pruning="none" if sparsity == 0 else "snip", sparsity=sparsity, batch_size=b, n_trials=100,
                          steps_to_result=round(s), goal_error=0.02) for b, s in zip(BATCH, steps)]  # fmt: skip
            fits.append(dict(workload=f"mnist_{optimizer}", optimizer=optimizer, pruning="none" if sparsity == 0 else "snip", sparsity=sparsity, n_points=8,
                             batch_min=BATCH[0], batch_max=BATCH[-1], s_min=100.0, b_crit=b_crit, b_crit_lo=b_crit / 1.2,
                             b_crit_hi=b_crit * 1.2, end_of_perfect_scaling=np.nan))  # fmt: skip
    return pd.DataFrame(rows), ranged(pd.DataFrame(fits))


def ranged(fits: pd.DataFrame) -> pd.DataFrame:
    """Hand-made fits with their b_crit_range, as the critical-batch table gives it."""
    return fits.assign(b_crit_range=b_crit_range(fits["b_crit"], fits["batch_min"], fits["batch_max"]))


def diamonds(ax):
    return [(line.get_xdata()[0], line.get_ydata()[0]) for line in ax.lines if line.get_marker() == "D"]


def test_figure1_marks_each_curve_critical_batch_size_with_its_interval():
    table, fits = studies_and_fits()
    fig = figure1(table, critical=fits)
    axes = np.array(fig.axes).reshape(2, 4)  # rows: SGD, Momentum; columns: 0%, 90%, all, normalised
    for row in axes:
        assert diamonds(row[0]) == [(128.0, 200.0)] and diamonds(row[1]) == [(512.0, 200.0)]  # (B_crit, 2 S_min)
        assert sorted(diamonds(row[2])) == [(128.0, 200.0), (512.0, 200.0)]
        intervals = [
            (list(line.get_xdata()), list(line.get_ydata())) for line in row[0].lines if line.get_marker() == "None"
        ]
        assert ([128 / 1.2, 128 * 1.2], [200.0, 200.0]) in intervals  # the 68% interval, through the diamond
        assert any(line.get_linestyle() == ":" for line in row[0].lines)  # the fitted curve
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "B_crit" in legend and "68% interval" in legend and "fit S_min (1 + B_crit / B)" in legend
    plt.close(fig)


def test_critical_batch_outside_the_data_or_missing_is_not_drawn_but_named():
    table, fits = studies_and_fits()
    fits.loc[0, "b_crit"] = 2.0**20  # SGD dense: far beyond the batch sizes measured
    fits.loc[1, ["b_crit", "s_min"]] = np.nan  # SGD 90%: too few points, no fit
    fig = figure1(table, critical=ranged(fits))
    sgd_dense, sgd_sparse = fig.axes[0], fig.axes[1]
    assert diamonds(sgd_dense) == [] and sgd_dense.get_title() == "SGD, 0% sparse\nB_crit 2^20.0 above range"
    assert diamonds(sgd_sparse) == [] and sgd_sparse.get_title() == "SGD, 90% sparse"
    assert sgd_dense.get_xlim()[1] < 2.0**13  # the axis stays on the data
    plt.close(fig)


def test_figure2_marks_critical_batch_sizes_and_figures_draw_without_them(tmp_path):
    table, fits = studies_and_fits()
    fig = figure2(table, critical=fits)
    assert [sorted(diamonds(ax)) for ax in fig.axes] == [[(128.0, 200.0)] * 2, [(512.0, 200.0)] * 2]
    plt.close(fig)
    for name in ("fig1_mnist", "fig2_mnist"):
        fig = figure1(table) if name == "fig1_mnist" else figure2(table)
        assert all(diamonds(ax) == [] for ax in fig.axes)
        plt.close(fig)
        render(name, table, tmp_path / f"{name}.pdf", tmp_path / f"{name}.png", critical=fits)
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", ["fig1_mnist", "fig2_mnist"])
def test_no_study_reached_the_goal_still_draws_with_critical_marks(tmp_path, name):
    table, fits = studies_and_fits()
    table["steps_to_result"] = np.nan
    render(name, table, tmp_path / "f.pdf", tmp_path / "f.png", critical=fits.iloc[0:0])
    assert (tmp_path / "f.png").stat().st_size > 5_000


def test_a_curve_the_model_fits_exactly_draws_its_critical_batch_size():
    # Quick CIFAR preset, dense: 112, 80, 64 steps at batch 64, 128, 256 lie exactly on
    # S_min (1 + B_crit / B), so every bootstrap refit gives the same B_crit up to rounding,
    # which may put the interval's ends a hair inside the estimate.
    table = pd.DataFrame(
        dict(workload="cifar_nesterov", dataset="cifar10", model="resnet8", optimizer="nesterov", pruning="none", sparsity=0.0,
             batch_size=[64, 128, 256], n_trials=10,
             steps_to_result=[112.0, 80.0, 64.0], goal_error=0.7)
    )  # fmt: skip
    fits = pd.DataFrame(
        [dict(workload="cifar_nesterov", optimizer="nesterov", pruning="none", sparsity=0.0, s_min=48.0, b_crit=85.33333333335929,
              b_crit_lo=85.3333333333783, b_crit_hi=85.3333333334065, end_of_perfect_scaling=64.0, batch_min=64, batch_max=256)]
    )  # fmt: skip
    fig = figure1(table, critical=ranged(fits))
    assert diamonds(fig.axes[0]) == [(pytest.approx(85.333, rel=1e-4), 96.0)]
    plt.close(fig)


def test_a_noise_scale_figure_with_nothing_finite_renders_and_says_why(tmp_path):
    """A layer pruned whole (allowed) gives |G|² = 0: no finite B_simple, no B_crit fit."""
    from sparsedp.plots import noise_scale_figure

    noise = pd.DataFrame([dict(workload="mnist_momentum", dataset="mnist", model="simple_cnn", optimizer="momentum",
                               pruning="snip", sparsity=0.999, b_simple=float("nan"), b_simple_se=float("nan"), networks=1, draws=8,
                               batch_small=16, batch_big=128)])  # fmt: skip
    critical = pd.DataFrame(columns=[*KEYS, "b_crit", "b_crit_lo", "b_crit_hi", "b_crit_range"])
    fig = noise_scale_figure(noise, critical, "test")
    title = fig.axes[0].get_title()
    assert "no finite B_simple" in title and "no B_crit fit" in title


def test_a_critical_batch_figure_without_any_curve_renders_and_says_so():
    from sparsedp.plots import critical_batch_goal_figure

    columns = [
        *KEYS,
        "b_crit",
        "b_crit_lo",
        "b_crit_hi",
        "b_crit_range",
    ]  # the critical-batch table's curve keys and fit
    fig = critical_batch_goal_figure(pd.DataFrame(columns=columns), "test")
    assert [t.get_text() for t in fig.axes[0].texts] == ["no curve reached a goal"]


def test_a_critical_batch_size_outside_its_curves_batch_sizes_is_drawn_hollow_and_said_so():
    from sparsedp.plots import critical_batch_goal_figure

    curve = dict(workload="mnist_momentum", dataset="mnist", model="simple_cnn", optimizer="momentum", pruning="none",
                 sparsity=0.0)  # fmt: skip
    critical = pd.DataFrame(  # both curves reached the goal at batch 16, 32, 64
        [curve | dict(goal_error=0.1, b_crit=40.0, b_crit_lo=30.0, b_crit_hi=50.0, batch_min=16, batch_max=64),
         curve | dict(goal_error=0.05, b_crit=300.0, b_crit_lo=200.0, b_crit_hi=400.0, batch_min=16, batch_max=64)]
    )  # fmt: skip
    fig = critical_batch_goal_figure(ranged(critical), "test")
    faces = {line.get_ydata()[0]: line.get_markerfacecolor() for line in fig.axes[0].lines if line.get_marker() == "D"}
    assert faces[300.0] == "white" and faces[40.0] != "white"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "outside the batch sizes measured" in legend
    plt.close(fig)
