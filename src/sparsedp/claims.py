"""The paper's claims checked against our tables: one row per (claim, scope).

Each row says what the paper states and reports, what we measured, whether the claim holds
(``yes``/``no``/``undecided``) by an explicit rule, and a note with the rule and any reason
for ``undecided`` (missing studies, too few points, an extrapolated fit, overlapping
intervals). The rules (also in each row's note):

- a_sparse_steps_ratio (MNIST, each workload): r = steps-to-result at 90% sparsity / at 0%,
  at the smallest batch size both reached. Holds if |log2 r - 1.5| <= 0.5 (r in [2, 4]: within
  a factor 2^0.5 of the paper's 2^1.5); fails otherwise.
- b_sparse_critical_batch (MNIST Momentum; CIFAR-10): the fitted B_crit at 90% exceeds the
  dense one. Holds if the 90% interval (68%, bootstrap) lies wholly above the dense one, fails
  if wholly below, undecided if they overlap or a fit lies outside its measured batch sizes.
- c_momentum_vs_sgd (MNIST, each sparsity): B_crit of Momentum and of Nesterov exceed SGD's,
  by the same interval rule for each pair; holds if every pair holds, fails if any fails.

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
    NO_DOUBLING,
    OBSERVED,
    PAPER_GOAL,
    at_goals,
    headline_goals,
)
from .labels import ordered_workloads, percent, pow2

YES, NO, UNDECIDED = "yes", "no", "undecided"
COLUMNS = [
    "claim", "scope", "pruning", "statement", "paper_value", "our_value", "holds", "note", "smallest_experiment",
]  # fmt: skip
# The least a configuration must train to decide each claim (yes or no, not undecided).
SMALLEST = {
    "a_sparse_steps_ratio": "one MNIST workload at sparsity 0% and 90%, one batch size at which both studies reach "
    "the goal (the paper's claim is for small batch sizes, before diminishing returns)",
    "b_sparse_critical_batch": "MNIST Momentum (or CIFAR-10) at sparsity 0% and 90%, each curve reaching the goal "
    "at 3 or more batch sizes that bracket its B_crit (paper: 2^9 dense, 2^11 sparse, so batch sizes to 2^12 or "
    "more), with 68% intervals of B_crit that do not overlap",
    "c_momentum_vs_sgd": "MNIST SGD and Momentum (or Nesterov) at one sparsity, each curve reaching the goal at 3 "
    "or more batch sizes that bracket its B_crit, with 68% intervals of B_crit that do not overlap",
}
DENSE, SPARSE = 0.0, 0.9
PAPER_TRIALS = 100
RATIO_LOG2, RATIO_TOLERANCE_LOG2 = 1.5, 0.5
MOMENTUM_OPTIMIZERS = tuple(name for name, o in registry.OPTIMIZERS.items() if o.heavy_ball)


def _row(claim, scope, statement, paper_value, our_value, holds, note) -> dict:
    return dict(
        claim=claim,
        scope=scope,
        statement=statement,
        paper_value=paper_value,
        our_value=our_value,
        holds=holds,
        note=note,
        smallest_experiment=SMALLEST[claim],
    )


def _protocol_notes(studies: pd.DataFrame) -> list[str]:
    """Where our protocol differs from the paper's: goal error, trials per study."""
    notes = []
    for (dataset, goal), _ in studies.groupby(["dataset", "goal_error"]):
        if dataset in PAPER_GOAL and not math.isclose(goal, PAPER_GOAL[dataset]):
            notes.append(f"goal error {goal:g} (paper {PAPER_GOAL[dataset]:g})")
    trials = sorted(studies["n_trials"].dropna().unique())
    if trials and max(trials) < PAPER_TRIALS:
        notes.append(f"{int(max(trials))} trials per study (paper {PAPER_TRIALS})")
    return notes


def _join(*parts) -> str:
    return "; ".join(p for p in parts if p)


def _steps_by_batch(studies: pd.DataFrame, workload: str, sparsity: float) -> pd.Series:
    """steps-to-result by batch size of one curve, reached studies only."""
    sub = studies[(studies["workload"] == workload) & np.isclose(studies["sparsity"], sparsity)]
    sub = sub.dropna(subset=["steps_to_result"]).sort_values("batch_size")
    return pd.Series(sub["steps_to_result"].to_numpy(float), index=sub["batch_size"].to_numpy(int))


def _has_sparsity(studies: pd.DataFrame, workload: str, sparsity: float) -> bool:
    sub = studies[studies["workload"] == workload]
    return bool(np.isclose(sub["sparsity"], sparsity).any())


# --- a: steps ratio ----------------------------------------------------------------------------

