"""Figures of the paper from the tidy tables: steps-to-result against batch size (Figures 1-3),
every trial of chosen studies (Figures 4, 5), and the gradient noise scale against B_crit.

Every figure names the run it shows (experiment, goal error, trials per study) under its title,
keeps its legends outside the panels, and is at most MAX_WIDTH wide with no text under
FONT_PT, so that its text stays readable where the HTML report shows it
(tests/test_figure_layout.py checks the layout at every scale the configs produce)."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator  # noqa: E402

from . import registry  # noqa: E402
from .analysis import ABOVE, BELOW, INSIDE, steps_model  # noqa: E402
from .labels import network, optimizer, ordered_workloads, percent, pow2, pruning  # noqa: E402

FONT_PT = 8  # the smallest text in any figure
# Inches. The report shows a figure in the width left by its menu (about 1050 px in a 1600 px
# window): at 13 in, FONT_PT text still shows 8 px tall.
MAX_WIDTH = 13.0
MIN_WIDTH = 5.5  # room for the title and the run's note
# Pixels. The report centres a figure in the window: a taller one loses its top, out of reach of
# the scroll bar, in a window 1000 px tall.
PNG_MAX_HEIGHT = 900
PANEL = (2.4, 2.1)  # one panel, width and height in inches, with its tick labels
STUDY = ["workload", "pruning", "sparsity", "batch_size"]


def _style():
    sns.set_theme(context="paper", style="whitegrid")
    plt.rcParams.update(
        {"pdf.fonttype": 42, "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "figure.titlesize": 9,
         "xtick.labelsize": FONT_PT, "ytick.labelsize": FONT_PT, "legend.fontsize": FONT_PT}
    )  # fmt: skip


def _figure(nrows: int, ncols: int, panel=PANEL, **kw):
    """A grid of panels under a two-line title, over a legend; constrained layout keeps the
    labels of neighbouring panels apart."""
    width = min(max(panel[0] * ncols, MIN_WIDTH), MAX_WIDTH)
    return plt.subplots(
        nrows, ncols, figsize=(width, panel[1] * nrows + 1.1), squeeze=False, layout="constrained", **kw
    )


def run_note(table: pd.DataFrame, experiment: str | None = None, best_of: bool = True) -> str:
    """What a figure's numbers rest on: the experiment, the goal validation error and how many
    trials each study searched (a study table's n_trials, else the trials it lists)."""
    goals = "/".join(f"{g:g}" for g in sorted(table["goal_error"].unique()))
    per_study = table["n_trials"] if "n_trials" in table else table.groupby(STUDY).size()
    trials = "/".join(str(n) for n in sorted(set(per_study.astype(int))))
    parts = [f"experiment {experiment}"] if experiment else []
    methods = [pruning(m) for m in registry.PRUNING if m in set(table["pruning"])]
    parts += [f"pruned with {', '.join(methods)}"] if methods else []
    parts += [f"goal validation error {goals}", f"{'best of ' if best_of else ''}{trials} trials per study"]
    return " · ".join(parts)


def _title(fig, title: str, note: str):
    """The title over the run's note, the note broken at its separators where it would outrun
    the figure (about 13 characters of 9 pt text per inch)."""
    width, lines = int(fig.get_figwidth() * 13), [""]
    for part in note.split(" · "):
        if lines[-1] and len(lines[-1]) + 3 + len(part) > width:
            lines.append("")
        lines[-1] += (" · " if lines[-1] else "") + part
    fig.suptitle("\n".join([title, *lines]))


def _legend(fig, handles):
    """One legend under the panels, in as many columns as fit the figure's width."""
    renderer = fig.canvas.get_renderer()
    for ncol in range(len(handles), 0, -1):
        legend = fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False)
        if ncol == 1 or legend.get_window_extent(renderer).width <= 0.95 * fig.bbox.width:
            return
        legend.remove()


def _positive(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values) & (values > 0)]


