"""Figures of the paper from the tidy steps-to-result table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from .labels import ordered_workloads, percent, pow2  # noqa: E402

OPTIMIZER_LABEL = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov"}


def _style():
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.0)
    plt.rcParams.update({"pdf.fonttype": 42, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7})


def _log2_axes(ax, ylabel="steps"):
    if not any(len(line.get_xdata()) for line in ax.lines):  # no study reached the goal (all diverged, ...)
        ax.text(0.5, 0.5, "goal not reached", ha="center", va="center", transform=ax.transAxes)
    else:  # a log axis without data cannot be drawn
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel(ylabel)


def _perfect_scaling(ax, curve: pd.DataFrame, **kw):
    """Dashed line of slope -1 through the curve's smallest batch size."""
    if len(curve) < 1:
        return
    b0, s0 = curve["batch_size"].iloc[0], curve["steps_to_result"].iloc[0]
    b = np.array([curve["batch_size"].min(), curve["batch_size"].max()], dtype=float)
    ax.plot(b, s0 * b0 / b, ls="--", lw=0.8, color=kw.pop("color", "grey"), **kw)


def _reached(table: pd.DataFrame) -> pd.DataFrame:
    return table.dropna(subset=["steps_to_result"]).sort_values("batch_size")


def _sparsity_palette(sparsities):
    colors = sns.color_palette("viridis_r", n_colors=max(len(sparsities), 2))
    return {s: colors[i] for i, s in enumerate(sorted(sparsities))}


def _critical_row(critical: pd.DataFrame | None, workload: str, sparsity: float):
    """The critical-batch fit of one curve, or None when there is none (too few points)."""
    if critical is None or critical.empty:
        return None
    sub = critical[(critical["workload"] == workload) & np.isclose(critical["sparsity"], sparsity)]
    if sub.empty or not np.isfinite(sub["b_crit"].iloc[0]) or not np.isfinite(sub["s_min"].iloc[0]):
        return None
    return sub.iloc[0]


def interval_bar(value, lo, hi):
    """Error-bar lengths below and above ``value`` for the interval [lo, hi]. A percentile
    bootstrap interval need not contain the estimate (and a curve the model fits exactly gives an
    interval of zero width, up to rounding on either side): the bar then stops at the estimate."""
    value = np.asarray(value, dtype=float)
    return [
        np.clip(value - np.asarray(lo, dtype=float), 0, None),
        np.clip(np.asarray(hi, dtype=float) - value, 0, None),
    ]


def _mark_critical(ax, fit, color, scale: float = 1.0, fitted_curve=None, band=False):
    """B_crit of one curve: a diamond at (B_crit, 2 S_min), where the fitted
    S_min (1 + B_crit / B) bends, with its 68% interval as a horizontal bar; optionally the
    fitted curve (dotted, over ``fitted_curve``'s batch sizes) and a shaded band of the interval.
    ``scale`` divides the steps (normalised panels). Marks outside the data's range are not
    drawn (the axis limits stay those of the data); a note names an off-scale B_crit."""
    if fit is None:
        return
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    b, lo, hi = fit["b_crit"], fit["b_crit_lo"], fit["b_crit_hi"]
    has_interval = np.isfinite(lo) and np.isfinite(hi)
    if fitted_curve is not None and len(fitted_curve):
        batch = np.geomspace(fitted_curve["batch_size"].min(), fitted_curve["batch_size"].max(), 50)
        ax.plot(batch, s_min_curve(batch, fit) / scale, ":", color="k", lw=1.0, alpha=0.8)
    if xlim[0] <= b <= xlim[1]:
        if band and has_interval:
            ax.axvspan(max(lo, xlim[0]), min(hi, xlim[1]), color=color, alpha=0.2, lw=0)
        xerr = interval_bar([b], [lo], [hi]) if has_interval else None
        ax.errorbar(
            [b], [2 * fit["s_min"] / scale], xerr=xerr, fmt="D", ms=4.5, color=color, mec="k", mew=0.6,
            elinewidth=1.2, capsize=2, zorder=4,
        )  # fmt: skip
    else:
        side = "above" if b > xlim[1] else "below"
        ax.text(
            0.97, 0.03, f"B_crit {pow2(b)} ({side} range)", transform=ax.transAxes, ha="right", va="bottom",
            fontsize=6, color=color,
        )  # fmt: skip
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)


