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
from .analysis import ABOVE, ABOVE_RANGE, BELOW, BELOW_RANGE, INSIDE, replicate_table, steps_model  # noqa: E402
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


def _figure(nrows: int, ncols: int, panel=PANEL, legend_entries: int = 0, **kw):
    """A grid of panels under a two-line title, over a legend (of about ``legend_entries`` entries
    of 3.3 in each, whose rows get their own height rather than the panels'); constrained layout
    keeps the labels of neighbouring panels apart."""
    width = min(max(panel[0] * ncols, MIN_WIDTH), MAX_WIDTH)
    legend_rows = -(-legend_entries // int(width / 3.3))
    return plt.subplots(
        nrows,
        ncols,
        figsize=(width, panel[1] * nrows + 1.1 + 0.17 * legend_rows),
        squeeze=False,
        layout="constrained",
        **kw,
    )


def run_note(table: pd.DataFrame, experiment: str | None = None, best_of: bool = True) -> str:
    """What a figure's numbers rest on: the experiment, the goal validation error and how many
    trials each study searched (a study table's n_trials, else the trials it lists)."""
    goals = "/".join(f"{g:g}" for g in sorted(table["goal_error"].unique()))
    studies = [*STUDY, "replicate"] if "replicate" in table else STUDY
    per_study = table["n_trials"] if "n_trials" in table else table.groupby(studies).size()
    trials = "/".join(str(n) for n in sorted(set(per_study.astype(int))))
    replicates = table["replicate"].nunique() if "replicate" in table else 1
    parts = [f"experiment {experiment}"] if experiment else []
    methods = [pruning(m) for m in registry.PRUNING if m in set(table["pruning"])]
    parts += [f"pruned with {', '.join(methods)}"] if methods else []
    parts += [f"goal validation error {goals}", f"{'best of ' if best_of else ''}{trials} trials per study"]
    parts += [f"{replicates} replicates (seeds) per study"] if replicates > 1 else []
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
    labelled ticks). No positive finite value (nothing to show): about 2^0 to 2^1."""
    exponents = np.log2(_positive(values))
    if not len(exponents):
        return -0.1, 1.1
    pad = max(pad * (exponents.max() - exponents.min()), 0.3)
    lo, hi = exponents.min() - pad, exponents.max() + pad
    if np.floor(hi) < np.ceil(lo) + 1:  # past the whole powers, whose gridlines would lie on the frame
        lo, hi = min(lo, np.floor(lo) - 0.1), max(hi, np.ceil(hi) + 0.1)
    return lo, hi


def _log2_axis(ax, which: str, limits: tuple[float, float], max_labels: int = 6):
    """A log2 axis: labelled ticks at whole powers of two (every k-th when they would crowd) and
    no unlabelled gridlines."""
    lo, hi = limits
    powers = np.arange(np.ceil(lo), np.floor(hi) + 1)
    powers = powers[(powers > lo) & (powers < hi)]  # a tick at a limit draws its gridline over the frame
    powers = powers[:: int(np.ceil(len(powers) / max_labels))]
    getattr(ax, f"set_{which}scale")("log", base=2)
    getattr(ax, f"set_{which}lim")(2.0**lo, 2.0**hi)
    axis = getattr(ax, f"{which}axis")
    axis.set_major_locator(FixedLocator(2.0**powers))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"$2^{{{round(np.log2(v))}}}$"))
    axis.set_minor_locator(NullLocator())


# One colour meaning per quantity in every figure, so that a colour read in one figure means the
# same in the next: sparsity a viridis ramp by value (dense yellow-green, 90% blue-teal, 99%
# purple), optimizers warm colours that viridis lacks, pruning methods dark or muted colours of
# their own (the dense network is the 0% sparsity). What shares a
# panel with these (B_simple and the two critical batch sizes) differs by marker and line style.
OPTIMIZER_COLORS = {"sgd": "#D55E00", "momentum": "#E69F00", "nesterov": "#CC79A7", "adam": "#8C510A"}
METHOD_COLORS = {
    "snip": "#000000",
    "random": "#8C8C8C",
    "magnitude": "#DDCC77",
    "grasp": "#999933",
    "synflow": "#882255",
}
FIT_MARK = dict(marker="D", ms=5, mec="k", mew=0.6)  # B_crit of the fit, at (B_crit, 2 S_min)
PAPER_MARK = dict(marker="s", ms=8, mfc="none", mew=1.4)  # the paper's B_crit, around its point of the curve


def sparsity_color(sparsity: float) -> tuple:
    """By value, not by rank among a figure's sparsities, so that it is the same in every figure:
    spread half linearly, half by log(1 / density), which keeps 0, 50, 70, 90, 95 and 99% apart."""
    t = 0.5 * sparsity + 0.5 * min(np.log10(1 / max(1 - sparsity, 1e-9)) / 2, 1)
    return tuple(matplotlib.colormaps["viridis"](0.9 * (1 - t))[:3])


def method_color(method: str) -> tuple:
    return sparsity_color(0.0) if method == registry.DENSE else matplotlib.colors.to_rgb(METHOD_COLORS[method])


def _reached_any(rows: pd.DataFrame) -> bool:
    return bool(rows["steps_to_result"].notna().any())


def _critical_row(critical: pd.DataFrame | None, workload: str, sparsity: float, method: str | None = None):
    """The critical-batch row of one curve (of ``method``, else of the one method ``critical``
    holds at that sparsity), or None."""
    if critical is None or critical.empty:
        return None
    sub = critical[(critical["workload"] == workload) & np.isclose(critical["sparsity"], sparsity)]
    if method is not None:
        sub = sub[sub["pruning"] == method]
    return None if sub.empty else sub.iloc[0]


def _interval(ax, x, y, lo, hi, ends, color, gid, vertical=False):
    """An interval as a line through a mark, capped where its end was measured (inside ``ends``);
    an infinite end (beyond the measured range) runs to the edge of the range, uncapped. None
    when there is no interval (too few replicates)."""
    if not (np.isfinite(lo) or np.isfinite(hi)) or np.isnan(lo) or np.isnan(hi):
        return
    a, b = min(max(lo, ends[0]), ends[1]), max(min(hi, ends[1]), ends[0])
    caps = [end for end in (lo, hi) if ends[0] <= end <= ends[1]]
    xs, ys = ([x, x], [a, b]) if vertical else ([a, b], [y, y])
    ax.plot(xs, ys, "-", lw=1.5, color=color, solid_capstyle="butt", zorder=3, gid=gid)
    capped = ([x] * len(caps), caps) if vertical else (caps, [y] * len(caps))
    ax.plot(*capped, "_" if vertical else "|", ms=8, mew=1.5, color=color, zorder=3, gid=gid)


EXTERNAL = dict(ls="--", color="k", marker="x", ms=4, lw=1.0)  # another source's curve (batch_science.read)


def _steps_panel(
    ax, curves: dict, fits: dict, colors: dict, coverage: float, fitted=False, normalise=False, external=None
) -> dict:
    """Steps-to-result against batch size on log2 axes, one curve per key of ``curves`` (its
    study rows, every replicate): each replicate's points faint, the median over replicates
    joined, a bar through each median its interval; and both critical batch sizes with their
    intervals as lines: the paper's (end of perfect scaling) a square around its point of the
    median curve, the fit's a diamond at (B_crit, 2 S_min), where S_min (1 + B_crit / B) bends.
    ``fitted``: also the fitted curve (dotted) and perfect scaling (dashed, slope -1 through the
    smallest batch size). ``normalise``: each curve divided by its median steps at its smallest
    batch size. Returns, per key, notes naming the critical batch sizes outside the batch sizes
    (not drawn). ``external``: rows of other sources' curves (a ``source`` column), each drawn
    as a line of its own style (EXTERNAL), on the same axes."""
    shown, bars, marks, notes = [], [], [], {}
    batches = pd.concat([rows.loc[rows["steps_to_result"].notna(), "batch_size"] for rows in curves.values()])
    if external is not None:
        for source, rows in external.dropna(subset=["steps_to_result"]).groupby("source"):
            rows = rows.sort_values("batch_size")
            ax.plot(rows["batch_size"], rows["steps_to_result"], zorder=2, gid=f"external {source}", **EXTERNAL)
            shown.append(rows["steps_to_result"])
            batches = pd.concat([batches, rows["batch_size"]])
    for key, rows in curves.items():
        points = rows.dropna(subset=["steps_to_result"]).sort_values("batch_size")
        if points.empty:
            continue
        color, summary = colors[key], replicate_table(rows, coverage).sort_values("batch_size")
        median = summary.dropna(subset=["steps_median"])
        scale = (
            (median["steps_median"].iloc[0] if len(median) else points["steps_to_result"].iloc[0]) if normalise else 1
        )
        ax.plot(points["batch_size"], points["steps_to_result"] / scale, "o", ms=3, mew=0, alpha=0.35, color=color,
                zorder=1, gid="replicate")  # fmt: skip
        batch, steps = median["batch_size"].to_numpy(float), median["steps_median"].to_numpy(float) / scale
        ax.plot(batch, steps, "o-", ms=3.5, color=color, zorder=2, gid="median")
        spread = summary[np.isfinite(summary["steps_lo"])]  # an interval needs enough replicates
        bars.append((spread["batch_size"], spread["steps_lo"] / scale, spread["steps_hi"] / scale, color))
        shown += [points["steps_to_result"] / scale, steps, bars[-1][1], bars[-1][2][np.isfinite(bars[-1][2])]]
        if fitted and len(batch):
            ax.plot(batch, steps[0] * batch[0] / batch, "--", lw=0.8, color="grey")
        fit, notes[key] = fits.get(key), []
        if fit is None:
            continue
        ends = (batch.min(), batch.max()) if len(batch) else (np.nan, np.nan)
        if fit["perfect_scaling_end"] in (BELOW_RANGE, ABOVE_RANGE):
            notes[key].append(f"B_crit (paper) {fit['perfect_scaling_end'].replace('_', ' ')}")
        at = steps[batch == fit["b_crit_paper"]]
        if len(at):
            marks.append((fit["b_crit_paper"], at[0], fit["b_crit_paper_lo"], fit["b_crit_paper_hi"], ends, color,
                          "b_crit_paper", PAPER_MARK | dict(mec=color)))  # fmt: skip
        if fit["b_crit_fit_range"] in (ABOVE, BELOW):
            notes[key].append(f"B_crit (fit) {pow2(fit['b_crit_fit'])} {fit['b_crit_fit_range']} range")
        elif np.isfinite(fit["b_crit_fit"]) and np.isfinite(fit["s_min"]):
            if fitted:
                grid = np.geomspace(batch.min(), batch.max(), 50)
                shown.append(steps_model(grid, fit["s_min"], fit["b_crit_fit"]) / scale)
                ax.plot(grid, shown[-1], ":", color="k", lw=1.0, alpha=0.8)
            y = 2 * fit["s_min"] / scale
            marks.append((fit["b_crit_fit"], y, fit["b_crit_fit_lo"], fit["b_crit_fit_hi"], ends, color, "b_crit_fit",
                          FIT_MARK | dict(color=color)))  # fmt: skip
            shown.append([y])
    _log2_axis(ax, "x", _log2_limits(batches))
    ylim = _log2_limits(np.concatenate([np.asarray(s, float) for s in shown]))
    _log2_axis(ax, "y", ylim)
    for batch, lo, hi, color in bars:  # a replicate that missed the goal: the bar runs off the top
        ax.vlines(batch, lo, np.minimum(hi, 2 ** ylim[1]), lw=1.0, color=color, zorder=2, gid="steps interval")
    for b, y, lo, hi, ends, color, gid, style in marks:
        _interval(ax, b, y, lo, hi, ends, color, f"{gid} interval")
        ax.plot([b], [y], ls="", zorder=4, gid=gid, **style)
    ax.set_xlabel("batch size")
    return {key: note for key, note in notes.items() if note}


def _mark_handles(table: pd.DataFrame, coverage: float, fitted: bool) -> list:
    """Legend entries of the marks every steps panel shares."""
    interval = f"line: its interval (≥ {coverage:.0%})"
    handles = []
    replicates = table["replicate"].nunique()
    if replicates > 1:
        handles += [
            plt.Line2D([], [], marker="o", ms=3.5, color="grey",
                       label=f"median of {replicates} replicates, bar: its interval (≥ {coverage:.0%})"),
            plt.Line2D([], [], marker="o", ls="", ms=3, mew=0, alpha=0.35, color="grey", label="each replicate"),
        ]  # fmt: skip
    if fitted:
        handles += [
            plt.Line2D([], [], ls="--", lw=0.8, color="grey", label="perfect scaling (slope −1)"),
            plt.Line2D([], [], ls=":", color="k", label="fit S_min (1 + B_crit / B)"),
        ]
    handles += [
        plt.Line2D([], [], ls="-", lw=1.5, color="grey", label=f"B_crit (paper): end of perfect scaling, {interval}",
                   **PAPER_MARK | dict(mec="grey")),
        plt.Line2D([], [], ls="-", lw=1.5, color="grey", label=f"B_crit (fit) at (B_crit, 2 S_min), {interval}",
                   **FIT_MARK),
    ]  # fmt: skip
    return handles


def _network(table: pd.DataFrame) -> str:
    return ", ".join(sorted({network(m, d) for m, d in zip(table["model"], table["dataset"])}))


def _nothing(title: str, note: str, why: str):
    """A figure with nothing to draw: its title and why, no empty axes."""
    fig = plt.figure(figsize=(MIN_WIDTH, 1.6), layout="constrained")
    fig.text(0.5, 0.3, why, ha="center", va="center")
    _title(fig, title, note)
    return fig


def _drop_unused(axes, used) -> None:
    """Remove the cells of a grid left without a panel: no empty frame stands in for one."""
    for ax in axes.flat[used:]:
        ax.remove()


def figure1(table: pd.DataFrame, critical=None, experiment=None, coverage: float = 0.68, external=None):
    """Per workload (optimizer) a row: one panel per sparsity it reached the goal at; with two or
    more, then all of them together, and normalised. With ``critical`` (the critical-batch
    table) each curve's critical batch sizes are marked. ``external``: other sources' dense
    curves (batch_science.read rows), drawn in every unnormalised panel of their workload, one
    legend entry per source."""
    _style()
    title = f"Steps-to-result against batch size: {_network(table)}"
    if not _reached_any(table):
        return _nothing(title, run_note(table, experiment), "no study reached the goal")
    workloads = ordered_workloads(table)
    sparsities = sorted(table["sparsity"].unique())
    palette = {s: sparsity_color(s) for s in sparsities}
    # The combined panels repeat the one curve of a single sparsity: only with two or more.
    handles = [
        plt.Line2D([], [], marker="o", ms=3.5, color=palette[s], label=f"{percent(s)} sparse") for s in sparsities
    ] + _mark_handles(table, coverage, fitted=True)
    if external is not None:
        external = external[external["workload"].isin(workloads)]
        handles += [plt.Line2D([], [], label=f"{s} (dense)", **EXTERNAL) for s in sorted(set(external["source"]))]
    fig, axes = _figure(len(workloads), len(sparsities) + 2 * (len(sparsities) > 1), legend_entries=len(handles))
    for row, wl in zip(axes, workloads):
        sub = table[table["workload"] == wl]
        theirs = None if external is None else external[external["workload"] == wl]
        opt = optimizer(sub["optimizer"].iloc[0])
        curves = {s: sub[sub["sparsity"] == s] for s in sparsities if _reached_any(sub[sub["sparsity"] == s])}
        fits = {s: _critical_row(critical, wl, s) for s in curves}
        for ax, s in zip(row, sparsities):
            if s not in curves:  # not trained, or never reached the goal, at this sparsity
                ax.remove()
                continue
            outside = _steps_panel(ax, {s: curves[s]}, fits, palette, coverage, fitted=True, external=theirs)
            ax.set_title("\n".join([f"{opt}, {percent(s)} sparse", *outside.get(s, [])]))
        if len(sparsities) > 1:
            if len(curves) > 1:
                _steps_panel(row[-2], curves, fits, palette, coverage, external=theirs)
                row[-2].set_title(f"{opt}, all sparsities")
                _steps_panel(row[-1], curves, fits, palette, coverage, normalise=True)
                row[-1].set_title(f"{opt}, normalised")
                row[-1].set_ylabel("relative steps")
            else:  # one curve: the panels would repeat its own
                row[-2].remove(), row[-1].remove()
        next(ax for ax in row if ax in fig.axes).set_ylabel("steps to goal")
    _legend(fig, handles)
    _title(fig, title, run_note(table, experiment))
    return fig


def figure2(table: pd.DataFrame, critical=None, experiment=None, coverage: float = 0.68):
    """Optimizers compared: one panel per sparsity some optimizer reached the goal at; with
    ``critical``, each curve's critical batch sizes."""
    _style()
    title = f"Optimizers compared: {_network(table)}"
    if not _reached_any(table):
        return _nothing(title, run_note(table, experiment), "no study reached the goal")
    sparsities = [s for s in sorted(table["sparsity"].unique()) if _reached_any(table[table["sparsity"] == s])]
    workloads = ordered_workloads(table)
    names = dict(zip(table["workload"], table["optimizer"]))
    colors = {wl: OPTIMIZER_COLORS[names[wl]] for wl in workloads}
    handles = [plt.Line2D([], [], marker="o", ms=3.5, color=colors[wl], label=optimizer(names[wl])) for wl in workloads]
    handles += _mark_handles(table, coverage, fitted=False)
    fig, axes = _figure(1, len(sparsities), panel=(2.9, 2.4), legend_entries=len(handles))
    for ax, s in zip(axes[0], sparsities):
        curves = {wl: table[(table["workload"] == wl) & (table["sparsity"] == s)] for wl in workloads}
        fits = {wl: _critical_row(critical, wl, s) for wl in workloads}
        outside = _steps_panel(ax, curves, fits, colors, coverage)
        notes = [f"{optimizer(names[wl])}: {note}" for wl, ns in outside.items() for note in ns]
        ax.set_title("\n".join([f"{percent(s)} sparse", *(line for n in notes for line in textwrap.wrap(n, 36))]))
    axes[0][0].set_ylabel("steps to goal")
    _legend(fig, handles)
    _title(fig, title, run_note(table, experiment))
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