def _log2_limits(values, pad: float = 0.1) -> tuple[float, float]:
    """Exponents of a log2 axis over ``values``, padded by ``pad`` of their range (at least 0.3)
    so that markers at the ends stay inside, holding at least two whole powers of two (the
    labelled ticks). No positive finite value (nothing to show): 2^0 to 2^1."""
    exponents = np.log2(_positive(values))
    if not len(exponents):
        return 0.0, 1.0
    pad = max(pad * (exponents.max() - exponents.min()), 0.3)
    lo, hi = exponents.min() - pad, exponents.max() + pad
    if np.floor(hi) < np.ceil(lo) + 1:
        lo, hi = min(lo, np.floor(lo)), max(hi, np.ceil(hi))
    return lo, hi


def _log2_axis(ax, which: str, limits: tuple[float, float], max_labels: int = 6):
    """A log2 axis: labelled ticks at whole powers of two (every k-th when they would crowd) and
    no unlabelled gridlines."""
    lo, hi = limits
    powers = np.arange(np.ceil(lo), np.floor(hi) + 1)
    powers = powers[:: int(np.ceil(len(powers) / max_labels))]
    getattr(ax, f"set_{which}scale")("log", base=2)
    getattr(ax, f"set_{which}lim")(2.0**lo, 2.0**hi)
    axis = getattr(ax, f"{which}axis")
    axis.set_major_locator(FixedLocator(2.0**powers))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"$2^{{{round(np.log2(v))}}}$"))
    axis.set_minor_locator(NullLocator())


def _reached(table: pd.DataFrame) -> pd.DataFrame:
    return table.dropna(subset=["steps_to_result"]).sort_values("batch_size")


def _sparsity_palette(sparsities):
    colors = sns.color_palette("viridis_r", n_colors=max(len(sparsities), 2))
    return {s: colors[i] for i, s in enumerate(sorted(sparsities))}


def _method_colors() -> dict:
    """One colour per pruning method in every figure that compares methods (the dense network dark grey)."""
    colors = dict(zip(registry.PRUNING, sns.color_palette("colorblind", n_colors=len(registry.PRUNING))))
    return {registry.DENSE: (0.2, 0.2, 0.2), **colors}


def _critical_row(critical: pd.DataFrame | None, workload: str, sparsity: float, method: str | None = None):
    """The critical-batch fit of one curve (of ``method``, else of the one method ``critical``
    holds at that sparsity), or None when there is none (too few points)."""
    if critical is None or critical.empty:
        return None
    sub = critical[(critical["workload"] == workload) & np.isclose(critical["sparsity"], sparsity)]
    if method is not None:
        sub = sub[sub["pruning"] == method]
    if sub.empty or not np.isfinite(sub["b_crit"].iloc[0]) or not np.isfinite(sub["s_min"].iloc[0]):
        return None
    return sub.iloc[0]


def _steps_panel(ax, curves: dict, fits: dict, colors: dict, fitted: bool = False, normalise: bool = False) -> dict:
    """Steps-to-result against batch size on log2 axes, one curve per key of ``curves``, each
    with its critical batch size: a diamond at (B_crit, 2 S_min), where the fitted
    S_min (1 + B_crit / B) bends, and its 68% interval as a line through it. ``fitted``: also
    the fitted curve (dotted) and perfect scaling (dashed, slope -1 through the smallest batch
    size). ``normalise``: each curve divided by its steps at its smallest batch size. Returns,
    per key, a note naming a B_crit outside the batch sizes, which is not drawn."""
    curves = {key: curve for key, curve in curves.items() if len(curve)}
    if not curves:  # no study reached the goal (all diverged, ...): a log axis needs data
        ax.text(0.5, 0.5, "goal not reached", ha="center", va="center", transform=ax.transAxes)
        return {}
    batches = pd.concat([c["batch_size"] for c in curves.values()])
    steps_shown, outside = [], {}
    for key, curve in curves.items():
        batch, steps = curve["batch_size"].to_numpy(float), curve["steps_to_result"].to_numpy(float)
        scale = steps[0] if normalise else 1.0
        ax.plot(batch, steps / scale, "o-", ms=3.5, color=colors[key])
        steps_shown.append(steps / scale)
        if fitted:
            ax.plot(batch, steps[0] * batch[0] / batch, "--", lw=0.8, color="grey")
        fit = fits.get(key)
        if fit is None:
            continue
        b, lo, hi = fit["b_crit"], fit["b_crit_lo"], fit["b_crit_hi"]
        if fit["b_crit_range"] in (ABOVE, BELOW):
            outside[key] = f"B_crit {pow2(b)} {fit['b_crit_range']} range"
            continue
        if fitted:
            grid = np.geomspace(batch.min(), batch.max(), 50)
            fitted_steps = steps_model(grid, fit["s_min"], fit["b_crit"])
            ax.plot(grid, fitted_steps, ":", color="k", lw=1.0, alpha=0.8)
            steps_shown.append(fitted_steps)
        y = 2 * fit["s_min"] / scale
        ax.plot([lo, hi], [y, y], "-", lw=1.5, color=colors[key], solid_capstyle="butt", zorder=3)
        # Caps show an interval narrower than the diamond; only inside the measured batch sizes,
        # where the panel's padding leaves them room.
        ends = [end for end in (lo, hi) if batches.min() <= end <= batches.max()]
        ax.plot(ends, [y] * len(ends), "|", ms=8, mew=1.5, color=colors[key], zorder=3)
        ax.plot([b], [y], "D", ms=5, color=colors[key], mec="k", mew=0.6, zorder=4)
        steps_shown.append([y])
    _log2_axis(ax, "x", _log2_limits(batches))
    _log2_axis(ax, "y", _log2_limits(np.concatenate(steps_shown)))
    ax.set_xlabel("batch size")
    return outside


