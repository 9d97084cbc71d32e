"""Reduction: a study's best trial (lowest steps-to-result), and tidy tables across studies."""

from __future__ import annotations

import pandas as pd

from .config import searched
from .results import COMPLETE, STATUSES

METAPARAMETERS = ("learning_rate", "momentum", "decay_steps", "end_factor")
# What every trial of a study shares.
STUDY_KEYS = ("workload", "dataset", "model", "optimizer", "schedule", "sparsity", "batch_size", "goal_error", "mode")
STUDY_COLUMNS = [
    *STUDY_KEYS, "best_trial", "steps_to_result", "learning_rate", "momentum", "decay_steps", "end_factor",
    "n_trials", "n_complete", "n_incomplete", "n_infeasible", "n_pruned",
]  # fmt: skip
# trials.csv: what the trial is and how it was trained, what was tried, what came of it; then
# anything else a trial record holds.
TRIAL_COLUMNS = [
    *STUDY_KEYS, "budget_steps", "eval_every", "n_validation", "trial", "seed", *METAPARAMETERS,
    "status", "best", "steps_to_result", "steps_trained", "diverged_at_step",
]  # fmt: skip


def reduce_study(trials: list[dict]) -> dict:
    """Best trial of one study: the lowest steps-to-result among complete trials, ties to the
    lowest trial number. steps_to_result is None when no trial reached the goal."""
    first = trials[0]
    study = {k: first[k] for k in STUDY_KEYS}
    for t in trials:
        if (t["workload"], t["sparsity"], t["batch_size"]) != (
            study["workload"],
            study["sparsity"],
            study["batch_size"],
        ):
            raise ValueError(
                f"trial {t['trial']} belongs to another study: {t['workload']} {t['sparsity']} {t['batch_size']}"
            )
    complete = [t for t in trials if t["status"] == COMPLETE]
    best = min(complete, key=lambda t: (t["steps_to_result"], t["trial"])) if complete else None
    study.update(
        best_trial=best["trial"] if best else None,
        steps_to_result=best["steps_to_result"] if best else None,
        **(searched_metaparameters(best) if best else dict.fromkeys(METAPARAMETERS)),
        n_trials=len(trials),
    )
    for status in STATUSES:
        study[f"n_{status}"] = sum(t["status"] == status for t in trials)
    return study


def searched_metaparameters(trial: dict) -> dict:
    """The trial's metaparameters, None for those its workload does not search (momentum under
    SGD, decay_steps and end_factor under a constant schedule): the fixed value it trained with
    is no search result."""
    names = searched(trial)
    return {k: trial["metaparameters"][k] if k in names else None for k in METAPARAMETERS}


def study_table(studies: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(studies, columns=STUDY_COLUMNS)
    for col in ("best_trial", "steps_to_result", "decay_steps"):
        table[col] = table[col].astype("Int64")
    return table.sort_values(["workload", "sparsity", "batch_size"]).reset_index(drop=True)


def trial_table(trials: list[dict], studies: list[dict]) -> pd.DataFrame:
    """One row per trial: study keys, metaparameters, status, steps (no curves), and whether it
    is the best trial its study's reduction (in ``studies``) chose."""
    best = {(s["workload"], s["sparsity"], s["batch_size"], s["best_trial"]) for s in studies}
    rows = []
    for t in trials:
        row = {k: v for k, v in t.items() if k not in ("curve", "metaparameters")}
        row.update(searched_metaparameters(t))
        row["best"] = (t["workload"], t["sparsity"], t["batch_size"], t["trial"]) in best
        rows.append(row)
    table = pd.DataFrame(rows)
    table = table[[c for c in TRIAL_COLUMNS if c in table] + [c for c in table if c not in TRIAL_COLUMNS]]
    for col in ("decay_steps", "steps_to_result", "diverged_at_step"):
        if col in table:
            table[col] = table[col].astype("Int64")
    return table.sort_values(["workload", "sparsity", "batch_size", "trial"]).reset_index(drop=True)