def s_min_curve(batch, fit):
    return fit["s_min"] * (1 + fit["b_crit"] / np.asarray(batch, dtype=float))


def _curve_legend(fig, perfect: bool = True, extra=()):
    """A legend under the panels for the marks the panels share (the critical-batch marks only
    where some curve has them); returns the bottom margin it needs, as a fraction of the
    figure's height."""
    lines = [line for ax in fig.axes for line in ax.lines]
    handles = list(extra)
    if perfect:
        handles.append(plt.Line2D([], [], ls="--", lw=0.8, color="grey", label="perfect scaling (slope -1)"))
    if any(line.get_linestyle() == ":" for line in lines):
        handles.append(plt.Line2D([], [], ls=":", color="k", label="fit S_min (1 + B_crit / B)"))
    if any(line.get_marker() == "D" for line in lines):
        handles.append(
            plt.Line2D(
                [], [], marker="D", ls="-", ms=4.5, color="k", mfc="grey", mew=0.6,
                label="critical batch size B_crit (bar: 68% interval)",
            )
        )  # fmt: skip
    if not handles:
        return 0.0
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=7)
    return 0.3 / fig.get_figheight()


def figure1(table: pd.DataFrame, goal_note: str = "", critical: pd.DataFrame | None = None):
    """Per workload (optimizer) a row: one panel per sparsity, all sparsities, normalised.
    With ``critical`` (the critical-batch table) each curve's B_crit is marked."""
    _style()
    workloads = ordered_workloads(table)
    sparsities = sorted(table["sparsity"].unique())
    palette = _sparsity_palette(sparsities)
    ncols = len(sparsities) + 2
    fig, axes = plt.subplots(len(workloads), ncols, figsize=(2.1 * ncols, 2.0 * len(workloads) + 0.6), squeeze=False)
    for row, wl in zip(axes, workloads):
        sub = table[table["workload"] == wl]
        opt = OPTIMIZER_LABEL.get(sub["optimizer"].iloc[0], sub["optimizer"].iloc[0])
        for ax, s in zip(row, sparsities):
            curve = _reached(sub[sub["sparsity"] == s])
            ax.plot(curve["batch_size"], curve["steps_to_result"], "o-", color=palette[s], ms=3)
            _perfect_scaling(ax, curve)
            ax.set_title(f"{opt}, sparsity {percent(s)}")
            _log2_axes(ax)
            if not curve.empty:
                fit = _critical_row(critical, wl, s)
                _mark_critical(ax, fit, palette[s], fitted_curve=curve, band=True)
        all_ax, norm_ax = row[-2], row[-1]
        for s in sparsities:
            curve = _reached(sub[sub["sparsity"] == s])
            if curve.empty:
                continue
            kw = dict(color=palette[s], ms=3, label=percent(s))
            all_ax.plot(curve["batch_size"], curve["steps_to_result"], "o-", **kw)
            norm_ax.plot(curve["batch_size"], curve["steps_to_result"] / curve["steps_to_result"].iloc[0], "o-", **kw)
        all_ax.set_title(f"{opt}, all sparsities")
        norm_ax.set_title(f"{opt}, normalised")
        _log2_axes(all_ax)
        _log2_axes(norm_ax, "steps / steps at smallest B")
        for s in sparsities:
            curve = _reached(sub[sub["sparsity"] == s])
            if curve.empty:
                continue
            fit = _critical_row(critical, wl, s)
            _mark_critical(all_ax, fit, palette[s])
            _mark_critical(norm_ax, fit, palette[s], scale=curve["steps_to_result"].iloc[0])
        if all_ax.lines:
            all_ax.legend(title="sparsity", title_fontsize=7)
    bottom = _curve_legend(
        fig,
        extra=[plt.Line2D([], [], marker="o", ms=3, color="k", label="best trial of a study")],
    )  # fmt: skip
    if goal_note:
        fig.suptitle(goal_note, fontsize=9)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