def _mark_handles(fitted: bool) -> list:
    """Legend entries of the marks every steps panel shares."""
    handles = []
    if fitted:
        handles += [
            plt.Line2D([], [], ls="--", lw=0.8, color="grey", label="perfect scaling (slope −1)"),
            plt.Line2D([], [], ls=":", color="k", label="fit S_min (1 + B_crit / B)"),
        ]
    handles.append(
        plt.Line2D([], [], marker="D", ls="-", lw=1.5, ms=5, color="grey", mec="k", mew=0.6,
                   label="critical batch size B_crit, line: its 68% interval")
    )  # fmt: skip
    return handles


def _network(table: pd.DataFrame) -> str:
    return ", ".join(sorted({network(m, d) for m, d in zip(table["model"], table["dataset"])}))


def figure1(table: pd.DataFrame, critical: pd.DataFrame | None = None, experiment: str | None = None):
    """Per workload (optimizer) a row: one panel per sparsity, all sparsities, normalised.
    With ``critical`` (the critical-batch table) each curve's B_crit is marked."""
    _style()
    workloads = ordered_workloads(table)
    sparsities = sorted(table["sparsity"].unique())
    palette = _sparsity_palette(sparsities)
    fig, axes = _figure(len(workloads), len(sparsities) + 2)
    for row, wl in zip(axes, workloads):
        sub = table[table["workload"] == wl]
        opt = optimizer(sub["optimizer"].iloc[0])
        curves = {s: _reached(sub[sub["sparsity"] == s]) for s in sparsities}
        fits = {s: _critical_row(critical, wl, s) for s in sparsities}
        for ax, s in zip(row, sparsities):
            if not (sub["sparsity"] == s).any():  # this workload was not trained at this sparsity
                ax.text(0.5, 0.5, "not in this experiment", ha="center", va="center", transform=ax.transAxes)
                ax.set_xticks([]), ax.set_yticks([])
                ax.set_title(f"{opt}, {percent(s)} sparse")
                continue
            outside = _steps_panel(ax, {s: curves[s]}, fits, palette, fitted=True)
            ax.set_title("\n".join([f"{opt}, {percent(s)} sparse", *outside.values()]))
        _steps_panel(row[-2], curves, fits, palette)
        row[-2].set_title(f"{opt}, all sparsities")
        _steps_panel(row[-1], curves, fits, palette, normalise=True)
        row[-1].set_title(f"{opt}, normalised")
        row[0].set_ylabel("steps to goal")
        row[-1].set_ylabel("relative steps")
    sparsity_handles = [
        plt.Line2D([], [], marker="o", ms=3.5, color=palette[s], label=f"{percent(s)} sparse") for s in sparsities
    ]
    _legend(fig, sparsity_handles + _mark_handles(fitted=True))
    _title(fig, f"Steps-to-result against batch size: {_network(table)}", run_note(table, experiment))
    return fig