def figure_pruning(table: pd.DataFrame, critical=None, experiment=None, coverage: float = 0.68):
    """Pruning methods compared at one sparsity: per workload that reached the goal a panel of
    steps-to-result against batch size, the dense network's curve and each method's; with
    ``critical``, each curve's critical batch sizes."""
    _style()
    sparsity = table["sparsity"].max()
    title = f"Pruning methods compared at {percent(sparsity)} sparsity: {_network(table)}"
    if not _reached_any(table):
        return _nothing(title, run_note(table, experiment), "no study reached the goal")
    workloads = [wl for wl in ordered_workloads(table) if _reached_any(table[table["workload"] == wl])]
    shown = [m for m in (registry.DENSE, *registry.PRUNING) if (table["pruning"] == m).any()]
    colors = {m: method_color(m) for m in shown}
    handles = [
        plt.Line2D([], [], marker="o", ms=3.5, color=colors[m],
                   label=pruning(m) + ("" if m == registry.DENSE else f", {percent(sparsity)} sparse"))
        for m in shown
    ] + _mark_handles(table, coverage, fitted=False)  # fmt: skip
    fig, axes = _figure(1, len(workloads), panel=(3.2, 2.8), legend_entries=len(handles))
    for ax, wl in zip(axes[0], workloads):
        sub = table[table["workload"] == wl]
        curves = {m: sub[sub["pruning"] == m] for m in shown if (sub["pruning"] == m).any()}
        fits = {m: _critical_row(critical, wl, 0.0 if m == registry.DENSE else sparsity, m) for m in curves}
        outside = _steps_panel(ax, curves, fits, colors, coverage)
        # Up to six curves: their critical batch sizes outside the batch sizes named together, not
        # one line each; a method that reached the goal at no batch size has no curve, and is named.
        missing = [pruning(m) for m, rows in curves.items() if not _reached_any(rows)]
        notes = [f"B_crit outside the batch sizes: {', '.join(pruning(m) for m in outside)}"] if outside else []
        if missing:
            notes.append(f"goal not reached in {int(sub['budget_steps'].max()):,} steps: {', '.join(missing)}")
        wrapped = [line for note in notes for line in textwrap.wrap(note, 42)]
        ax.set_title("\n".join([optimizer(sub["optimizer"].iloc[0]), *wrapped]))
    axes[0][0].set_ylabel("steps to goal")
    _legend(fig, handles)
    _title(fig, title, run_note(table, experiment))
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
    name: str, table: pd.DataFrame, pdf, png, critical=None, experiment=None, coverage: float = 0.68, external=None
) -> None:
    """Draw figure ``name`` from its table (and, for study-level figures, the critical-batch
    table: the workflow passes none to trial-level figures) into ``pdf`` and ``png``; Figure 1
    also other sources' curves (``external``)."""
    marks = {"external": external} if external is not None and FIGURES[name] is figure1 else {}
    if critical is not None:  # the rows of the curves this figure shows (one method per sparsity, or one sparsity)
        curves = table[["workload", "pruning", "sparsity"]].drop_duplicates()
        marks.update(critical=critical.merge(curves, on=["workload", "pruning", "sparsity"]), coverage=coverage)
    _save(FIGURES[name](table, experiment=experiment, **marks), pdf, png)


