"""Beyond the paper: critical batch size from steps-to-result curves (McCandlish et al. 2018)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

KEYS = [
    "workload",
    "dataset",
    "model",
    "optimizer",
    "pruning",
    "sparsity",
    "goal_error",
]  # a curve: one workload, pruning method, sparsity and goal
PAPER_GOAL = {"mnist": 0.02, "cifar10": 0.4}


def headline_goals(studies: pd.DataFrame) -> dict[str, float]:
    """Per workload, the goal error its results are compared with the paper's at: the paper's
    goal for its dataset where the workload measured it, else its tightest goal."""
    goals = {}
    for (workload, dataset), rows in studies.groupby(["workload", "dataset"]):
        measured = sorted(rows["goal_error"].unique())
        paper = PAPER_GOAL.get(dataset)
        goals[workload] = paper if any(np.isclose(measured, paper or -1)) else measured[0]
    return goals


def at_goals(table: pd.DataFrame, goals: dict[str, float]) -> pd.DataFrame:
    """The rows of ``table`` at each workload's goal error in ``goals``."""
    keep = [bool(np.isclose(g, goals.get(wl, np.nan))) for wl, g in zip(table["workload"], table["goal_error"])]
    return table[np.array(keep, dtype=bool)].reset_index(drop=True)


def steps_model(batch, s_min, b_crit):
    """steps(B) = S_min (1 + B_crit / B)."""
    return s_min * (1 + b_crit / np.asarray(batch, dtype=float))


def _fit_log(batch, steps):
    """Least squares in log steps (the curves span decades), positive parameters via logs."""
    log_b, log_s = np.log(batch), np.log(steps)

    def residuals(theta):
        return np.log1p(np.exp(theta[1] - log_b)) + theta[0] - log_s

    start = np.array([log_s.min(), np.log(np.median(batch))])
    return np.exp(least_squares(residuals, start).x)


def fit_critical_batch(batch, steps, n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """S_min and B_crit with a 68% interval from a residual bootstrap (resampled log residuals)."""
    batch, steps = np.asarray(batch, float), np.asarray(steps, float)
    s_min, b_crit = _fit_log(batch, steps)
    fitted = np.log(steps_model(batch, s_min, b_crit))
    resid = np.log(steps) - fitted
    rng = np.random.default_rng(seed)
    boot = np.array(
        [_fit_log(batch, np.exp(fitted + rng.choice(resid, len(resid)))) for _ in range(n_bootstrap)]
    ).reshape(-1, 2)
    lo, hi = (np.percentile(boot, q, axis=0) if len(boot) else (np.nan, np.nan) for q in (16, 84))
    return {
        "s_min": s_min,
        "b_crit": b_crit,
        "b_crit_lo": lo[1],
        "b_crit_hi": hi[1],
        "s_min_lo": lo[0],
        "s_min_hi": hi[0],
    }


# Where perfect scaling (each doubling of the batch size saving at least min_saving of the steps)
# ends, as read off a curve: the column perfect_scaling_end of critical_batch.csv.
OBSERVED = "observed"  # within the measured batch sizes, at end_of_perfect_scaling
BELOW_RANGE = "below_range"  # the first measured doubling already saves too little: not observed
ABOVE_RANGE = "above_range"  # every measured doubling saves enough: the end lies beyond them
NO_DOUBLING = "no_doubling"  # no two reached batch sizes a doubling apart


def end_of_perfect_scaling(batch, steps, min_saving: float) -> tuple[float, str]:
    """The first batch size whose doubling saves less than ``min_saving`` of the steps (perfect
    scaling saves 0.5) and whether that end was observed: NaN unless it lies inside the measured
    batch sizes, i.e. some doubling before it saved enough."""
    order = np.argsort(batch)
    b, s = np.asarray(batch, float)[order], np.asarray(steps, float)[order]
    doublings = [i for i in range(len(b) - 1) if b[i + 1] == 2 * b[i]]
    if not doublings:
        return np.nan, NO_DOUBLING
    for i in doublings:
        if 1 - s[i + 1] / s[i] < min_saving:
            return (b[i], OBSERVED) if i > doublings[0] else (np.nan, BELOW_RANGE)
    return np.nan, ABOVE_RANGE


# Where a fitted B_crit lies against the batch sizes at which its curve reached the goal
# (batch_min to batch_max): the column b_crit_range of critical_batch.csv. Outside them it is
# the model's extrapolation, not a measurement: figures name it without drawing it, and claims
# do not decide on it.
INSIDE, ABOVE, BELOW = "inside", "above", "below"


def b_crit_range(b_crit, batch_min, batch_max) -> np.ndarray:
    """Per curve (scalars or columns): INSIDE, ABOVE or BELOW its reached batch sizes; "" without
    a fit."""
    b = np.asarray(b_crit, float)
    return np.select([~np.isfinite(b), b > batch_max, b < batch_min], ["", ABOVE, BELOW], INSIDE)


def doubling_savings(batch, steps) -> list[tuple[int, float]]:
    """(B, 1 - steps(2B) / steps(B)) for every measured doubling, smallest B first: perfect
    scaling saves 0.5, maximal data parallelism 0."""
    curve = dict(zip(np.asarray(batch, int).tolist(), np.asarray(steps, float).tolist()))
    return [(b, 1 - curve[2 * b] / curve[b]) for b in sorted(curve) if 2 * b in curve]


def three_regimes(batch, steps, perfect: float = 0.4, plateau: float = 0.2) -> bool:
    """Whether a curve shows the paper's three regimes: two consecutive doublings each saving at
    least ``perfect`` of the steps (perfect scaling), and a later doubling saving less than
    ``plateau`` (past diminishing returns, towards maximal data parallelism)."""
    savings = doubling_savings(batch, steps)
    for i in range(len(savings) - 1):
        first, second = savings[i], savings[i + 1]
        if second[0] == 2 * first[0] and min(first[1], second[1]) >= perfect:
            return any(b > second[0] and saved < plateau for b, saved in savings[i + 2 :])
    return False


def critical_batch_table(studies: pd.DataFrame, min_saving: float, n_bootstrap: int) -> pd.DataFrame:
    """One row per (workload, pruning method, sparsity, goal) curve with a reached point."""
    rows = []
    reached = studies.dropna(subset=["steps_to_result"])
    for key, curve in reached.groupby(KEYS, sort=True):
        batch, steps = curve["batch_size"].to_numpy(), curve["steps_to_result"].to_numpy(float)
        row = dict(zip(KEYS, key), n_points=len(curve), batch_min=batch.min(), batch_max=batch.max())
        row["end_of_perfect_scaling"], row["perfect_scaling_end"] = end_of_perfect_scaling(batch, steps, min_saving)
        row["three_regimes"] = three_regimes(batch, steps)
        if len(curve) >= 3:
            row.update(fit_critical_batch(batch, steps, n_bootstrap))
        rows.append(row)
    columns = KEYS + [
        "n_points",
        "batch_min",
        "batch_max",
        "s_min",
        "s_min_lo",
        "s_min_hi",
        "b_crit",
        "b_crit_lo",
        "b_crit_hi",
        "b_crit_range",
        "end_of_perfect_scaling",
        "perfect_scaling_end",
        "three_regimes",
    ]
    table = pd.DataFrame(rows, columns=columns)
    table["b_crit_range"] = b_crit_range(table["b_crit"], table["batch_min"], table["batch_max"])
    return table