A_STATEMENT = (
    "A 90% sparse network needs about 2^1.5 times the steps of the dense one to reach the goal, "
    "at small batch sizes (Simple-CNN on MNIST, Figure 1)"
)
A_RULE = (
    f"rule: holds if the ratio at the smallest batch size both reached lies within a factor "
    f"2^{RATIO_TOLERANCE_LOG2:g} of 2^{RATIO_LOG2:g}, i.e. in "
    f"[{2 ** (RATIO_LOG2 - RATIO_TOLERANCE_LOG2):.1f}, {2 ** (RATIO_LOG2 + RATIO_TOLERANCE_LOG2):.1f}]"
)


def claim_steps_ratio(studies: pd.DataFrame) -> list[dict]:
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
        dense, sparse = _steps_by_batch(sub, workload, DENSE), _steps_by_batch(sub, workload, SPARSE)
        common = sorted(set(dense.index) & set(sparse.index))
        if not common:
            reason = "no batch size at which both the 0% and the 90% study reached the goal"
            rows.append(_row(claim, workload, A_STATEMENT, paper, "n/a", UNDECIDED, _join(reason, *protocol)))
            continue
        batch = common[0]
        ratio = sparse[batch] / dense[batch]
        holds = YES if abs(math.log2(ratio) - RATIO_LOG2) <= RATIO_TOLERANCE_LOG2 else NO
        ratios = [sparse[b] / dense[b] for b in common]
        detail = f"at batch size {batch} ({int(sparse[batch])} vs {int(dense[batch])} steps)"
        if batch != sub["batch_size"].min():
            detail += f"; the smallest measured batch size {sub['batch_size'].min()} was not reached by both"
        spread = f"ratio over the {len(common)} common batch sizes: {min(ratios):.2f} to {max(ratios):.2f}"
        direction = "sparse slower than dense" if ratio > 1 else "sparse not slower than dense"
        our = f"{ratio:.2f} = {pow2(ratio)}"
        rows.append(
            _row(claim, workload, A_STATEMENT, paper, our, holds, _join(A_RULE, detail, direction, spread, *protocol))
        )
    return rows


# --- b, c: critical batch sizes ----------------------------------------------------------------


def _fit(critical: pd.DataFrame, studies: pd.DataFrame, workload: str, sparsity: float) -> dict:
    """A curve's critical batch size and why it cannot be used (``problem``), if so."""
    sub = critical[(critical["workload"] == workload) & np.isclose(critical["sparsity"], sparsity)]
    reached = _steps_by_batch(studies, workload, sparsity)
    fit = dict(b=np.nan, lo=np.nan, hi=np.nan, eops=np.nan, eops_seen=NO_DOUBLING, problem=None)
    fit["name"] = f"{workload} {percent(sparsity)}"
    if not _has_sparsity(studies, workload, sparsity):
        fit["problem"] = f"no {percent(sparsity)} studies of {workload} in this configuration"
        return fit
    if not sub.empty:
        row = sub.iloc[0]
        fit.update(b=row["b_crit"], lo=row["b_crit_lo"], hi=row["b_crit_hi"])
        fit.update(eops=row["end_of_perfect_scaling"], eops_seen=row["perfect_scaling_end"])
    if len(reached) < 3 or not np.isfinite(fit["b"]):
        fit["problem"] = f"{fit['name']}: {len(reached)} batch sizes reached the goal, fewer than the 3 a fit needs"
    elif row["b_crit_range"] in (ABOVE, BELOW):
        fit["problem"] = (
            f"{fit['name']}: B_crit {pow2(fit['b'])} lies outside the batch sizes that reached the goal "
            f"({pow2(row['batch_min'])} to {pow2(row['batch_max'])}), an extrapolation"
        )
    return fit


def _describe(fit: dict) -> str:
    interval = f" [{pow2(fit['lo'])}, {pow2(fit['hi'])}]" if np.isfinite(fit["lo"]) else ""
    return f"{fit['name']}: {pow2(fit['b'])}{interval}"


def _larger(high: dict, low: dict) -> tuple[str, str]:
    """Does ``high``'s B_crit exceed ``low``'s? By their 68% intervals, or by the point
    estimates when there are no intervals (analysis.n_bootstrap 0)."""
    for fit in (high, low):
        if fit["problem"]:
            return UNDECIDED, fit["problem"]
    if not (np.isfinite(high["lo"]) and np.isfinite(low["hi"])):
        holds = YES if high["b"] > low["b"] else NO
        return holds, "no bootstrap intervals (analysis.n_bootstrap: 0): point estimates compared"
    if high["lo"] > low["hi"]:
        return YES, ""
    if high["hi"] < low["lo"]:
        return NO, ""
    return UNDECIDED, f"the 68% intervals of {high['name']} and {low['name']} overlap"


