"""Every figure laid out right at every scale the presets and the paper's config produce (1 to 4
sparsities, 1 to 3 optimizers, 3 to 13 batch sizes, 1 to 4 workloads), drawn from synthetic
tables and measured with the renderer: no text overlaps other text or another panel or leaves
the figure, no axis label outruns its axes, no legend covers a panel, no marker is cut by its
panel's frame, and every text is readable where the report shows it."""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from sparsedp.analysis import b_crit_range, critical_batch_table, steps_model
from sparsedp.labels import pow2
from sparsedp.plots import (
    FONT_PT,
    MAX_WIDTH,
    STUDY,
    critical_batch_goal_figure,
    figure1,
    figure2,
    figure4,
    figure_pruning,
    figure_trials,
    noise_scale_figure,
)
from sparsedp.registry import PRUNING

OPTIMIZERS = ("sgd", "momentum", "nesterov")
SPARSITIES = (0.0, 0.5, 0.7, 0.9)
STATUSES = ("complete", "incomplete", "infeasible")


def workload(optimizer, dataset="mnist"):
    model = "simple_cnn" if dataset == "mnist" else "resnet8"
    return dict(workload=f"{dataset}_{optimizer}", dataset=dataset, model=model, optimizer=optimizer)


def critical_table(table):
    return critical_batch_table(table, min_saving=0.4, plateau_saving=0.2, coverage=0.68)


def studies(n_optimizers, n_sparsities, n_batches, seed=0, replicates=1):
    """Best trial per study and replicate: noisy S_min (1 + B_crit / B) curves, B_crit growing
    with sparsity; one study per curve that never reached the goal."""
    rng = np.random.default_rng(seed)
    rows = []
    for optimizer, sparsity in itertools.product(OPTIMIZERS[:n_optimizers], SPARSITIES[:n_sparsities]):
        b_crit = 2.0 ** rng.uniform(5, 12) * (1 + sparsity)
        for (i, batch), r in itertools.product(enumerate(2 ** np.arange(4, 4 + n_batches)), range(replicates)):
            steps = steps_model(batch, 2000.0 * (1 + 2 * sparsity), b_crit) * np.exp(rng.normal(0, 0.1))
            reached = i < n_batches - 1 or n_batches == 3
            rows.append(workload(optimizer) | dict(pruning="none" if sparsity == 0 else "snip", sparsity=sparsity, batch_size=int(batch), goal_error=0.02,
                        replicate=r, n_trials=100, steps_to_result=round(steps) if reached else np.nan))  # fmt: skip
    table = pd.DataFrame(rows)
    return table, critical_table(table)


def trials(n_optimizers, n_sparsities, batches, n_trials=100, seed=0, metaparameters=("learning_rate", "momentum")):
    """Every trial of the chosen studies, statuses at random; the metaparameters not searched absent."""
    rng = np.random.default_rng(seed)
    rows = []
    for optimizer, sparsity, batch in itertools.product(OPTIMIZERS[:n_optimizers], SPARSITIES[:n_sparsities], batches):
        for k in range(n_trials):
            status = STATUSES[rng.integers(3)]
            steps = int(rng.integers(1, 400)) * 16
            rows.append(workload(optimizer) | dict(
                pruning="none" if sparsity == 0 else "snip", sparsity=sparsity, batch_size=batch, trial=k, goal_error=0.02, mode="census", status=status,
                learning_rate=10 ** rng.uniform(-4, 1), momentum=1 - 10 ** rng.uniform(-3, 0),
                decay_steps=int(rng.integers(30000, 60000)), end_factor=10 ** rng.uniform(-4, -1),
                steps_to_result=steps if status == "complete" else np.nan,
                steps_trained=steps if status == "complete" else 64000,
            ))  # fmt: skip
    table = pd.DataFrame(rows).drop(columns=list({"momentum", "decay_steps", "end_factor"} - set(metaparameters)))
    best = table.dropna(subset=["steps_to_result"]).sort_values("steps_to_result").groupby(STUDY).head(1).index
    return table.assign(best=table.index.isin(best))


