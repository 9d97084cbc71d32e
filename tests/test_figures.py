"""Figures drawn from hand-made tables: Figure 4's markers follow the trial statuses; Figures
1-3 mark each curve's critical batch size."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
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
CRITICAL = ["n_replicates", "batch_min", "batch_max", "b_crit_paper", "b_crit_paper_lo", "b_crit_paper_hi",
            "perfect_scaling_end", "s_min", "b_crit_fit", "b_crit_fit_lo", "b_crit_fit_hi"]  # fmt: skip


def critical_row(curve, s_min, b_crit, paper=np.nan, end="observed", batch=BATCH, spread=1.2):
    """A curve's row of the critical-batch table, as analysis.critical_batch_table gives it."""
    return curve | dict(batch_min=batch[0], batch_max=batch[-1], n_replicates=3, s_min=s_min, b_crit_fit=b_crit,
                        b_crit_fit_lo=b_crit / spread, b_crit_fit_hi=b_crit * spread, b_crit_paper=paper,
                        b_crit_paper_lo=paper / 2, b_crit_paper_hi=paper * 2, perfect_scaling_end=end)  # fmt: skip


def studies_and_fits(replicates=1):
    """Curves on S_min (1 + B_crit / B), replicate r's steps (1 + r/10) times the first's."""
    rows, fits = [], []
    for optimizer in ("sgd", "momentum"):
        for sparsity, b_crit in ((0.0, 128.0), (0.9, 512.0)):
            curve = dict(workload=f"mnist_{optimizer}", dataset="mnist", model="simple_cnn", optimizer=optimizer,
                         pruning="none" if sparsity == 0 else "snip", sparsity=sparsity, goal_error=0.02)  # fmt: skip
            steps = steps_model(BATCH, 100.0, b_crit)
            rows += [curve | dict(batch_size=b, n_trials=100, replicate=r, steps_to_result=round(s * (1 + r / 10)))
                     for b, s in zip(BATCH, steps) for r in range(replicates)]  # fmt: skip
            fits.append(critical_row(curve, 100.0, b_crit, paper=b_crit / 2))
    return pd.DataFrame(rows), ranged(pd.DataFrame(fits))


def ranged(fits: pd.DataFrame) -> pd.DataFrame:
    """Hand-made fits with their b_crit_fit_range, as the critical-batch table gives it."""
    return fits.assign(b_crit_fit_range=b_crit_range(fits["b_crit_fit"], fits["batch_min"], fits["batch_max"]))


def marks(ax, gid):
    return [(x, y) for line in ax.lines if line.get_gid() == gid for x, y in zip(line.get_xdata(), line.get_ydata())]


def diamonds(ax):
    return marks(ax, "b_crit_fit")


def test_figure1_marks_each_curve_critical_batch_sizes_with_their_intervals():
    table, fits = studies_and_fits()
    fig = figure1(table, critical=fits)
    axes = np.array(fig.axes).reshape(2, 4)  # rows: SGD, Momentum; columns: 0%, 90%, all, normalised
    for row in axes:
        assert diamonds(row[0]) == [(128.0, 200.0)] and diamonds(row[1]) == [(512.0, 200.0)]  # (B_crit, 2 S_min)
        assert sorted(diamonds(row[2])) == [(128.0, 200.0), (512.0, 200.0)]
        assert marks(row[0], "b_crit_fit interval")[:2] == [(128 / 1.2, 200.0), (128 * 1.2, 200.0)]
        # The paper's B_crit, 64, on the curve: steps(64) = 100 (1 + 128/64); its interval 32 to 128.
        assert marks(row[0], "b_crit_paper") == [(64.0, 300.0)]
        assert marks(row[0], "b_crit_paper interval")[:2] == [(32.0, 300.0), (128.0, 300.0)]
        assert any(line.get_linestyle() == ":" for line in row[0].lines)  # the fitted curve
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "B_crit (fit)" in legend and "B_crit (paper)" in legend and "interval (≥ 68%)" in legend
    assert "fit S_min (1 + B_crit / B)" in legend and "replicate" not in legend  # one replicate: as before
    plt.close(fig)