def figure2(table: pd.DataFrame, critical: pd.DataFrame | None = None, experiment: str | None = None):
    """Optimizers compared: one panel per sparsity; with ``critical``, each curve's B_crit."""
    _style()
    sparsities = sorted(table["sparsity"].unique())
    workloads = ordered_workloads(table)
    colors = dict(zip(workloads, sns.color_palette("colorblind", n_colors=max(len(workloads), 3))))
    names = dict(zip(table["workload"], table["optimizer"]))
    fig, axes = _figure(1, len(sparsities), panel=(2.9, 2.4))
    for ax, s in zip(axes[0], sparsities):
        curves = {wl: _reached(table[(table["workload"] == wl) & (table["sparsity"] == s)]) for wl in workloads}
        outside = _steps_panel(ax, curves, {wl: _critical_row(critical, wl, s) for wl in workloads}, colors)
        ax.set_title(
            "\n".join([f"{percent(s)} sparse", *(f"{optimizer(names[wl])}: {n}" for wl, n in outside.items())])
        )
    axes[0][0].set_ylabel("steps to goal")
    handles = [plt.Line2D([], [], marker="o", ms=3.5, color=colors[wl], label=optimizer(names[wl])) for wl in workloads]
    _legend(fig, handles + _mark_handles(fitted=False))
    _title(fig, f"Optimizers compared: {_network(table)}", run_note(table, experiment))
    return fig


STATUS_STYLE = {  # Figure 4/5 of the paper: complete blue circle, incomplete grey triangle, infeasible x
    "complete": dict(marker="o", color="tab:blue"),
    "incomplete": dict(marker="^", color="grey"),
    "infeasible": dict(marker="x", color="tab:red"),
    "pruned": dict(marker=".", color="silver"),
}
BEST_STYLE = dict(marker="*", s=150, color="gold", edgecolor="k", lw=0.6, zorder=3)
METAPARAMETER_AXES = {  # column -> (axis label, transform, log axis), as each is searched
    name: (m.label, (lambda v: 1 - v) if m.scale == "one_minus_log" else (lambda v: v), m.scale != "integer")
    for name, m in registry.METAPARAMETERS.items()
}


def _padded_limits(values, log: bool, pad: float = 0.1) -> tuple[float, float]:
    """Axis limits ``pad`` of the range beyond the data on each side, so that no marker is cut."""
    values = _positive(values) if log else np.asarray(values, dtype=float)[np.isfinite(values)]
    ends = np.log10(values) if log else values
    span = max(ends.max() - ends.min(), 0.5 if log else abs(ends.max()) * 0.1 or 1.0)
    lo, hi = ends.min() - pad * span, ends.max() + pad * span
    return (10**lo, 10**hi) if log else (lo, hi)


