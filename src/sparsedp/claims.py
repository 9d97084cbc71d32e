"""The paper's claims checked against our tables: one row per (claim, scope, definition).

Each row says what the paper states and reports, what we measured, whether the claim holds
(``yes``/``no``/``undecided``) by an explicit rule, and a note with the rule and any reason for
``undecided``. Every decision is taken from intervals over a study's replicates (the same search
with other seeds; analysis.median_interval), never from one best-of-n point: with a single
replicate every claim is undecided. The rules (also in each row's note):

- a_sparse_steps_ratio (MNIST, each workload): r = steps-to-result at 90% sparsity / at 0%, per
  replicate, at the smallest batch size both reached (median over replicates). Holds if r's
  interval lies within a factor 2^0.5 of the paper's 2^1.5 ([2, 4]), fails if it lies wholly
  outside, undecided if it straddles a bound.
- b_sparse_critical_batch (MNIST Momentum; CIFAR-10): B_crit at 90% exceeds the dense one, by
  each definition (column ``definition``): the paper's (the end of perfect scaling) and the fit's
  (McCandlish et al.). Holds if the 90% interval lies wholly above the dense one, fails if wholly
  below, undecided if they overlap or a fit lies outside its measured batch sizes.
- c_momentum_vs_sgd (MNIST, each sparsity): B_crit of Momentum and of Nesterov exceed SGD's, by
  the same rule for each pair and definition; holds if every pair holds, fails if any fails.
- d_three_regimes (each curve of the claims' workloads): the curve shows perfect scaling,
  diminishing returns and a plateau (analysis.regimes_verdict).

Each workload is judged at one goal error (analysis.headline_goals: the paper's where measured,
else its tightest), and each row names the smallest experiment that could decide its claim.
The paper prunes with SNIP; every claim is checked for each pruning method of the experiment
(column ``pruning``), its sparse networks against the same dense ones.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import registry
from .analysis import (
    ABOVE,
    ABOVE_RANGE,
    BELOW,
    BELOW_RANGE,
    NO,
    NO_DOUBLING,
    PAPER_GOAL,
    UNDECIDED,
    YES,
    at_goals,
    headline_goals,
    median_interval,
)
from .labels import ordered_workloads, percent, pow2

COLUMNS = [
    "claim", "scope", "definition", "pruning", "statement", "paper_value", "our_value", "holds", "note",
    "smallest_experiment",
]  # fmt: skip
# The least a configuration must train to decide each claim (yes or no, not undecided).
SMALLEST = {
    "a_sparse_steps_ratio": "one MNIST workload at sparsity 0% and 90%, 3 or more replicates, one batch size at "
    "which both studies reach the goal (the paper's claim is for small batch sizes, before diminishing returns)",
    "b_sparse_critical_batch": "MNIST Momentum (or CIFAR-10) at sparsity 0% and 90%, 3 or more replicates, each "
    "curve reaching the goal at batch sizes that bracket its B_crit (paper: 2^9 dense, 2^11 sparse, so batch sizes "
    "to 2^12 or more), with intervals of B_crit that do not overlap",
    "c_momentum_vs_sgd": "MNIST SGD and Momentum (or Nesterov) at one sparsity, 3 or more replicates, each curve "
    "reaching the goal at batch sizes that bracket its B_crit, with intervals of B_crit that do not overlap",
    "d_three_regimes": "one curve, 3 or more replicates, at batch sizes from perfect scaling (two doublings each "
    "saving 40% or more) to past diminishing returns (a doubling saving under 20%)",
}
DENSE, SPARSE = 0.0, 0.9
PAPER_TRIALS = 100
RATIO_LOG2, RATIO_TOLERANCE_LOG2 = 1.5, 0.5
RATIO_RANGE = (2 ** (RATIO_LOG2 - RATIO_TOLERANCE_LOG2), 2 ** (RATIO_LOG2 + RATIO_TOLERANCE_LOG2))
MOMENTUM_OPTIMIZERS = tuple(name for name, o in registry.OPTIMIZERS.items() if o.heavy_ball)
# The two critical batch sizes (critical_batch.csv): column prefix -> label.
PAPER_DEFINITION, FIT_DEFINITION = "b_crit_paper", "b_crit_fit"
DEFINITIONS = {
    PAPER_DEFINITION: "paper: end of perfect scaling",
    FIT_DEFINITION: "fit: S_min (1 + B_crit / B)",
}
ONE_REPLICATE = "one replicate per study: no interval that includes seed noise (set replicates: 3 or more)"


def _row(claim, scope, statement, paper_value, our_value, holds, note, definition="") -> dict:
    return dict(
        claim=claim,
        scope=scope,
        definition=definition,
        statement=statement,
        paper_value=paper_value,
        our_value=our_value,
        holds=holds,
        note=note,
        smallest_experiment=SMALLEST[claim],
    )


def _protocol_notes(studies: pd.DataFrame) -> list[str]:
    """Where our protocol differs from the paper's: goal error, trials per study, replicates."""
    notes = []
    for (dataset, goal), _ in studies.groupby(["dataset", "goal_error"]):
        if dataset in PAPER_GOAL and not math.isclose(goal, PAPER_GOAL[dataset]):
            notes.append(f"goal error {goal:g} (paper {PAPER_GOAL[dataset]:g})")
    trials = sorted(studies["n_trials"].dropna().unique())
    if trials and max(trials) < PAPER_TRIALS:
        notes.append(f"{int(max(trials))} trials per study (paper {PAPER_TRIALS})")
    replicates = studies["replicate"].nunique()
    notes.append(f"{replicates} replicate{'s' if replicates > 1 else ''} per study (paper 1)")
    return notes