def figure2(table: pd.DataFrame, goal_note: str = "", critical: pd.DataFrame | None = None):
    """Optimizers compared: one panel per sparsity; with ``critical``, each curve's B_crit."""
    _style()
    sparsities = sorted(table["sparsity"].unique())
    optimizers = ordered_workloads(table)
    colors = dict(zip(optimizers, sns.color_palette("colorblind", n_colors=max(len(optimizers), 3))))
    fig, axes = plt.subplots(1, len(sparsities), figsize=(2.4 * len(sparsities), 2.9), squeeze=False)
    for ax, s in zip(axes[0], sparsities):
        for wl in optimizers:
            curve = _reached(table[(table["workload"] == wl) & (table["sparsity"] == s)])
            if curve.empty:
                continue
            label = OPTIMIZER_LABEL.get(curve["optimizer"].iloc[0], wl)
            ax.plot(curve["batch_size"], curve["steps_to_result"], "o-", ms=3, color=colors[wl], label=label)
        ax.set_title(f"sparsity {percent(s)}")
        _log2_axes(ax)
        if ax.lines:
            ax.legend()
        for wl in optimizers:
            if not _reached(table[(table["workload"] == wl) & (table["sparsity"] == s)]).empty:
                _mark_critical(ax, _critical_row(critical, wl, s), colors[wl])
    bottom = _curve_legend(fig, perfect=False)
    if goal_note:
        fig.suptitle(goal_note, fontsize=9)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


STATUS_STYLE = {  # Figure 4/5 of the paper: complete blue circle, incomplete grey triangle, infeasible x
    "complete": dict(marker="o", color="tab:blue"),
    "incomplete": dict(marker="^", color="grey"),
    "infeasible": dict(marker="x", color="tab:red"),
    "pruned": dict(marker=".", color="silver"),
}
METAPARAMETER_AXES = {  # column -> (axis label, transform, log axis)
    "learning_rate": ("learning rate", lambda v: v, True),
    "momentum": ("1 - momentum", lambda v: 1 - v, True),
    "decay_steps": ("decay steps", lambda v: v, False),
    "end_factor": ("end learning-rate factor", lambda v: v, True),
}


def figure_trials(table: pd.DataFrame, goal_note: str = ""):
    """Every trial of chosen studies: one row per study, one panel per searched metaparameter
    against the steps the trial trained (its steps-to-result when complete); best trial a star."""
    _style()
    studies = table[["workload", "sparsity", "batch_size"]].drop_duplicates().sort_values(["sparsity", "batch_size"])
    axes_cols = [c for c in METAPARAMETER_AXES if c in table and table[c].nunique(dropna=True) > 1]
    fig, axes = plt.subplots(
        len(studies), len(axes_cols), figsize=(2.4 * len(axes_cols), 2.1 * len(studies)), squeeze=False
    )
    for row, study in zip(axes, studies.itertuples(index=False)):
        trials = table[
            (table["workload"] == study.workload)
            & (table["sparsity"] == study.sparsity)
            & (table["batch_size"] == study.batch_size)
        ]
        complete = trials[trials["status"] == "complete"]
        best = complete.sort_values(["steps_to_result", "trial"]).head(1)
        for ax, col in zip(row, axes_cols):
            label, transform, log = METAPARAMETER_AXES[col]
            for status, style in STATUS_STYLE.items():
                sub = trials[trials["status"] == status]
                ax.scatter(transform(sub[col]), sub["steps_trained"], s=14, label=status, **style)
            ax.scatter(
                transform(best[col]),
                best["steps_to_result"],
                marker="*",
                s=120,
                color="gold",
                edgecolor="k",
                label="best",
                zorder=3,
            )
            ax.set_xscale("log" if log else "linear")
            ax.set_yscale("log", base=2)
            ax.set_xlabel(label)
            ax.set_ylabel("steps trained")
            ax.set_title(f"S: {percent(study.sparsity)}, B: {study.batch_size}")
    axes[0][0].legend(fontsize=6)
    if goal_note:
        fig.suptitle(goal_note, fontsize=9)
    fig.tight_layout()
    return fig