def _log_ticks(axis, values):
    """Readable ticks on a log axis: powers of ten over wide ranges; over narrow ones 1-3-10 or
    1-2-5 steps as plain numbers (matplotlib would label crowded minor ticks instead), about
    five labels in all."""
    values = _positive(values)
    axis.set_minor_formatter(NullFormatter())
    decades = np.log10(values.max() / values.min()) if len(values) else np.inf
    if decades <= 2:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 1 else (1.0, 3.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _status_handles(shown) -> list:
    handles = [
        plt.Line2D([], [], ls="", ms=5, label=status, marker=style["marker"], color=style["color"])
        for status, style in STATUS_STYLE.items()
        if status in shown
    ]
    handles.append(plt.Line2D([], [], ls="", marker="*", ms=10, color="gold", mec="k", label="best trial"))
    return handles


def _trial_counts(trials: pd.DataFrame) -> str:
    counts = trials["status"].value_counts()
    return ", ".join(f"{counts[s]} {s}" for s in STATUS_STYLE if s in counts)


def _best_steps(trials: pd.DataFrame) -> str:
    best = trials[trials["best"]]
    return f"best: {int(best['steps_to_result'].iloc[0])} steps" if len(best) else "goal not reached"


def figure4(table: pd.DataFrame, experiment: str | None = None):
    """Every trial of chosen studies as learning rate against 1 - momentum (log axes), marked
    by status, the best trial a gold star (the paper's Figure 4). One panel per study: a row
    per (workload,) sparsity, a column per batch size; all panels share their axes."""
    _style()
    table = table.assign(one_minus_momentum=1 - table["momentum"])
    workloads = ordered_workloads(table)
    rows = [(wl, s) for wl in workloads for s in sorted(table.loc[table["workload"] == wl, "sparsity"].unique())]
    batches = sorted(table["batch_size"].unique())
    fig, axes = _figure(len(rows), len(batches), panel=(2.6, 2.5), sharex=True, sharey=True)
    for (wl, sparsity), row in zip(rows, axes):
        for ax, batch in zip(row, batches):
            trials = table[(table["workload"] == wl) & (table["sparsity"] == sparsity) & (table["batch_size"] == batch)]
            if trials.empty:  # a (sparsity, batch size) pair not chosen
                ax.set_axis_off()
                continue
            for status, style in STATUS_STYLE.items():
                sub = trials[trials["status"] == status]
                if len(sub):
                    ax.scatter(sub["learning_rate"], sub["one_minus_momentum"], s=16, lw=0.9, label=status, **style)
            best = trials[trials["best"]]  # the study's best trial, as its reduction chose it
            ax.scatter(best["learning_rate"], best["one_minus_momentum"], label="best", **BEST_STYLE)
            prefix = f"{optimizer(trials['optimizer'].iloc[0])}, " if len(workloads) > 1 else ""
            ax.set_title(
                f"{prefix}{percent(sparsity)} sparse, B = {batch}\n{_trial_counts(trials)}\n{_best_steps(trials)}",
                fontsize=FONT_PT,
            )
    ax = axes[0][0]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(_padded_limits(table["learning_rate"], log=True))
    ax.set_ylim(_padded_limits(table["one_minus_momentum"], log=True))
    _log_ticks(ax.xaxis, table["learning_rate"])
    _log_ticks(ax.yaxis, table["one_minus_momentum"])
    for ax in axes[-1]:
        ax.set_xlabel("learning rate")
        ax.tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("1 − momentum")
    _legend(fig, _status_handles(set(table["status"])))
    _title(fig, f"Every trial by learning rate and 1 − momentum: {_network(table)}", run_note(table, experiment, False))
    return fig


def figure_trials(table: pd.DataFrame, experiment: str | None = None):
    """Every trial of chosen studies: one row per study, one panel per searched metaparameter
    against the steps the trial trained (its steps-to-result when complete); best trial a star."""
    _style()
    studies = table[STUDY].drop_duplicates().sort_values(["sparsity", "batch_size"])
    columns = [c for c in METAPARAMETER_AXES if c in table and table[c].notna().any()]
    fig, axes = _figure(len(studies), len(columns), panel=(2.6, 2.3))
    ylim = _log2_limits(table["steps_trained"])
    for row, study in zip(axes, studies.itertuples(index=False)):
        trials = table[
            (table["workload"] == study.workload)
            & (table["sparsity"] == study.sparsity)
            & (table["batch_size"] == study.batch_size)
        ]
        best = trials[trials["best"]]  # the study's best trial, as its reduction chose it
        title = f"{percent(study.sparsity)} sparse, B = {study.batch_size}"
        for ax, col in zip(row, columns):
            label, transform, log = METAPARAMETER_AXES[col]
            for status, style in STATUS_STYLE.items():
                sub = trials[trials["status"] == status]
                if len(sub):
                    ax.scatter(transform(sub[col]), sub["steps_trained"], s=16, lw=0.9, label=status, **style)
            ax.scatter(transform(best[col]), best["steps_to_result"], label="best", **BEST_STYLE)
            if log:
                ax.set_xscale("log")
                _log_ticks(ax.xaxis, transform(table[col]))
            ax.set_xlim(_padded_limits(transform(table[col]), log=log))
            _log2_axis(ax, "y", ylim)
            ax.set_xlabel(label)
            ax.set_title(title, fontsize=FONT_PT)
        row[0].set_ylabel("steps trained")
        row[0].set_title(f"{title}: {_best_steps(trials)}", fontsize=FONT_PT)
    _legend(fig, _status_handles(set(table["status"])))
    _title(fig, f"Every trial by metaparameter: {_network(table)}", run_note(table, experiment, best_of=False))
    return fig


def figure_pruning(table: pd.DataFrame, critical: pd.DataFrame | None = None, experiment: str | None = None):
    """Pruning methods compared at one sparsity: per workload a panel of steps-to-result against
    batch size, the dense network's curve and each method's; with ``critical``, each curve's B_crit."""
    _style()
    workloads = ordered_workloads(table)
    methods = [m for m in registry.PRUNING if m in set(table["pruning"])]
    colors = _method_colors()
    sparsity = table["sparsity"].max()
    fig, axes = _figure(1, len(workloads), panel=(3.2, 2.8))
    for ax, wl in zip(axes[0], workloads):
        sub = table[table["workload"] == wl]
        shown = [m for m in (registry.DENSE, *methods) if (sub["pruning"] == m).any()]
        curves = {m: _reached(sub[sub["pruning"] == m]) for m in shown}
        fits = {m: _critical_row(critical, wl, 0.0 if m == registry.DENSE else sparsity, m) for m in shown}
        outside = _steps_panel(ax, curves, fits, colors)
        # Up to six curves: their B_crit outside the batch sizes named together, not one line each;
        # a method that reached the goal at no batch size has no curve, and is named.
        missing = [pruning(m) for m in shown if curves[m].empty]
        notes = [f"B_crit outside the batch sizes: {', '.join(pruning(m) for m in outside)}"] if outside else []
        if missing:
            budget = int(sub["budget_steps"].max())
            notes.append(f"goal not reached in {budget:,} steps: {', '.join(missing)}")
        wrapped = [line for note in notes for line in textwrap.wrap(note, 42)]
        ax.set_title("\n".join([optimizer(sub["optimizer"].iloc[0]), *wrapped]))
    axes[0][0].set_ylabel("steps to goal")
    handles = [
        plt.Line2D(
            [],
            [],
            marker="o",
            ms=3.5,
            color=colors[m],
            label=pruning(m) + ("" if m == registry.DENSE else f", {percent(sparsity)} sparse"),
        )
        for m in (registry.DENSE, *methods)
        if (table["pruning"] == m).any()
    ]
    _legend(fig, handles + _mark_handles(fitted=False))
    _title(
        fig, f"Pruning methods compared at {percent(sparsity)} sparsity: {_network(table)}", run_note(table, experiment)
    )
    return fig


# The drawing function of each figure of registry.FIGURES.
FIGURES = {
    "fig1": figure1,
    "fig1_mnist": figure1,
    "fig2_mnist": figure2,
    "fig3_cifar": figure1,
    "fig4_mnist": figure4,
    "fig5_cifar": figure_trials,
    "pruning_methods": figure_pruning,
}


def _save(fig, pdf, png) -> None:
    """``fig`` as PDF and PNG, each written atomically; then closed. The PNG at 200 dpi, less
    where that would make it taller than PNG_MAX_HEIGHT."""
    from .results import atomic_path

    dpi = min(200, PNG_MAX_HEIGHT / fig.get_figheight())
    for path, kw in ((pdf, {}), (png, {"dpi": dpi})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1], bbox_inches="tight", **kw)
    plt.close(fig)