def test_steps_figures_draw_the_median_of_replicates_with_its_interval_and_each_replicate_faintly():
    table, fits = studies_and_fits(replicates=3)  # replicate r: (1 + r/10) times the steps
    for fig in (figure1(table, critical=fits, coverage=0.68), figure2(table, critical=fits, coverage=0.68)):
        panel = fig.axes[0]  # SGD dense (Figure 1); dense, SGD and Momentum (Figure 2)
        steps = dict(zip(BATCH, steps_model(BATCH, 100.0, 128.0)))
        medians = marks(panel, "median")
        assert medians[: len(BATCH)] == [(b, round(s * 1.1)) for b, s in steps.items()]  # the middle replicate
        faint = [line for line in panel.lines if line.get_gid() == "replicate"]
        assert sorted(zip(faint[0].get_xdata(), faint[0].get_ydata())) == sorted(
            (b, round(s * (1 + r / 10))) for b, s in steps.items() for r in range(3)
        )
        assert faint[0].get_alpha() < 1
        # Three replicates hold the median between their smallest and largest with 75% >= 68%.
        bars = next(c for c in panel.collections if c.get_gid() == "steps interval").get_segments()
        expected = [(b, round(s), round(s * 1.2)) for b, s in steps.items()]
        assert [(seg[0][0], seg[0][1], seg[1][1]) for seg in bars] == expected
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "median of 3 replicates, bar: its interval (≥ 68%)" in legend and "each replicate" in legend
        assert "B_crit (paper): end of perfect scaling, line: its interval (≥ 68%)" in legend
        assert "B_crit (fit) at (B_crit, 2 S_min), line: its interval (≥ 68%)" in legend
        assert marks(panel, "b_crit_paper")[0] == (64.0, round(300 * 1.1))
        plt.close(fig)


def test_critical_batch_outside_the_data_or_missing_is_not_drawn_but_named():
    table, fits = studies_and_fits()
    fits.loc[0, "b_crit_fit"] = 2.0**20  # SGD dense: far beyond the batch sizes measured
    fits.loc[0, ["b_crit_paper", "perfect_scaling_end"]] = [np.nan, "above_range"]
    fits.loc[1, ["b_crit_fit", "s_min", "b_crit_paper"]] = np.nan  # SGD 90%: too few points, no fit
    fig = figure1(table, critical=ranged(fits))
    sgd_dense, sgd_sparse = fig.axes[0], fig.axes[1]
    assert diamonds(sgd_dense) == [] and marks(sgd_dense, "b_crit_paper") == []
    assert sgd_dense.get_title() == "SGD, 0% sparse\nB_crit (paper) above range\nB_crit (fit) 2^20.0 above range"
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
def test_no_study_reached_the_goal_still_draws_and_says_so(tmp_path, name):
    table, fits = studies_and_fits()
    table["steps_to_result"] = np.nan
    render(name, table, tmp_path / "f.pdf", tmp_path / "f.png", critical=fits.iloc[0:0])
    assert (tmp_path / "f.png").stat().st_size > 5_000
    fig = figure1(table) if name == "fig1_mnist" else figure2(table)
    assert fig.axes == [] and "no study reached the goal" in [t.get_text() for t in fig.texts]


def test_panels_neither_empty_nor_repeating():
    """A sparsity a workload lacks has no panel (no placeholder), and a single sparsity no
    combined panels that would repeat its one curve."""
    table, fits = studies_and_fits()
    table = table[~((table["workload"] == "mnist_sgd") & (table["sparsity"] == 0.9))]
    fig = figure1(table, critical=fits)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["SGD, 0% sparse", "Momentum, 0% sparse", "Momentum, 90% sparse", "Momentum, all sparsities",
                      "Momentum, normalised"]  # fmt: skip
    assert all(ax.lines and not ax.texts for ax in fig.axes)
    plt.close(fig)
    fig = figure1(table[table["sparsity"] == 0.0], critical=fits)
    assert [ax.get_title() for ax in fig.axes] == ["SGD, 0% sparse", "Momentum, 0% sparse"]
    plt.close(fig)


def test_a_colour_means_one_quantity_across_figures():
    """Figure 1 and the critical-batch figure give a sparsity the same colour; no optimizer
    (Figure 2) nor pruning method shares a colour with a sparsity."""
    from sparsedp.plots import METHOD_COLORS, critical_batch_goal_figure, sparsity_color

    table, fits = studies_and_fits()
    fig1, fig2, goal = figure1(table, critical=fits), figure2(table, critical=fits), critical_batch_goal_figure(fits)

    def colours(fig, gid):
        return {to_hex(line.get_color()) for ax in fig.axes for line in ax.lines if line.get_gid() == gid}

    assert colours(fig1, "b_crit_fit") == colours(goal, "b_crit_fit") == {to_hex(sparsity_color(s)) for s in (0, 0.9)}
    for ax, s in zip(fig1.axes, (0.0, 0.9)):  # each sparsity's own panel
        assert colours_of(ax, "median") == {to_hex(sparsity_color(s))}
    optimizers = colours(fig2, "median")
    assert len(optimizers) == 2 and not optimizers & colours(fig1, "median")
    sparsities = {to_hex(sparsity_color(s)) for s in (0, 0.5, 0.7, 0.9, 0.95, 0.99)}
    assert len(sparsities) == 6 and not sparsities & {to_hex(c) for c in METHOD_COLORS.values()}
    goal_legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in goal.axes]
    assert goal_legends == [["0% sparse", "90% sparse"]] * 2
    for fig in (fig1, fig2, goal):
        plt.close(fig)


