"""Figures of the paper from the tidy steps-to-result table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

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


def _label(s):
    return f"{100 * s:g}%"


def figure1(table: pd.DataFrame, goal_note: str = ""):
    """Per workload (optimizer) a row: one panel per sparsity, all sparsities, normalised."""
    _style()
    workloads = list(dict.fromkeys(table["workload"]))
    sparsities = sorted(table["sparsity"].unique())
    palette = _sparsity_palette(sparsities)
    ncols = len(sparsities) + 2
    fig, axes = plt.subplots(len(workloads), ncols, figsize=(2.1 * ncols, 2.0 * len(workloads)), squeeze=False)
    for row, wl in zip(axes, workloads):
        sub = table[table["workload"] == wl]
        opt = OPTIMIZER_LABEL.get(sub["optimizer"].iloc[0], sub["optimizer"].iloc[0])
        for ax, s in zip(row, sparsities):
            curve = _reached(sub[sub["sparsity"] == s])
            ax.plot(curve["batch_size"], curve["steps_to_result"], "o-", color=palette[s], ms=3)
            _perfect_scaling(ax, curve)
            ax.set_title(f"{opt}, sparsity {_label(s)}")
            _log2_axes(ax)
        all_ax, norm_ax = row[-2], row[-1]
        for s in sparsities:
            curve = _reached(sub[sub["sparsity"] == s])
            if curve.empty:
                continue
            kw = dict(color=palette[s], ms=3, label=_label(s))
            all_ax.plot(curve["batch_size"], curve["steps_to_result"], "o-", **kw)
            norm_ax.plot(curve["batch_size"], curve["steps_to_result"] / curve["steps_to_result"].iloc[0], "o-", **kw)
        all_ax.set_title(f"{opt}, all sparsities")
        norm_ax.set_title(f"{opt}, normalised")
        _log2_axes(all_ax)
        _log2_axes(norm_ax, "steps / steps at smallest batch")
        all_ax.legend(title="sparsity", title_fontsize=7)
    if goal_note:
        fig.suptitle(goal_note, fontsize=9)
    fig.tight_layout()
    return fig


def figure2(table: pd.DataFrame, goal_note: str = ""):
    """Optimizers compared: one panel per sparsity."""
    _style()
    sparsities = sorted(table["sparsity"].unique())
    optimizers = list(dict.fromkeys(table["workload"]))
    colors = dict(zip(optimizers, sns.color_palette("colorblind", n_colors=max(len(optimizers), 3))))
    fig, axes = plt.subplots(1, len(sparsities), figsize=(2.4 * len(sparsities), 2.3), squeeze=False)
    for ax, s in zip(axes[0], sparsities):
        for wl in optimizers:
            curve = _reached(table[(table["workload"] == wl) & (table["sparsity"] == s)])
            if curve.empty:
                continue
            label = OPTIMIZER_LABEL.get(curve["optimizer"].iloc[0], wl)
            ax.plot(curve["batch_size"], curve["steps_to_result"], "o-", ms=3, color=colors[wl], label=label)
        ax.set_title(f"sparsity {_label(s)}")
        _log2_axes(ax)
        ax.legend()
    if goal_note:
        fig.suptitle(goal_note, fontsize=9)
    fig.tight_layout()
    return fig


FIGURES = {"fig1_mnist": figure1, "fig2_mnist": figure2}


def render(name: str, table: pd.DataFrame, pdf, png, goal_note: str = "") -> None:
    from .results import atomic_path

    fig = FIGURES[name](table, goal_note)
    for path, kw in ((pdf, {}), (png, {"dpi": 200})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1], bbox_inches="tight", **kw)
    plt.close(fig)