def _as_value(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """``rows`` with ``column`` and its interval as value, lo, hi."""
    return rows.rename(columns={column: "value", f"{column}_lo": "lo", f"{column}_hi": "hi"})


# The quantities of the noise-scale and critical-batch figures: (column, legend name, marker, line style).
B_SIMPLE = ("b_simple", "B_simple at initialisation", "o", "-")
B_FIT = ("b_crit_fit", "B_crit (fit)", "D", "--")
B_PAPER = ("b_crit_paper", "B_crit (paper: end of perfect scaling)", "s", ":")


def _quantity_handle(quantity, label):
    _, _, marker, ls = quantity
    return plt.Line2D([], [], marker=marker, ls=ls, ms=5, color="dimgrey", label=label)


def noise_scale_figure(noise: pd.DataFrame, critical: pd.DataFrame, experiment=None, coverage: float = 0.68):
    """Per workload against sparsity: the simple noise scale B_simple at initialisation (± its
    standard error) and both critical batch sizes of the steps-to-result curves with their
    intervals, each point in its sparsity's colour, the quantities told apart by marker and line;
    a critical batch size outside the batch sizes that reached the goal is named, not drawn."""
    _style()
    cols = ["workload", "pruning", "sparsity", "b_crit_fit", "b_crit_fit_lo", "b_crit_fit_hi", "b_crit_fit_range",
            "b_crit_paper", "b_crit_paper_lo", "b_crit_paper_hi", "perfect_scaling_end", "batch_min", "batch_max"]  # fmt: skip
    both = noise.merge(critical.reindex(columns=cols), on=cols[:3], how="left")
    # A panel per workload and pruning method (its sparse networks beside the shared dense one).
    panels = []
    for wl in ordered_workloads(both):
        methods = [m for m in registry.PRUNING if ((both["workload"] == wl) & (both["pruning"] == m)).any()]
        panels += [(wl, m) for m in methods or [registry.DENSE]]
    ncols = min(len(panels), 4)
    fig, axes = _figure(-(-len(panels) // ncols), ncols, panel=(3.0, 2.6))
    drawn = set()
    for ax, (wl, method) in zip(axes.flat, panels):
        sub = both[(both["workload"] == wl) & both["pruning"].isin([registry.DENSE, method])].sort_values("sparsity")
        pct = 100 * sub["sparsity"]
        span = max(pct.max() - pct.min(), 10)
        title = [f"{network(sub['model'].iloc[0], sub['dataset'].iloc[0])}, {optimizer(sub['optimizer'].iloc[0])}"]
        if len(panels) > len({wl for wl, _ in panels}):  # several methods: name each panel's
            title.append(f"pruned with {pruning(method)}")
        simple = sub[sub["b_simple"] > 0].assign(lo=lambda d: d["b_simple"] - d["b_simple_se"].fillna(0),
                                                 hi=lambda d: d["b_simple"] + d["b_simple_se"].fillna(0))  # fmt: skip
        if simple.empty:
            title.append("no finite B_simple (|G|² = 0: a layer pruned whole?)")
        for row in sub[sub["b_crit_fit_range"].isin([ABOVE, BELOW])].itertuples():
            title.append(f"{percent(row.sparsity)}: B_crit (fit) {pow2(row.b_crit_fit)} {row.b_crit_fit_range} range")
        fit = _as_value(sub[sub["b_crit_fit_range"] == INSIDE], "b_crit_fit")
        paper = _as_value(sub.dropna(subset=["b_crit_paper"]), "b_crit_paper")
        if fit.empty and paper.empty and not sub["b_crit_fit_range"].isin([ABOVE, BELOW]).any():
            title.append("no critical batch size (no reached doubling)")
        series = [(B_SIMPLE, simple.rename(columns={"b_simple": "value"}), -1), (B_FIT, fit, 0), (B_PAPER, paper, 1)]
        shown = [s[1][c] for s in series for c in ("value", "lo", "hi") if c in s[1]]
        limits = _log2_limits(pd.concat([*shown, pd.Series(dtype=float)]))
        for quantity, points, side in series:
            if points.empty:
                continue
            drawn.add(quantity)
            x = 100 * points["sparsity"] + 0.04 * span * side  # side by side, so that the bars do not overlap
            ax.plot(x, points["value"], ls=quantity[3], color="dimgrey", lw=1.0, zorder=1)
            for xi, row in zip(x, points.itertuples()):
                color = sparsity_color(row.sparsity)
                # The paper's interval may end beyond the batch sizes measured (infinite): up to them.
                ends = (row.batch_min, row.batch_max) if quantity is B_PAPER else (0, np.inf)
                _interval(ax, xi, row.value, row.lo, row.hi, ends, color, f"{quantity[0]} interval", vertical=True)
                ax.plot([xi], [row.value], ls="", marker=quantity[2], ms=5, color=color, mec="k", mew=0.5, zorder=4,
                        gid=quantity[0])  # fmt: skip
        _log2_axis(ax, "y", limits)
        ax.set_xlim(pct.min() - 0.15 * span, pct.max() + 0.15 * span)
        ax.set_xticks(pct)
        ax.set_title("\n".join(title))
        ax.set_xlabel("sparsity (%)")
        ax.set_ylabel("batch size")
    _drop_unused(axes, len(panels))
    interval = f"bar: its interval (≥ {coverage:.0%})"
    labels = {B_SIMPLE: "B_simple at initialisation, bar: ± 1 s.e.", B_FIT: f"B_crit (fit), {interval}",
              B_PAPER: f"B_crit (paper: end of perfect scaling), {interval}"}  # fmt: skip
    _legend(fig, [_quantity_handle(q, labels[q]) for q in (B_SIMPLE, B_FIT, B_PAPER) if q in drawn])
    first = noise.iloc[0]
    note = f"B_simple: {int(first['networks'])} networks × {int(first['draws'])} draws per sparsity"
    _title(
        fig,
        "Gradient noise scale at initialisation and measured critical batch size",
        " · ".join(([f"experiment {experiment}"] if experiment else []) + [note]),
    )
    return fig


def render_noise_scale(noise, critical, pdf, png, experiment=None, coverage: float = 0.68) -> None:
    _save(noise_scale_figure(noise, critical, experiment, coverage), pdf, png)


def critical_batch_goal_figure(critical: pd.DataFrame, experiment=None, coverage: float = 0.68):
    """Per workload, both critical batch sizes (with their intervals) of each curve against the
    measured goal errors, evenly spaced in increasing order (McCandlish et al. 2018 predict B_crit
    grows as the goal tightens, to the left); the fit's hollow where it lies outside the batch
    sizes at which its curve reached that goal, an extrapolation. Each panel's legend names its
    own curves."""
    _style()
    title = "Critical batch size against goal error"
    interval = f"bar: its interval (≥ {coverage:.0%})"
    subtitle = " · ".join(([f"experiment {experiment}"] if experiment else []) + [
        "B_crit (paper): the last batch size before a doubling saves < 40% of the steps",
        "B_crit (fit): of steps(B) = S_min (1 + B_crit / B)"])  # fmt: skip
    has_fit = critical["b_crit_fit"].notna()
    marked = critical[has_fit | critical["b_crit_paper"].notna()]
    workloads = ordered_workloads(marked)
    if not workloads:  # no curve has a critical batch size at any goal
        return _nothing(title, subtitle, "no curve has a critical batch size")
    ncols = min(len(workloads), 4)
    curves = marked.groupby("workload")[["sparsity", "pruning"]].value_counts().groupby("workload").size().max()
    # One curve per pruning method and sparsity, coloured by method where an experiment compares
    # methods (named by both) and by sparsity otherwise (named by it alone).
    several = critical["pruning"].nunique() > 1 + (registry.DENSE in set(critical["pruning"]))
    legend_columns = 1 if several else 2  # "SynFlow, 90% sparse" is half a panel wide
    # Each panel's own legend under it, in height of its own.
    rows = -(-curves // legend_columns)
    fig, axes = _figure(-(-len(workloads) // ncols), ncols, panel=(3.0, 2.6 + 0.17 * rows), legend_entries=3)
    goals = sorted(critical["goal_error"].unique())
    order = [registry.DENSE, *registry.PRUNING]
    for ax, wl in zip(axes.flat, workloads):
        sub = marked[marked["workload"] == wl]
        keys = sorted(set(zip(sub["sparsity"], sub["pruning"])), key=lambda k: (k[0], order.index(k[1])))
        first = sub.iloc[0]
        ax.set_title(f"{network(first['model'], first['dataset'])}, {optimizer(first['optimizer'])}")
        values, handles = [], []
        slots = len(keys) * 2  # each curve's two definitions side by side at a goal
        for i, key in enumerate(keys):
            color = method_color(key[1]) if several else sparsity_color(key[0])
            curve = sub[(sub["sparsity"] == key[0]) & (sub["pruning"] == key[1])]
            for j, quantity in enumerate((B_FIT, B_PAPER)):
                points = _as_value(curve.dropna(subset=[quantity[0]]), quantity[0])
                x = np.array([goals.index(g) for g in points["goal_error"]]) + 0.6 * ((2 * i + j + 0.5) / slots - 0.5)
                ax.plot(x, points["value"], ls=quantity[3], color=color, lw=1.0)
                for xi, row in zip(x, points.itertuples()):
                    hollow = quantity is B_FIT and row.b_crit_fit_range != INSIDE
                    # An extrapolation's interval would only stretch the axis over batch sizes not measured.
                    bar = (np.nan, np.nan) if hollow else (row.lo, row.hi)
                    values.append((xi, row.value, *bar, color, f"{quantity[0]} interval"))
                    ax.plot([xi], [row.value], ls="", marker=quantity[2], ms=5, color=color,
                            mfc="white" if hollow else color, mec=color, mew=1.2, zorder=4, gid=quantity[0])  # fmt: skip
            name = (f"{pruning(key[1])}, " if several else "") + f"{percent(key[0])} sparse"
            handles.append(plt.Line2D([], [], ls="-", lw=4, color=color, label=name))
        finite = [v for _, y, lo, hi, *_ in values for v in (y, lo, hi) if np.isfinite(v)]
        limits = _log2_limits(finite)
        for xi, _, lo, hi, color, gid in values:  # an infinite end: beyond the measured batch sizes
            _interval(ax, xi, None, lo, hi, (2 ** limits[0], 2 ** limits[1]), color, gid, vertical=True)
        _log2_axis(ax, "y", limits)
        ax.set_xlim(-0.5, len(goals) - 0.5)
        ax.set_xticks(range(len(goals)), [f"{g:g}" for g in goals])
        ax.xaxis.grid(False)  # categories: a gridline would only cross the bars
        ax.set_xlabel("goal validation error")
        ax.set_ylabel("critical batch size")
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=legend_columns, frameon=False)
    _drop_unused(axes, len(workloads))
    handles = [_quantity_handle(B_FIT, f"B_crit (fit), {interval}"),
               _quantity_handle(B_PAPER, f"B_crit (paper), {interval}")]  # fmt: skip
    if (marked["b_crit_fit_range"].isin([ABOVE, BELOW])).any():
        handles.append(plt.Line2D([], [], marker="D", ls="", color="dimgrey", mfc="white",
                                  label="B_crit (fit) outside the batch sizes measured"))  # fmt: skip
    _legend(fig, handles)
    _title(fig, title, subtitle)
    return fig


def render_critical_batch_goal(critical: pd.DataFrame, pdf, png, experiment=None, coverage: float = 0.68) -> None:
    _save(critical_batch_goal_figure(critical, experiment, coverage), pdf, png)