def colours_of(ax, gid):
    return {to_hex(line.get_color()) for line in ax.lines if line.get_gid() == gid}


def test_a_curve_the_model_fits_exactly_draws_its_critical_batch_size():
    # Quick CIFAR preset, dense: 112, 80, 64 steps at batch 64, 128, 256 lie exactly on
    # S_min (1 + B_crit / B); replicates' refits agree up to rounding, which may put the
    # interval's ends a hair inside the estimate.
    curve = dict(workload="cifar_nesterov", dataset="cifar10", model="resnet8", optimizer="nesterov", pruning="none",
                 sparsity=0.0, goal_error=0.7)  # fmt: skip
    table = pd.DataFrame(
        curve | dict(batch_size=[64, 128, 256], n_trials=10, replicate=0, steps_to_result=[112.0, 80.0, 64.0])
    )
    fit = critical_row(curve, 48.0, 85.33333333335929, paper=64.0, batch=[64, 128, 256], spread=1 + 1e-13)
    fig = figure1(table, critical=ranged(pd.DataFrame([fit])))
    assert diamonds(fig.axes[0]) == [(pytest.approx(85.333, rel=1e-4), 96.0)]
    assert marks(fig.axes[0], "b_crit_paper") == [(64.0, 112.0)]
    plt.close(fig)


def test_a_noise_scale_figure_with_nothing_finite_renders_and_says_why(tmp_path):
    """A layer pruned whole (allowed) gives |G|² = 0: no finite B_simple, no critical batch size."""
    from sparsedp.plots import noise_scale_figure

    noise = pd.DataFrame([dict(workload="mnist_momentum", dataset="mnist", model="simple_cnn", optimizer="momentum",
                               pruning="snip", sparsity=0.999, b_simple=float("nan"), b_simple_se=float("nan"), networks=1, draws=8,
                               batch_small=16, batch_big=128)])  # fmt: skip
    critical = pd.DataFrame(columns=[*KEYS, *CRITICAL, "b_crit_fit_range"])
    fig = noise_scale_figure(noise, critical, "test")
    title = fig.axes[0].get_title()
    assert "no finite B_simple" in title and "no critical batch size" in title


def test_a_critical_batch_figure_without_any_curve_renders_and_says_so():
    from sparsedp.plots import critical_batch_goal_figure

    fig = critical_batch_goal_figure(pd.DataFrame(columns=[*KEYS, *CRITICAL, "b_crit_fit_range"]), "test")
    assert fig.axes == [] and [t.get_text() for t in fig.texts][0] == "no curve has a critical batch size"


def test_the_critical_batch_figure_shows_both_definitions_against_increasing_goals():
    from sparsedp.plots import critical_batch_goal_figure

    curve = dict(workload="mnist_momentum", dataset="mnist", model="simple_cnn", optimizer="momentum", pruning="none",
                 sparsity=0.0)  # fmt: skip
    critical = pd.DataFrame(  # both curves reached the goal at batch 16 to 64; the tighter goal's fit beyond them
        [critical_row(curve | dict(goal_error=0.1), 100.0, 40.0, paper=32.0, batch=[16, 32, 64]),
         critical_row(curve | dict(goal_error=0.05), 100.0, 300.0, paper=np.inf, batch=[16, 32, 64])]
    )  # fmt: skip
    critical.loc[1, ["b_crit_paper", "b_crit_paper_lo", "perfect_scaling_end"]] = [64.0, 32.0, "observed"]
    fig = critical_batch_goal_figure(ranged(critical), "test")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.05", "0.1"]  # increasing left to right
    fits = {y: line for line in ax.lines if line.get_gid() == "b_crit_fit" for y in line.get_ydata()}
    assert fits[300.0].get_markerfacecolor() == "white" and fits[40.0].get_markerfacecolor() != "white"
    assert fits[300.0].get_xdata()[0] < 0.5 < fits[40.0].get_xdata()[0]  # at goal 0.05, then 0.1
    assert sorted(y for x, y in marks(ax, "b_crit_paper")) == [32.0, 64.0]
    paper = {y for _, y in marks(ax, "b_crit_paper interval")}
    assert {16.0, 32.0, 64.0} <= paper  # 32's interval 16 to 64; 64's 32 up to the end of the axis
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert (
        "B_crit (fit) outside the batch sizes measured" in legend
        and "B_crit (paper), bar: its interval (≥ 68%)" in legend
    )
    plt.close(fig)