EOPS_UNSEEN = {
    BELOW_RANGE: "at or below the smallest batch size (not observed)",
    ABOVE_RANGE: "beyond the measured batch sizes",
    NO_DOUBLING: "not measurable (no doubling reached)",
}


def _eops(fits) -> str:
    return "end of perfect scaling: " + ", ".join(
        f"{f['name']} {pow2(f['eops']) if f['eops_seen'] == OBSERVED else EOPS_UNSEEN[f['eops_seen']]}" for f in fits
    )


B_STATEMENT = {
    "mnist": "With Momentum, the critical batch size of the 90% sparse network is larger than the dense one's "
    "(Simple-CNN on MNIST, Figure 1)",
    "cifar10": "The critical batch size of the 90% sparse network appears larger than the dense one's "
    "(ResNet-8 on CIFAR-10, Figure 3)",
}
B_PAPER = {"mnist": "2^11 (90%) vs 2^9 (0%)", "cifar10": "larger at 90% (no value given)"}
INTERVAL_RULE = (
    "rule: holds if the first 68% interval of B_crit lies wholly above the second, fails if wholly below, "
    "undecided if they overlap or a fit is missing or extrapolated"
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
        sparse, dense = _fit(critical, sub, workload, SPARSE), _fit(critical, sub, workload, DENSE)
        holds, reason = _larger(sparse, dense)
        our = f"{_describe(sparse)}; {_describe(dense)}"
        note = _join(INTERVAL_RULE, reason, _eops([sparse, dense]), *_protocol_notes(sub))
        rows.append(_row(claim, workload, B_STATEMENT[dataset], B_PAPER[dataset], our, holds, note))
    return rows


C_STATEMENT = (
    "Momentum and Nesterov exploit much larger batch sizes than plain SGD, at every sparsity "
    "(Simple-CNN on MNIST, Figure 2); compared by the critical batch size B_crit"
)
C_PAPER = "larger for Momentum and Nesterov than SGD, every sparsity (no value given)"


def claim_momentum_vs_sgd(studies: pd.DataFrame, critical: pd.DataFrame, sparse_only: bool = False) -> list[dict]:
    """Rows per sparsity (only those above 0 with ``sparse_only``: the dense ones are another
    method's rows already)."""
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
            base = _fit(critical, group, sgd[0], s)
            fits = [_fit(critical, group, wl, s) for wl in fast]
            verdicts = [_larger(f, base) for f in fits]
            holds = (
                NO if any(v == NO for v, _ in verdicts) else YES if all(v == YES for v, _ in verdicts) else UNDECIDED
            )
            reasons = sorted({r for _, r in verdicts if r})
            our = "; ".join(_describe(f) for f in [base, *fits])
            note = _join(INTERVAL_RULE + " (each optimizer against SGD)", *reasons, _eops([base, *fits]),
                         *_protocol_notes(group))  # fmt: skip
            scope = f"{' vs '.join([sgd[0], ', '.join(fast)])}, sparsity {percent(s)}"
            rows.append(_row(claim, scope, C_STATEMENT, C_PAPER, our, holds, note))
    if not rows and not sparse_only:
        optimizers = sorted(mnist["optimizer"].unique())
        reason = (
            "needs an MNIST SGD workload and a Momentum or Nesterov one of the same model and schedule; "
            f"this configuration has {', '.join(optimizers) or 'no MNIST workload'}"
        )
        rows.append(_row(claim, "MNIST", C_STATEMENT, C_PAPER, "n/a", UNDECIDED, reason))
    return rows


def claims_table(studies: pd.DataFrame, critical: pd.DataFrame) -> pd.DataFrame:
    """Every claim against the steps-to-result table and the critical-batch table, each workload
    at its headline goal error, for each pruning method (its sparse studies and the dense ones)."""
    goals = headline_goals(studies)
    studies, critical = at_goals(studies, goals), at_goals(critical, goals)
    methods = [m for m in registry.PRUNING if m in set(studies["pruning"])] or [registry.DENSE]
    rows = []
    for i, method in enumerate(methods):
        sub = studies[studies["pruning"].isin([registry.DENSE, method])]
        fits = critical[critical["pruning"].isin([registry.DENSE, method])]
        method_rows = [
            *claim_steps_ratio(sub),
            *claim_sparse_critical_batch(sub, fits),
            *claim_momentum_vs_sgd(sub, fits, sparse_only=i > 0),
        ]
        rows += [{**row, "pruning": method} for row in method_rows]
    return pd.DataFrame(rows, columns=COLUMNS)