def _best(trials: pd.DataFrame) -> pd.DataFrame:
    """The best trial: lowest steps-to-result among complete trials, ties to the lowest trial."""
    return trials[trials["status"] == "complete"].sort_values(["steps_to_result", "trial"]).head(1)


def _log_ticks(axis, values):
    """Readable ticks on a log axis: powers of ten over wide ranges; over narrow ones 1-3-10 or
    1-2-5 steps as plain numbers (matplotlib would label crowded minor ticks instead)."""
    values = values[np.isfinite(values) & (values > 0)]
    axis.set_minor_formatter(NullFormatter())
    decades = np.log10(values.max() / values.min()) if len(values) else np.inf
    if decades < 3:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 1.5 else (1.0, 3.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def figure4(table: pd.DataFrame, goal_note: str = ""):
    """Every trial of chosen studies as learning rate against 1 - momentum (log axes), marked
    by status, the best trial a gold star (the paper's Figure 4). One panel per study: a row
    per (workload,) sparsity, a column per batch size; all panels share their axes."""
    _style()
    table = table.assign(one_minus_momentum=1 - table["momentum"])
    workloads = ordered_workloads(table)
    rows = [(wl, s) for wl in workloads for s in sorted(table.loc[table["workload"] == wl, "sparsity"].unique())]
    batches = sorted(table["batch_size"].unique())
    fig, axes = plt.subplots(
        len(rows), len(batches), figsize=(2.7 * len(batches), 2.35 * len(rows) + 0.5),
        sharex=True, sharey=True, squeeze=False,
    )  # fmt: skip
    shown = set()
    for (wl, sparsity), row in zip(rows, axes):
        for ax, batch in zip(row, batches):
            trials = table[(table["workload"] == wl) & (table["sparsity"] == sparsity) & (table["batch_size"] == batch)]
            if trials.empty:  # a (sparsity, batch size) pair not chosen
                ax.set_axis_off()
                continue
            counts = []
            for status, style in STATUS_STYLE.items():
                sub = trials[trials["status"] == status]
                if sub.empty:
                    continue
                shown.add(status)
                counts.append(f"{len(sub)} {status}")
                ax.scatter(sub["learning_rate"], sub["one_minus_momentum"], s=16, lw=0.9, label=status, **style)
            best = _best(trials)
            ax.scatter(
                best["learning_rate"], best["one_minus_momentum"], marker="*", s=150, color="gold",
                edgecolor="k", lw=0.6, zorder=3, label="best",
            )  # fmt: skip
            opt = OPTIMIZER_LABEL.get(trials["optimizer"].iloc[0], wl)
            prefix = f"{opt}, " if len(workloads) > 1 else ""
            ax.set_title(f"{prefix}S: {percent(sparsity)}, B: {batch}\n{', '.join(counts)}", fontsize=7)
            ax.set_xscale("log")
            ax.set_yscale("log")
            _log_ticks(ax.xaxis, table["learning_rate"])
            _log_ticks(ax.yaxis, table["one_minus_momentum"])
    for ax in axes[-1]:
        ax.set_xlabel("learning rate")
        ax.tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("1 - momentum")
    handles = [
        plt.Line2D([], [], ls="", ms=5, label=status, **{"marker": style["marker"], "color": style["color"]})
        for status, style in STATUS_STYLE.items()
        if status in shown
    ]
    handles.append(plt.Line2D([], [], ls="", marker="*", ms=10, color="gold", mec="k", label="best trial"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
    if goal_note:
        fig.suptitle(f"every trial of each study: {goal_note}", fontsize=9)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight(), 1, 1))
    return fig


FIGURES = {
    "fig1_mnist": figure1,
    "fig2_mnist": figure2,
    "fig3_cifar": figure1,
    "fig4_mnist": figure4,
    "fig5_cifar": figure_trials,
}


def _save(fig, pdf, png) -> None:
    """``fig`` as PDF and 200-dpi PNG, each written atomically; then closed."""
    from .results import atomic_path

    for path, kw in ((pdf, {}), (png, {"dpi": 200})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1], bbox_inches="tight", **kw)
    plt.close(fig)