def _join(*parts) -> str:
    return "; ".join(p for p in parts if p)


def _interval(lo, hi, fmt=pow2) -> str:
    """'[lo, hi]', an end beyond the measured range named as such; '' without an interval."""
    if np.isnan(lo) or np.isnan(hi):
        return ""
    ends = ["below range" if v == -np.inf else "beyond range" if v == np.inf else fmt(v) for v in (lo, hi)]
    return f" [{ends[0]}, {ends[1]}]"


def _steps(studies: pd.DataFrame, workload: str, sparsity: float) -> pd.DataFrame:
    """steps-to-result of one curve: batch size x replicate, +inf where a replicate missed the goal."""
    sub = studies[(studies["workload"] == workload) & np.isclose(studies["sparsity"], sparsity)]
    steps = sub.pivot_table(index="batch_size", columns="replicate", values="steps_to_result", aggfunc="first")
    return steps.reindex(columns=sorted(sub["replicate"].unique())).astype(float).fillna(np.inf)


def _has_sparsity(studies: pd.DataFrame, workload: str, sparsity: float) -> bool:
    sub = studies[studies["workload"] == workload]
    return bool(np.isclose(sub["sparsity"], sparsity).any())


def _against(interval, low: float, high: float) -> str:
    """YES if (lo, hi) lies within [low, high], NO if wholly outside it, else UNDECIDED."""
    lo, hi = interval
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return UNDECIDED
    if low <= lo and hi <= high:
        return YES
    return NO if hi < low or lo > high else UNDECIDED


# --- a: steps ratio ----------------------------------------------------------------------------

A_STATEMENT = (
    "A 90% sparse network needs about 2^1.5 times the steps of the dense one to reach the goal, "
    "at small batch sizes (Simple-CNN on MNIST, Figure 1)"
)
A_RULE = (
    f"rule: per replicate, the ratio at the smallest batch size whose median both reached; holds if the interval of "
    f"the ratios lies within a factor 2^{RATIO_TOLERANCE_LOG2:g} of 2^{RATIO_LOG2:g}, i.e. in "
    f"[{RATIO_RANGE[0]:.1f}, {RATIO_RANGE[1]:.1f}], fails if wholly outside, undecided if it straddles a bound"
)