def noise(n_workloads, n_sparsities, seed=0):
    rng = np.random.default_rng(seed)
    names = [workload(o) for o in OPTIMIZERS] + [workload("nesterov", "cifar10")]
    rows = [
        w
        | dict(
            pruning="none" if s == 0 else "snip",
            sparsity=s,
            b_simple=2 ** rng.uniform(3, 8),
            b_simple_se=2 ** rng.uniform(0, 4),
            networks=4,
            draws=50,
        )
        for w in names[:n_workloads]
        for s in SPARSITIES[:n_sparsities]
    ]
    table = pd.DataFrame(rows)
    fits = table[["workload", "pruning", "sparsity"]].assign(
        b_crit_fit=2 ** rng.uniform(5, 11, len(table)),
        goal_error=0.02,
        b_crit_paper=2 ** rng.integers(5, 11, len(table)),
    )
    fits = fits.assign(b_crit_fit_lo=fits["b_crit_fit"] / 1.5, b_crit_fit_hi=fits["b_crit_fit"] * 1.3, batch_min=16,
                       batch_max=2**12, b_crit_paper_lo=fits["b_crit_paper"] / 2, b_crit_paper_hi=np.inf)  # fmt: skip
    # The last curve reached the goal at batch sizes 2^4 and 2^5 only, so that its fitted B_crit
    # lies outside them (named, not drawn).
    fits.loc[fits.index[-1], ["batch_max", "b_crit_paper", "b_crit_paper_lo"]] = [32, np.nan, np.inf]
    fits["b_crit_fit_range"] = b_crit_range(fits["b_crit_fit"], fits["batch_min"], fits["batch_max"])
    return table, fits.iloc[1:]  # one curve without a fit


def texts(fig):
    """(owner axes or None, text) for every non-empty text the figure draws."""
    drawn = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            # The ticks a draw shows (the Tick objects also hold ones outside the view).
            for tick in axis._update_ticks():
                drawn += [(ax, label) for label in (tick.label1, tick.label2) if label.get_visible()]
            drawn.append((ax, axis.label))
        drawn += [(ax, t) for t in (ax.title, ax._left_title, ax._right_title, *ax.texts)]
    for legend in fig.legends:
        drawn += [(None, t) for t in (*legend.get_texts(), legend.get_title())]
    drawn += [(None, t) for t in fig.texts]  # the suptitle among them
    return [(owner, t) for owner, t in drawn if t.get_visible() and t.get_text().strip()]


def overlap(a, b, tol=0.5) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


def marker_extents(ax, px_per_pt):
    """(label, centre x, centre y, radius) in pixels of every marker drawn in ``ax``."""
    for line in ax.lines:
        if line.get_marker() in (None, "None", "", " ") or not line.get_visible():
            continue
        xy = line.get_transform().transform(np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float))
        radius = (line.get_markersize() + line.get_markeredgewidth()) / 2 * px_per_pt
        yield from ((line.get_label(), x, y, radius) for x, y in xy)
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            xy = coll.get_offset_transform().transform(np.asarray(coll.get_offsets(), dtype=float))
            radius = np.sqrt(np.broadcast_to(coll.get_sizes(), len(xy))) / 2 * px_per_pt
            yield from ((coll.get_label(), x, y, r) for (x, y), r in zip(xy, radius))