def render(name: str, table: pd.DataFrame, pdf, png, goal_note: str = "", critical: pd.DataFrame | None = None) -> None:
    """Draw figure ``name`` from its table (and, for study-level figures, the critical-batch
    table: the workflow passes none to trial-level figures) into ``pdf`` and ``png``."""
    marks = {} if critical is None else {"critical": critical}
    _save(FIGURES[name](table, goal_note, **marks), pdf, png)


def noise_scale_figure(noise: pd.DataFrame, critical: pd.DataFrame):
    """Per workload against sparsity: the simple noise scale B_simple at initialisation (± its
    standard error) and the critical batch size B_crit fitted to the steps-to-result curve (its
    68% interval; absent where a curve has fewer than three reached batch sizes)."""
    _style()
    cols = ["workload", "sparsity", "b_crit", "b_crit_lo", "b_crit_hi"]
    both = noise.merge(critical.reindex(columns=cols), on=["workload", "sparsity"], how="left")
    workloads = ordered_workloads(both)
    ncols = min(len(workloads), 4)
    nrows = -(-len(workloads) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.6 * nrows), squeeze=False)
    for ax, wl in zip(axes.flat, workloads):
        sub = both[both["workload"] == wl].sort_values("sparsity")
        pct = 100 * sub["sparsity"]
        shift = 0.015 * max(pct.max() - pct.min(), 10)  # side by side, so the error bars do not overlap
        simple = sub[sub["b_simple"] > 0]
        se = simple["b_simple_se"].fillna(0)
        ax.errorbar(100 * simple["sparsity"] - shift, simple["b_simple"], yerr=se, fmt="o-", ms=4, capsize=2,
                    color="tab:blue", label=r"$B_\mathrm{simple}$ at init (± s.e.)")  # fmt: skip
        shown = [simple["b_simple"], simple["b_simple"] + se, (simple["b_simple"] - se)[lambda v: v > 0]]
        fit = sub.dropna(subset=["b_crit"])
        title = f"{wl}: {sub['model'].iloc[0]}, {OPTIMIZER_LABEL.get(sub['optimizer'].iloc[0], '')}"
        if fit.empty:
            title += "\n" + r"no $B_\mathrm{crit}$ fit (< 3 reached batch sizes)"
        else:
            lo, hi = fit["b_crit_lo"].fillna(fit["b_crit"]), fit["b_crit_hi"].fillna(fit["b_crit"])
            ax.errorbar(100 * fit["sparsity"] + shift, fit["b_crit"], yerr=interval_bar(fit["b_crit"], lo, hi),
                        fmt="s--", ms=4, capsize=2, color="tab:orange", label=r"$B_\mathrm{crit}$ measured (68%)")  # fmt: skip
            shown += [fit["b_crit"], lo[lo > 0], hi]
        values = pd.concat(shown)
        if len(values):  # a log axis needs data; whole powers of two around it, bars through zero run off the bottom
            ax.set_yscale("log", base=2)
            ax.set_ylim(2.0 ** np.floor(np.log2(values.min()) - 0.5), 2.0 ** np.ceil(np.log2(values.max()) + 0.5))
        ax.set_title(title)
        ax.set_xticks(pct)
        ax.set_xlabel("sparsity (%)")
        ax.set_ylabel("batch size")
    for ax in axes.flat[len(workloads) :]:
        ax.axis("off")
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_legend_handles_labels()[0]}
    axes.flat[0].legend(handles.values(), handles.keys(), fontsize=6)
    fig.tight_layout()
    return fig


def render_noise_scale(noise: pd.DataFrame, critical: pd.DataFrame, pdf, png) -> None:
    _save(noise_scale_figure(noise, critical), pdf, png)