def render(
    name: str, table: pd.DataFrame, pdf, png, critical: pd.DataFrame | None = None, experiment: str | None = None
) -> None:
    """Draw figure ``name`` from its table (and, for study-level figures, the critical-batch
    table: the workflow passes none to trial-level figures) into ``pdf`` and ``png``."""
    marks = {}
    if critical is not None:  # the fits of the curves this figure shows (one method per sparsity, or one sparsity)
        curves = table[["workload", "pruning", "sparsity"]].drop_duplicates()
        marks["critical"] = critical.merge(curves, on=["workload", "pruning", "sparsity"])
    _save(FIGURES[name](table, experiment=experiment, **marks), pdf, png)


def noise_scale_figure(noise: pd.DataFrame, critical: pd.DataFrame, experiment: str | None = None):
    """Per workload against sparsity: the simple noise scale B_simple at initialisation (± its
    standard error) and the critical batch size B_crit fitted to the steps-to-result curve, with
    its 68% interval; absent where a curve has fewer than three reached batch sizes, named but
    not drawn where it lies outside the batch sizes that reached the goal."""
    _style()
    cols = ["workload", "pruning", "sparsity", "b_crit", "b_crit_lo", "b_crit_hi", "b_crit_range"]
    both = noise.merge(critical.reindex(columns=cols), on=cols[:3], how="left")
    # A panel per workload and pruning method (its sparse networks beside the shared dense one).
    panels = []
    for wl in ordered_workloads(both):
        methods = [m for m in registry.PRUNING if ((both["workload"] == wl) & (both["pruning"] == m)).any()]
        panels += [(wl, m) for m in methods or [registry.DENSE]]
    ncols = min(len(panels), 4)
    nrows = -(-len(panels) // ncols)
    fig, axes = _figure(nrows, ncols, panel=(3.0, 2.6))
    for ax, (wl, method) in zip(axes.flat, panels):
        sub = both[(both["workload"] == wl) & both["pruning"].isin([registry.DENSE, method])].sort_values("sparsity")
        pct = 100 * sub["sparsity"]
        span = max(pct.max() - pct.min(), 10)
        shift = 0.03 * span  # side by side, so that the bars do not overlap
        simple = sub[sub["b_simple"] > 0]
        se = simple["b_simple_se"].fillna(0)
        ax.errorbar(100 * simple["sparsity"] - shift, simple["b_simple"], yerr=se, fmt="o-", ms=4, capsize=2,
                    color="tab:blue")  # fmt: skip
        shown = [simple["b_simple"], simple["b_simple"] + se, simple["b_simple"] - se]
        fit = sub.dropna(subset=["b_crit"])
        title = f"{network(sub['model'].iloc[0], sub['dataset'].iloc[0])}, {optimizer(sub['optimizer'].iloc[0])}"
        if len(panels) > len(set(wl for wl, _ in panels)):  # several methods: name each panel's
            title += f"\npruned with {pruning(method)}"
        if simple.empty:
            title += "\nno finite B_simple (|G|² = 0: a layer pruned whole?)"
        beyond, fit = fit[fit["b_crit_range"] != INSIDE], fit[fit["b_crit_range"] == INSIDE]
        for row in beyond.itertuples():
            title += f"\n{percent(row.sparsity)}: B_crit {pow2(row.b_crit)} {row.b_crit_range} range"
        if fit.empty and beyond.empty:
            title += "\nno B_crit fit (< 3 reached batch sizes)"
        elif not fit.empty:
            x = 100 * fit["sparsity"] + shift
            ax.vlines(x, fit["b_crit_lo"], fit["b_crit_hi"], lw=1.5, color="tab:orange")
            ax.plot([*x, *x], [*fit["b_crit_lo"], *fit["b_crit_hi"]], "_", ms=8, mew=1.5, color="tab:orange")
            ax.plot(x, fit["b_crit"], "s--", ms=4, color="tab:orange")
            shown += [fit["b_crit"], fit["b_crit_lo"], fit["b_crit_hi"]]
        _log2_axis(ax, "y", _log2_limits(pd.concat(shown)))
        ax.set_xlim(pct.min() - 0.15 * span, pct.max() + 0.15 * span)
        ax.set_xticks(pct)
        ax.set_title(title)
        ax.set_xlabel("sparsity (%)")
        ax.set_ylabel("batch size")
    for ax in axes.flat[len(panels) :]:
        ax.remove()  # an empty cell of the grid
    handles = [plt.Line2D([], [], marker="o", color="tab:blue", label="B_simple at initialisation, bar: ± 1 s.e.")]
    if both["b_crit_range"].eq(INSIDE).any():
        handles.append(
            plt.Line2D([], [], marker="s", ls="--", color="tab:orange", label="B_crit measured, line: 68% interval")
        )
    _legend(fig, handles)
    first = noise.iloc[0]
    note = f"B_simple: {int(first['networks'])} networks × {int(first['draws'])} draws per sparsity"
    _title(
        fig,
        "Gradient noise scale at initialisation and measured critical batch size",
        " · ".join(([f"experiment {experiment}"] if experiment else []) + [note]),
    )
    return fig


def render_noise_scale(noise: pd.DataFrame, critical: pd.DataFrame, pdf, png, experiment: str | None = None) -> None:
    _save(noise_scale_figure(noise, critical, experiment), pdf, png)


def critical_batch_goal_figure(critical: pd.DataFrame, experiment: str | None = None):
    """Per workload, the critical batch size B_crit (68% interval) of each sparsity's curve
    against the goal error, tighter goals to the right (McCandlish et al. 2018 predict B_crit
    grows as the goal tightens); hollow where it lies outside the batch sizes at which its
    curve reached that goal, an extrapolation. Curves with fewer than three reached batch sizes
    have no fit."""
    _style()
    fits = critical.dropna(subset=["b_crit"])
    fits = fits.assign(in_range=fits["b_crit_range"] == INSIDE)
    workloads = ordered_workloads(critical)
    title = "Critical batch size against goal error"
    subtitle = " · ".join(
        ([f"experiment {experiment}"] if experiment else []) + ["B_crit of steps(B) = S_min (1 + B_crit / B)"]
    )
    if not workloads:  # no curve reached a goal at any batch size
        fig, axes = _figure(1, 1, panel=(3.0, 2.6))
        axes.flat[0].text(0.5, 0.5, "no curve reached a goal", ha="center", va="center")
        axes.flat[0].axis("off")
        _title(fig, title, subtitle)
        return fig
    ncols = min(len(workloads), 4)
    nrows = -(-len(workloads) // ncols)
    fig, axes = _figure(nrows, ncols, panel=(3.0, 2.6))
    # One curve per pruning method and sparsity; named by sparsity alone when each has one method.
    order = [registry.DENSE, *registry.PRUNING]
    keys = sorted(set(zip(critical["sparsity"], critical["pruning"])), key=lambda k: (k[0], order.index(k[1])))
    several = len(keys) > len({s for s, _ in keys})
    if several:  # the methods' own colours, as in the pruning_methods figure
        palette = {k: _method_colors()[k[1]] for k in keys}
    else:
        palette = dict(zip(keys, sns.color_palette("viridis_r", n_colors=max(len(keys), 2))))
    names = {k: (f"{pruning(k[1])}, " if several else "sparsity ") + percent(k[0]) for k in keys}
    goals = sorted(critical["goal_error"].unique())
    for ax, wl in zip(axes.flat, workloads):
        sub = fits[fits["workload"] == wl]
        first = critical[critical["workload"] == wl].iloc[0]
        ax.set_title(f"{network(first['model'], first['dataset'])}, {optimizer(first['optimizer'])}")
        for key, curve in sub.groupby(["sparsity", "pruning"]):
            curve = curve.sort_values("goal_error")
            ax.plot(curve["goal_error"], curve["b_crit"], "-", color=palette[key])
            for inside, points in curve.groupby("in_range"):
                face = palette[key] if inside else "white"
                ax.plot(points["goal_error"], points["b_crit"], "D", ms=4, color=palette[key], mfc=face)
            ax.vlines(curve["goal_error"], curve["b_crit_lo"], curve["b_crit_hi"], lw=1.5, color=palette[key])
        if sub.empty:
            ax.text(0.5, 0.5, "no B_crit fit\n(< 3 reached batch sizes)", ha="center", va="center",
                    transform=ax.transAxes)  # fmt: skip
        else:
            _log2_axis(ax, "y", _log2_limits(pd.concat([sub["b_crit"], sub["b_crit_lo"], sub["b_crit_hi"]])))
        ax.set_xscale("log")
        span = np.log10(goals[-1] / goals[0]) if len(goals) > 1 else 0.2
        ax.set_xlim(goals[-1] * 10 ** (0.15 * span), goals[0] / 10 ** (0.15 * span))  # tighter goals right
        ax.xaxis.set_major_locator(FixedLocator(goals))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("goal validation error")
        ax.set_ylabel("critical batch size")
    for ax in axes.flat[len(workloads) :]:
        ax.remove()  # an empty cell of the grid
    handles = [plt.Line2D([], [], marker="D", color=palette[k], label=names[k]) for k in keys]
    handles.append(plt.Line2D([], [], color="grey", lw=1.5, label="68% interval of B_crit"))
    if not fits["in_range"].all():
        handles.append(
            plt.Line2D([], [], marker="D", ls="", color="grey", mfc="white", label="outside the batch sizes measured")
        )
    _legend(fig, handles)
    _title(fig, title, subtitle)
    return fig


def render_critical_batch_goal(critical: pd.DataFrame, pdf, png, experiment: str | None = None) -> None:
    _save(critical_batch_goal_figure(critical, experiment), pdf, png)