def layout_problems(fig) -> list[str]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []
    if fig.get_figwidth() > MAX_WIDTH + 1e-9:
        problems.append(f"{fig.get_figwidth():.1f} in wide: too small to read in the report")
    panels = [ax for ax in fig.axes if ax.axison]
    boxes = [(owner, t, t.get_window_extent(renderer)) for owner, t in texts(fig)]
    for owner, t, box in boxes:
        if t.get_fontsize() < FONT_PT:
            problems.append(f"{t.get_text()!r}: {t.get_fontsize()} pt")
        if box.x0 < -1 or box.y0 < -1 or box.x1 > fig.bbox.x1 + 1 or box.y1 > fig.bbox.y1 + 1:
            problems.append(f"{t.get_text()!r} leaves the figure")
        for ax in panels:
            if ax is not owner and overlap(box, ax.get_window_extent(renderer)):
                problems.append(f"{t.get_text()!r} runs into another panel ({ax.get_title()!r})")
        if owner is not None:
            frame = owner.get_window_extent(renderer)
            if (
                t is owner.yaxis.label
                and box.height > frame.height
                or t is owner.xaxis.label
                and box.width > frame.width
            ):
                problems.append(f"axis label {t.get_text()!r} is longer than its axes")
    for (_, a, box_a), (_, b, box_b) in itertools.combinations(boxes, 2):
        if overlap(box_a, box_b):
            problems.append(f"{a.get_text()!r} overlaps {b.get_text()!r}")
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        problems += [
            f"the legend covers {ax.get_title()!r}" for ax in panels if overlap(box, ax.get_window_extent(renderer))
        ]
    for ax in panels:
        if not (ax.lines or ax.collections) or ax.texts:
            problems.append(f"{ax.get_title()!r} is empty or holds placeholder text")
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            on_frame = [v for v in axis.get_majorticklocs() if np.isclose(v, lo) or np.isclose(v, hi)]
            if axis._major_tick_kw.get("gridOn", True) and on_frame:
                problems.append(f"a gridline on the frame of {ax.get_title()!r} at {on_frame}")
    px_per_pt = fig.dpi / 72
    for ax in panels:
        frame = ax.get_window_extent(renderer)
        for label, x, y, r in marker_extents(ax, px_per_pt):
            if np.isfinite(x) and np.isfinite(y) and not (frame.x0 - 0.5 <= x - r and x + r <= frame.x1 + 0.5
                                                          and frame.y0 - 0.5 <= y - r and y + r <= frame.y1 + 0.5):  # fmt: skip
                problems.append(f"a {label!r} marker is cut by the frame of {ax.get_title()!r}")
    plt.close(fig)
    return problems


# (optimizers, sparsities, batch sizes): the quick presets, the paper's Figures 1-3, and between.
STUDY_SCALES = [(1, 2, 5), (1, 2, 3), (1, 1, 3), (3, 4, 10), (1, 2, 13), (2, 3, 7), (3, 1, 13), (1, 4, 13)]
REPLICATES = {(1, 2, 5): 3, (3, 4, 10): 5, (2, 3, 7): 3}  # the others one, as without replicates