def claim_steps_ratio(studies: pd.DataFrame, coverage: float) -> list[dict]:
    rows = []
    mnist = studies[studies["dataset"] == "mnist"]
    claim, paper = "a_sparse_steps_ratio", f"2^{RATIO_LOG2:g} = {2**RATIO_LOG2:.2f}"
    if mnist.empty:
        return [_row(claim, "MNIST", A_STATEMENT, paper, "n/a", UNDECIDED, "no MNIST workload in this configuration")]
    for workload in ordered_workloads(mnist):
        sub = mnist[mnist["workload"] == workload]
        protocol = _protocol_notes(sub)
        missing = [percent(s) for s in (DENSE, SPARSE) if not _has_sparsity(sub, workload, s)]
        if missing:
            reason = f"no {' and '.join(missing)} sparsity studies in this configuration"
            rows.append(_row(claim, workload, A_STATEMENT, paper, "n/a", UNDECIDED, _join(reason, *protocol)))
            continue
        dense, sparse = _steps(sub, workload, DENSE), _steps(sub, workload, SPARSE)
        medians = {b: (median_interval(dense.loc[b], coverage)[0], median_interval(sparse.loc[b], coverage)[0])
                   for b in dense.index.intersection(sparse.index)}  # fmt: skip
        common = [b for b, (d, s) in sorted(medians.items()) if np.isfinite(d) and np.isfinite(s)]
        if not common:
            reason = "no batch size at which both the 0% and the 90% study reached the goal"
            rows.append(_row(claim, workload, A_STATEMENT, paper, "n/a", UNDECIDED, _join(reason, *protocol)))
            continue
        batch = common[0]
        replicates = dense.columns.intersection(sparse.columns)
        ratio, lo, hi, achieved = median_interval(
            sparse.loc[batch, replicates] / dense.loc[batch, replicates], coverage
        )
        holds = _against((lo, hi), *RATIO_RANGE)
        detail = f"at batch size {batch} (median {medians[batch][1]:g} vs {medians[batch][0]:g} steps)"
        if batch != sub["batch_size"].min():
            detail += f"; the smallest measured batch size {sub['batch_size'].min()} was not reached by both"
        direction = "sparse slower than dense" if ratio > 1 else "sparse not slower than dense"
        our = f"{ratio:.2f} = {pow2(ratio)}{_interval(lo, hi, lambda v: f'{v:.2f}')}"
        coverage_note = f"interval coverage {achieved:.0%}" if np.isfinite(achieved) else ONE_REPLICATE
        rows.append(
            _row(
                claim,
                workload,
                A_STATEMENT,
                paper,
                our,
                holds,
                _join(A_RULE, detail, direction, coverage_note, *protocol),
            )
        )
    return rows


# --- b, c: critical batch sizes ----------------------------------------------------------------


def _critical(critical: pd.DataFrame, studies: pd.DataFrame, workload: str, sparsity: float, definition: str) -> dict:
    """A curve's critical batch size by ``definition`` and why it cannot be used (``problem``), if so."""
    sub = critical[(critical["workload"] == workload) & np.isclose(critical["sparsity"], sparsity)]
    found = dict(b=np.nan, lo=np.nan, hi=np.nan, problem=None, name=f"{workload} {percent(sparsity)}")
    if not _has_sparsity(studies, workload, sparsity):
        found["problem"] = f"no {percent(sparsity)} studies of {workload} in this configuration"
        return found
    if sub.empty:
        found["problem"] = f"{found['name']}: no batch size reached the goal"
        return found
    row = sub.iloc[0]
    found.update(b=row[definition], lo=row[f"{definition}_lo"], hi=row[f"{definition}_hi"])
    if definition == FIT_DEFINITION:
        if row["n_fits"] == 0:
            found["problem"] = f"{found['name']}: no replicate reached the goal at the 3 batch sizes a fit needs"
        elif row["b_crit_fit_range"] in (ABOVE, BELOW):
            found["problem"] = (
                f"{found['name']}: B_crit {pow2(found['b'])} lies outside the batch sizes that reached the goal "
                f"({pow2(row['batch_min'])} to {pow2(row['batch_max'])}), an extrapolation"
            )
    elif row["perfect_scaling_end"] == NO_DOUBLING:
        found["problem"] = f"{found['name']}: no two reached batch sizes a doubling apart"
    found["seen"] = row["perfect_scaling_end"]
    return found


