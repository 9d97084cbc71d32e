"""Beyond the paper: critical batch size from steps-to-result curves (McCandlish et al. 2018)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.stats import binom

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


def fit_critical_batch(batch, steps) -> tuple[float, float]:
    """(S_min, B_crit) of one curve (one replicate's best trials)."""
    return tuple(_fit_log(np.asarray(batch, float), np.asarray(steps, float)))


# Seed noise: a study's replicates are independent best-of-n measurements, so every quantity is
# computed per replicate and summarised by its median with a distribution-free interval for that
# median (order statistics). Censored values order as they should: a goal never reached counts
# +inf steps, an end of perfect scaling below (above) the measured batch sizes -inf (+inf).
def median_interval(values, coverage: float) -> tuple[float, float, float, float]:
    """(median, lo, hi, achieved coverage) of per-replicate ``values``. The median is the lower
    one (an observed value, defined with infinities); [lo, hi] is the k-th smallest and k-th
    largest value for the largest k whose probability of holding the true median is at least
    ``coverage`` (1 - 2 P(Binomial(n, 1/2) < k)); NaN where n is too small (n = 1, or 2 at 68%)."""
    x = np.sort(np.asarray(values, float))
    n = len(x)
    if n == 0:
        return np.nan, np.nan, np.nan, np.nan
    median = x[(n - 1) // 2]
    for k in range(n // 2, 0, -1):
        achieved = 1 - 2 * binom.cdf(k - 1, n, 0.5)
        if achieved >= coverage:
            return median, x[k - 1], x[n - k], achieved
    return median, np.nan, np.nan, np.nan


def _finite(value) -> float:
    return value if np.isfinite(value) else np.nan


def steps_saved(steps, steps_before):
    """The fraction of steps a doubling saved, 1 - steps / steps_before (arrays or scalars).
    Step counts are integers, so the float error is rounded off: 128 after 160 saves exactly 20%,
    not 19.99…%, and the thresholds (min_saving, plateau_saving) classify it as written."""
    return np.round(1 - np.divide(steps, steps_before), 12)


def replicate_table(studies: pd.DataFrame, coverage: float) -> pd.DataFrame:
    """One row per (curve, batch size): steps-to-result over the study's replicates (median and
    interval; a replicate that missed the goal counts as +inf steps) and the saving of steps from
    the batch size half as large (per replicate, replicate r against replicate r: the same seeds)."""
    steps = studies.assign(steps=studies["steps_to_result"].astype(float).fillna(np.inf))
    per = {key: rows.set_index("replicate")["steps"] for key, rows in steps.groupby([*KEYS, "batch_size"])}
    rows = []
    for key, by_replicate in per.items():
        *curve, batch = key
        median, lo, hi, achieved = median_interval(by_replicate, coverage)
        row = dict(zip(KEYS, curve), batch_size=batch, n_replicates=len(by_replicate))
        row.update(n_reached=int(np.isfinite(by_replicate).sum()), steps_median=_finite(median))
        row.update(steps_lo=lo, steps_hi=hi, interval_coverage=achieved)
        half = per.get((*curve, batch // 2)) if batch % 2 == 0 else None
        if half is not None:
            common = by_replicate.index.intersection(half.index)
            with np.errstate(invalid="ignore", divide="ignore"):
                saved = steps_saved(by_replicate[common], half[common])  # unreached: -inf (now) or 1 (before)
            saved = saved.fillna(0.0)  # neither reached: nothing measured, nothing saved
            row.update(zip(("saving", "saving_lo", "saving_hi"), median_interval(saved, coverage)[:3]))
        rows.append(row)
    return pd.DataFrame(rows, columns=REPLICATE_COLUMNS)


REPLICATE_COLUMNS = KEYS + [
    "batch_size", "n_replicates", "n_reached", "steps_median", "steps_lo", "steps_hi", "interval_coverage",
    "saving", "saving_lo", "saving_hi",
]  # fmt: skip


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
        if steps_saved(s[i + 1], s[i]) < min_saving:
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
    return [(b, steps_saved(curve[2 * b], curve[b])) for b in sorted(curve) if 2 * b in curve]


def _regimes_shown(savings, perfect: float, plateau: float) -> bool:
    """``savings``: (B, saving counted towards perfect scaling, saving counted towards the
    plateau) of the doubling from B to 2B, smallest B first."""
    for i in range(len(savings) - 1):
        (b1, first, _), (b2, second, _) = savings[i], savings[i + 1]
        if b2 == 2 * b1 and min(first, second) >= perfect:
            return any(b > b2 and saved < plateau for b, _, saved in savings[i + 2 :])
    return False


def three_regimes(batch, steps, perfect: float = 0.4, plateau: float = 0.2) -> bool:
    """Whether a curve shows the paper's three regimes: two consecutive doublings each saving at
    least ``perfect`` of the steps (perfect scaling), and a later doubling saving less than
    ``plateau`` (past diminishing returns, towards maximal data parallelism)."""
    return _regimes_shown([(b, s, s) for b, s in doubling_savings(batch, steps)], perfect, plateau)


YES, NO, UNDECIDED = "yes", "no", "undecided"  # a verdict from intervals


def regimes_verdict(curve: pd.DataFrame, perfect: float, plateau: float) -> str:
    """The three regimes on a curve of replicate_table rows: YES if shown by the intervals of
    the savings (perfect scaling by their lower ends, the plateau by their upper ends), NO if not
    even their other ends show them (a missing interval spans everything), else UNDECIDED; also
    UNDECIDED where the curve's batch sizes have too few doublings to show them at any savings
    (a curve still being trained, or one spaced by quadruplings), which decides nothing."""
    measured = set(curve["batch_size"])
    if not _regimes_shown([(b, np.inf, -np.inf) for b in sorted(measured) if 2 * b in measured], perfect, plateau):
        return UNDECIDED
    rows = curve.dropna(subset=["saving"]).sort_values("batch_size")
    doublings = [(b // 2, lo, hi) for b, lo, hi in zip(rows["batch_size"], rows["saving_lo"], rows["saving_hi"])]
    sure = [(b, lo, hi) for b, lo, hi in doublings]
    possible = [(b, np.nan_to_num(hi, nan=np.inf), np.nan_to_num(lo, nan=-np.inf)) for b, lo, hi in doublings]
    if _regimes_shown(sure, perfect, plateau):
        return YES
    return UNDECIDED if _regimes_shown(possible, perfect, plateau) else NO


NOT_REACHED = "not_reached"  # the plateau: no two consecutive doublings within the measured batch sizes


def plateau_start(curve: pd.DataFrame, plateau: float) -> float:
    """The smallest batch size B from which two consecutive doublings (B to 2B to 4B) each save
    less than ``plateau`` of the steps, on the median curve (replicate_table rows); NaN if none."""
    saving = dict(zip(curve["batch_size"], curve["saving"]))
    for b in sorted(saving):
        if saving.get(2 * b, np.nan) < plateau and saving.get(4 * b, np.nan) < plateau:
            return float(b)
    return np.nan


def critical_batch_table(
    studies: pd.DataFrame, min_saving: float, plateau_saving: float, coverage: float
) -> pd.DataFrame:
    """One row per (workload, pruning method, sparsity, goal) curve with a reached point: both
    critical batch sizes, each per replicate and then its median and interval over replicates.

    - the paper's: the end of perfect scaling (end_of_perfect_scaling, with ``min_saving``);
    - the fitted one: B_crit of steps = S_min (1 + B_crit / B), McCandlish et al. (2018), on
      each replicate with 3 or more reached batch sizes."""
    replicates = replicate_table(studies, coverage)
    reached = studies.dropna(subset=["steps_to_result"])
    rows = []
    for key, curve in replicates.groupby(KEYS, sort=True):
        median = curve.dropna(subset=["steps_median"])
        if median.empty:
            continue
        row = dict(zip(KEYS, key), n_replicates=curve["n_replicates"].max(), n_points=len(median))
        row.update(batch_min=median["batch_size"].min(), batch_max=median["batch_size"].max())
        ends, fits = [], []
        mine = reached[np.all([reached[k] == v for k, v in zip(KEYS, key)], axis=0)]
        for _, replicate in mine.groupby("replicate"):
            batch, steps = replicate["batch_size"].to_numpy(), replicate["steps_to_result"].to_numpy(float)
            end, seen = end_of_perfect_scaling(batch, steps, min_saving)
            if seen != NO_DOUBLING:
                ends.append({OBSERVED: end, BELOW_RANGE: -np.inf, ABOVE_RANGE: np.inf}[seen])
            if len(batch) >= 3:
                fits.append(fit_critical_batch(batch, steps))
        end, end_lo, end_hi, _ = median_interval(ends, coverage)
        row.update(b_crit_paper=_finite(end), b_crit_paper_lo=end_lo, b_crit_paper_hi=end_hi)
        row["perfect_scaling_end"] = (
            NO_DOUBLING if not ends else OBSERVED if np.isfinite(end) else BELOW_RANGE if end < 0 else ABOVE_RANGE
        )
        row["n_fits"] = len(fits)
        if fits:
            s_min, b_crit = np.array(fits).T
            row.update(zip(("s_min", "s_min_lo", "s_min_hi"), median_interval(s_min, coverage)[:3]))
            row.update(zip(("b_crit_fit", "b_crit_fit_lo", "b_crit_fit_hi"), median_interval(b_crit, coverage)[:3]))
        row["plateau_start"] = plateau_start(curve, plateau_saving)
        row["three_regimes"] = regimes_verdict(curve, min_saving, plateau_saving)
        row["interval_coverage"] = curve["interval_coverage"].min()
        rows.append(row)
    table = pd.DataFrame(rows, columns=CRITICAL_COLUMNS)
    table["b_crit_fit_range"] = b_crit_range(table["b_crit_fit"], table["batch_min"], table["batch_max"])
    return table


CRITICAL_COLUMNS = KEYS + [
    "n_replicates", "n_points", "batch_min", "batch_max",
    "b_crit_paper", "b_crit_paper_lo", "b_crit_paper_hi", "perfect_scaling_end",
    "n_fits", "s_min", "s_min_lo", "s_min_hi", "b_crit_fit", "b_crit_fit_lo", "b_crit_fit_hi", "b_crit_fit_range",
    "plateau_start", "three_regimes", "interval_coverage",
]  # fmt: skip


# Other sources' dense curves (config key external_curves, read by batch_science.read) beside
# this run's, in critical_batch.csv; its readers compare this run's own curves (this_run).
THIS_RUN = "this run"


def with_external(critical: pd.DataFrame, external: pd.DataFrame | None, **analysis) -> pd.DataFrame:
    """critical_batch.csv: this run's curves (source THIS_RUN), then each other source's."""
    parts = [critical.assign(source=THIS_RUN)]
    if external is not None:
        parts += [critical_batch_table(rows, **analysis).assign(source=s) for s, rows in external.groupby("source")]
    return pd.concat(parts, ignore_index=True)


def this_run(critical: pd.DataFrame) -> pd.DataFrame:
    """The rows of this run's curves (a table written before sources: all of them)."""
    return critical[critical["source"] == THIS_RUN] if "source" in critical else critical