@pytest.mark.parametrize("scale", STUDY_SCALES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("draw", [figure1, figure2], ids=["fig1", "fig2"])
def test_steps_figures_lay_out_at_every_scale(draw, scale):
    table, critical = studies(*scale, replicates=REPLICATES.get(scale, 1))
    assert layout_problems(draw(table, critical=critical, experiment="paper")) == []


@pytest.mark.parametrize(
    "n_optimizers,n_sparsities,batches",
    [(1, 2, [16, 64]), (1, 2, [16, 128, 1024, 8192]), (1, 4, [16, 128, 1024, 8192]), (2, 2, [64]), (3, 1, [16, 256])],
)
def test_figure4_lays_out_at_every_scale(n_optimizers, n_sparsities, batches):
    table = trials(n_optimizers, n_sparsities, batches, n_trials=10 if len(batches) < 3 else 100)
    assert layout_problems(figure4(table, experiment="paper")) == []


@pytest.mark.parametrize(
    "metaparameters", [("learning_rate",), ("learning_rate", "momentum", "decay_steps", "end_factor")]
)
@pytest.mark.parametrize("n_sparsities,batches", [(2, [128, 2048]), (1, [64])])
def test_figure5_lays_out_at_every_scale(n_sparsities, batches, metaparameters):
    table = trials(1, n_sparsities, batches, metaparameters=metaparameters)
    assert layout_problems(figure_trials(table, experiment="paper")) == []


@pytest.mark.parametrize("n_workloads,n_sparsities", [(1, 2), (1, 1), (4, 4), (2, 3)])
def test_noise_scale_figure_lays_out_at_every_scale(n_workloads, n_sparsities):
    table, fits = noise(n_workloads, n_sparsities)
    fig = noise_scale_figure(table, fits, experiment="paper")
    assert layout_problems(fig) == []
    if len(fits) > 1:  # the last curve's B_crit, outside its batch sizes: named, not drawn
        last = fits.iloc[-1]
        assert sum(f"B_crit (fit) {pow2(last['b_crit_fit'])} above range" in ax.get_title() for ax in fig.axes) == 1
        drawn = [y for ax in fig.axes for line in ax.lines if line.get_gid() == "b_crit_fit" for y in line.get_ydata()]
        assert last["b_crit_fit"] not in drawn and fits["b_crit_fit"].iloc[0] in drawn
        paper = [
            y for ax in fig.axes for line in ax.lines if line.get_gid() == "b_crit_paper" for y in line.get_ydata()
        ]
        assert sorted(paper) == sorted(fits["b_crit_paper"].dropna())


def test_the_checks_find_what_the_old_figure_1_did_wrong():
    """An in-panel legend over a curve, a label taller than its axes, a marker on the frame, a
    gridline on it, an empty panel."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(4, 2))
    a.plot([1, 2], [1, 2], "o", label="x")
    a.set_xlim(1, 2)
    a.set_xticks([1, 1.5, 2])
    a.grid(True)
    b.text(0.5, 0.5, "not in this experiment")
    a.set_ylabel("a label far too long for its axes to hold it")
    fig.legend(loc="center")
    problems = layout_problems(fig)
    assert any("longer than its axes" in p for p in problems)
    assert any("legend covers" in p for p in problems)
    assert any("cut by the frame" in p for p in problems)
    assert any("gridline on the frame" in p for p in problems)
    assert any("placeholder" in p for p in problems)


def methods(n_optimizers, n_methods, n_batches, seed=0):
    """The dense curves and one 90% sparse curve per pruning method, each method's a little slower."""
    table, _ = studies(n_optimizers, 2, n_batches, seed)
    dense, sparse = table[table["sparsity"] == 0], table[table["sparsity"] > 0]
    curves = [dense] + [
        sparse.assign(pruning=m, steps_to_result=sparse["steps_to_result"] * (1 + 0.3 * i))
        for i, m in enumerate(list(PRUNING)[:n_methods])
    ]
    table = pd.concat(curves, ignore_index=True)
    return table, critical_table(table)


@pytest.mark.parametrize("scale", [(1, 5, 3), (1, 2, 5), (3, 5, 10), (2, 1, 13)], ids=lambda s: "x".join(map(str, s)))
def test_pruning_methods_figure_lays_out_at_every_scale(scale):
    table, critical = methods(*scale)
    assert layout_problems(figure_pruning(table, critical=critical, experiment="pruning_quick")) == []


def test_a_method_that_never_reached_the_goal_is_named_in_its_panel():
    table, critical = methods(1, 5, 3)
    table["budget_steps"] = 1200  # the study tables' column
    table.loc[table["pruning"] == "grasp", "steps_to_result"] = None
    fig = figure_pruning(table, critical=critical[critical["pruning"] != "grasp"], experiment="pruning_quick")
    title = fig.axes[0].get_title()
    assert "goal not reached in 1,200 steps: GraSP" in title.replace("\n", " ")
    assert layout_problems(fig) == []


def test_noise_and_critical_goal_figures_lay_out_with_several_pruning_methods():
    table, critical = methods(2, 5, 5)
    sparse = table[["workload", "dataset", "model", "optimizer", "pruning", "sparsity"]].drop_duplicates()
    noise = sparse.assign(b_simple=20.0, b_simple_se=2.0, networks=2, draws=20)
    fig = noise_scale_figure(noise, critical, experiment="pruning_quick")
    assert sum("pruned with SynFlow" in ax.get_title() for ax in fig.axes) == 2  # a panel per method
    assert layout_problems(fig) == []
    assert layout_problems(critical_batch_goal_figure(critical, experiment="pruning_quick")) == []