UNSEEN = {BELOW_RANGE: "below the measured batch sizes", ABOVE_RANGE: "beyond the measured batch sizes"}


def _describe(found: dict, definition: str) -> str:
    if definition == PAPER_DEFINITION and found.get("seen") in UNSEEN:
        point = UNSEEN[found["seen"]]
    else:
        point = pow2(found["b"])
    return f"{found['name']}: {point}{_interval(found['lo'], found['hi'])}"


def _larger(high: dict, low: dict) -> tuple[str, str]:
    """Does ``high``'s B_crit exceed ``low``'s? By their intervals over replicates."""
    for found in (high, low):
        if found["problem"]:
            return UNDECIDED, found["problem"]
    if any(np.isnan(found[end]) for found in (high, low) for end in ("lo", "hi")):
        return UNDECIDED, ONE_REPLICATE
    if high["lo"] > low["hi"]:
        return YES, ""
    if high["hi"] < low["lo"]:
        return NO, ""
    return UNDECIDED, f"the intervals of {high['name']} and {low['name']} overlap"


B_STATEMENT = {
    "mnist": "With Momentum, the critical batch size of the 90% sparse network is larger than the dense one's "
    "(Simple-CNN on MNIST, Figure 1)",
    "cifar10": "The critical batch size of the 90% sparse network appears larger than the dense one's "
    "(ResNet-8 on CIFAR-10, Figure 3)",
}
B_PAPER = {"mnist": "2^11 (90%) vs 2^9 (0%)", "cifar10": "larger at 90% (no value given)"}
NOT_FITTED = "the paper fits no model; its values are ends of perfect scaling"
INTERVAL_RULE = (
    "rule: holds if the first interval of B_crit (over replicates) lies wholly above the second, fails if wholly "
    "below, undecided if they overlap or a fit is missing or extrapolated"
)


def claim_sparse_critical_batch(studies: pd.DataFrame, critical: pd.DataFrame) -> list[dict]:
    claim, rows = "b_sparse_critical_batch", []
    chosen = studies[
        ((studies["dataset"] == "mnist") & (studies["optimizer"] == "momentum")) | (studies["dataset"] == "cifar10")
    ]
    if chosen.empty:
        reason = "no MNIST Momentum or CIFAR-10 workload in this configuration"
        return [_row(claim, "MNIST Momentum", B_STATEMENT["mnist"], B_PAPER["mnist"], "n/a", UNDECIDED, reason)]
    for workload in ordered_workloads(chosen):
        sub = chosen[chosen["workload"] == workload]
        dataset = sub["dataset"].iloc[0]
        for definition, label in DEFINITIONS.items():
            sparse = _critical(critical, sub, workload, SPARSE, definition)
            dense = _critical(critical, sub, workload, DENSE, definition)
            holds, reason = _larger(sparse, dense)
            our = f"{_describe(sparse, definition)}; {_describe(dense, definition)}"
            paper = B_PAPER[dataset] if definition == PAPER_DEFINITION else NOT_FITTED
            note = _join(INTERVAL_RULE, reason, *_protocol_notes(sub))
            rows.append(_row(claim, workload, B_STATEMENT[dataset], paper, our, holds, note, label))
    return rows


C_STATEMENT = (
    "Momentum and Nesterov exploit much larger batch sizes than plain SGD, at every sparsity "
    "(Simple-CNN on MNIST, Figure 2); compared by the critical batch size B_crit"
)
C_PAPER = "larger for Momentum and Nesterov than SGD, every sparsity (no value given)"


