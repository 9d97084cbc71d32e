"""Reduction: a study's best trial (lowest steps-to-result), and tidy tables across studies."""

from __future__ import annotations

import pandas as pd

from .results import COMPLETE, STATUSES

STUDY_COLUMNS = [
    "workload", "dataset", "model", "optimizer", "schedule", "sparsity", "batch_size", "goal_error",
    "best_trial", "steps_to_result", "learning_rate", "momentum", "decay_steps", "end_factor",
    "n_trials", "n_complete", "n_incomplete", "n_infeasible", "n_pruned",
]  # fmt: skip


def reduce_study(trials: list[dict]) -> dict:
    """Best trial of one study: the lowest steps-to-result among complete trials, ties to the
    lowest trial number. steps_to_result is None when no trial reached the goal."""
    first = trials[0]
    study = {
        k: first[k]
        for k in ("workload", "dataset", "model", "optimizer", "schedule", "sparsity", "batch_size", "goal_error")
    }
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
    mp = best["metaparameters"] if best else {}
    study.update(
        best_trial=best["trial"] if best else None,
        steps_to_result=best["steps_to_result"] if best else None,
        learning_rate=mp.get("learning_rate"),
        momentum=mp.get("momentum"),
        decay_steps=mp.get("decay_steps"),
        end_factor=mp.get("end_factor"),
        n_trials=len(trials),
    )
    for status in STATUSES:
        study[f"n_{status}"] = sum(t["status"] == status for t in trials)
    return study


def study_table(studies: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(studies, columns=STUDY_COLUMNS)
    for col in ("best_trial", "steps_to_result", "decay_steps"):
        table[col] = table[col].astype("Int64")
    return table.sort_values(["workload", "sparsity", "batch_size"]).reset_index(drop=True)


def trial_table(trials: list[dict]) -> pd.DataFrame:
    """One row per trial: study keys, metaparameters, status, steps (no curves)."""
    rows = []
    for t in trials:
        row = {k: v for k, v in t.items() if k not in ("curve", "metaparameters")}
        row.update(t["metaparameters"])
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(["workload", "sparsity", "batch_size", "trial"]).reset_index(drop=True)