def claim_momentum_vs_sgd(studies: pd.DataFrame, critical: pd.DataFrame, sparse_only: bool = False) -> list[dict]:
    """Rows per sparsity and definition (only sparsities above 0 with ``sparse_only``: the dense
    ones are another method's rows already)."""
    claim, rows = "c_momentum_vs_sgd", []
    mnist = studies[studies["dataset"] == "mnist"]
    for _, group in mnist.groupby(["model", "schedule"], sort=True):
        sgd = ordered_workloads(group[group["optimizer"] == "sgd"])
        fast = ordered_workloads(group[group["optimizer"].isin(MOMENTUM_OPTIMIZERS)])
        if not sgd or not fast:
            continue
        for s in sorted(group["sparsity"].unique()):
            if sparse_only and s == 0:
                continue
            for definition, label in DEFINITIONS.items():
                base = _critical(critical, group, sgd[0], s, definition)
                found = [_critical(critical, group, wl, s, definition) for wl in fast]
                verdicts = [_larger(f, base) for f in found]
                holds = (
                    NO
                    if any(v == NO for v, _ in verdicts)
                    else YES
                    if all(v == YES for v, _ in verdicts)
                    else UNDECIDED
                )
                reasons = sorted({r for _, r in verdicts if r})
                our = "; ".join(_describe(f, definition) for f in [base, *found])
                note = _join(INTERVAL_RULE + " (each optimizer against SGD)", *reasons, *_protocol_notes(group))
                scope = f"{' vs '.join([sgd[0], ', '.join(fast)])}, sparsity {percent(s)}"
                rows.append(_row(claim, scope, C_STATEMENT, C_PAPER, our, holds, note, label))
    if not rows and not sparse_only:
        optimizers = sorted(mnist["optimizer"].unique())
        reason = (
            "needs an MNIST SGD workload and a Momentum or Nesterov one of the same model and schedule; "
            f"this configuration has {', '.join(optimizers) or 'no MNIST workload'}"
        )
        rows.append(_row(claim, "MNIST", C_STATEMENT, C_PAPER, "n/a", UNDECIDED, reason))
    return rows


# --- d: three regimes --------------------------------------------------------------------------

D_STATEMENT = (
    "Steps-to-result against batch size shows three regimes: perfect scaling, diminishing returns and maximal "
    "data parallelism (a plateau), at every sparsity (Figures 1-3)"
)
D_RULE = (
    "rule: yes if the intervals of the doublings' savings show two consecutive doublings each saving at least "
    "min_saving and a later one saving less than plateau_saving; no if not even their other ends could; "
    "undecided otherwise, and where the batch sizes have too few doublings to show them (critical_batch.csv "
    "three_regimes)"
)


def claim_three_regimes(studies: pd.DataFrame, critical: pd.DataFrame, sparse_only: bool = False) -> list[dict]:
    rows = []
    for workload in ordered_workloads(studies):
        sub = critical[critical["workload"] == workload]
        for _, curve in sub.sort_values("sparsity").iterrows():
            if sparse_only and curve["sparsity"] == 0:
                continue
            plateau = (
                f"plateau from batch size {curve['plateau_start']:g}"
                if np.isfinite(curve["plateau_start"])
                else f"no plateau within batch size {curve['batch_max']:g}"
            )
            scope = f"{workload}, sparsity {percent(curve['sparsity'])}"
            note = _join(D_RULE, plateau, *_protocol_notes(studies[studies["workload"] == workload]))
            rows.append(
                _row("d_three_regimes", scope, D_STATEMENT, "three regimes at every sparsity", plateau,
                     curve["three_regimes"], note)
            )  # fmt: skip
    return rows


def claims_table(studies: pd.DataFrame, critical: pd.DataFrame, coverage: float) -> pd.DataFrame:
    """Every claim against the steps-to-result table (every replicate) and the critical-batch
    table, each workload at its headline goal error, for each pruning method (its sparse studies
    and the dense ones)."""
    goals = headline_goals(studies)
    studies, critical = at_goals(studies, goals), at_goals(critical, goals)
    methods = [m for m in registry.PRUNING if m in set(studies["pruning"])] or [registry.DENSE]
    rows = []
    for i, method in enumerate(methods):
        sub = studies[studies["pruning"].isin([registry.DENSE, method])]
        fits = critical[critical["pruning"].isin([registry.DENSE, method])]
        method_rows = [
            *claim_steps_ratio(sub, coverage),
            *claim_sparse_critical_batch(sub, fits),
            *claim_momentum_vs_sgd(sub, fits, sparse_only=i > 0),
            *claim_three_regimes(sub, fits, sparse_only=i > 0),
        ]
        rows += [{**row, "pruning": method} for row in method_rows]
    return pd.DataFrame(rows, columns=COLUMNS)
