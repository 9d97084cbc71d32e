"""Reduction: a study's best trial (lowest steps-to-result) per goal, and tidy tables across studies.

Records are checked against the identity the experiment expects before they are used: a trial
of other settings (another goal, other code, another study) is refused, never mixed in.
"""

from __future__ import annotations

import pandas as pd

from . import registry
from .config import SEARCH_RANGE, pruned_networks
from .identity import IdentityError, differences, trial_identities
from .results import COMPLETE, INCOMPLETE, INFEASIBLE, STATUSES, read_record

IDENTITY_COLUMNS = [
    "workload", "dataset", "model", "optimizer", "schedule", "pruning", "sparsity", "batch_size", "replicate",
    "mode", "budget_steps", "eval_every",
]  # fmt: skip
METAPARAMETERS = list(registry.METAPARAMETERS)
COUNTS = [name for name, m in registry.METAPARAMETERS.items() if m.scale == "integer"]  # integer columns
STUDY_COLUMNS = [
    *IDENTITY_COLUMNS, "n_trials", "goal_error", "best_trial", "steps_to_result", *METAPARAMETERS,
    *(f"n_{s}" for s in STATUSES), "best_at_edge", "code",
]  # fmt: skip
# trials.csv: what the trial is and how it was trained, what was tried, what came of it.
TRIAL_COLUMNS = [
    *IDENTITY_COLUMNS, "trial", "seed", *METAPARAMETERS, "goal_error", "status", "best", "steps_to_result",
    "steps_trained", "diverged_at_step", "code",
]  # fmt: skip
SORT = ["workload", "sparsity", "pruning", "batch_size", "goal_error", "replicate"]


def best_trial(trials: list[dict]) -> dict | None:
    """The trial that reached the goal in the fewest steps, ties to the lowest trial number;
    ``trials`` are rows with ``trial``, ``status`` and ``steps_to_result``. None if none reached it."""
    complete = [t for t in trials if t["status"] == COMPLETE]
    return min(complete, key=lambda t: (t["steps_to_result"], t["trial"])) if complete else None


def at_search_edge(best: int, trials: list[dict], search: dict) -> str:
    """The searched metaparameters whose best value (trial ``best``'s) is the lowest or highest
    any trial of the study tried, e.g. "learning_rate highest"; "" if none. A best value at the
    edge of the search space says the space may not hold the optimum (choose a wider one)."""
    edges = []
    for name, key in SEARCH_RANGE.items():
        if key not in search or search[key]["low"] == search[key]["high"]:  # not searched: one value
            continue
        values = [t["identity"]["metaparameters"][name] for t in trials]
        best_value = values[best]
        if best_value == min(values):
            edges.append(f"{name} lowest")
        elif best_value == max(values):
            edges.append(f"{name} highest")
    return ", ".join(edges)


def outcome_problems(record: dict) -> list[str]:
    """What makes a trial record's outcome inconsistent with itself: per goal, steps_to_result
    must be the first evaluation step of its curve whose error count meets the goal (none for a
    trial that did not reach it), statuses must agree with the steps trained and divergence."""
    ident, curve = record["identity"], record["curve"]
    steps, errors, n_val = curve["step"], curve["val_errors"], record["n_validation"]
    problems = []
    if len(steps) != len(errors) or any(b <= a for a, b in zip(steps, steps[1:])):
        problems.append("its curve's steps are not increasing, one error count each")
    if any(s % ident["eval_every"] and s != ident["budget_steps"] for s in steps):
        problems.append(f"its curve has steps that are not evaluation steps (every {ident['eval_every']})")
    if [g["goal_error"] for g in record["goals"]] != ident["goal_errors"]:
        problems.append("its goals are not its identity's goal_errors")
        return problems
    for goal in record["goals"]:
        met = next((s for s, e in zip(steps, errors) if e / n_val <= goal["goal_error"]), None)
        if goal["steps_to_result"] != met:
            problems.append(
                f"goal {goal['goal_error']}: steps_to_result {goal['steps_to_result']}, but its curve first meets "
                f"the goal at step {met}"
            )
        if (goal["status"] == COMPLETE) != (met is not None) or goal["status"] not in STATUSES:
            problems.append(f"goal {goal['goal_error']}: status {goal['status']} with steps_to_result {met}")
    statuses = {g["status"] for g in record["goals"]}
    if (INFEASIBLE in statuses) != (record["diverged_at_step"] is not None):
        problems.append("status infeasible if and only if it diverged (diverged_at_step)")
    if INCOMPLETE in statuses and record["steps_trained"] < ident["budget_steps"]:
        problems.append(f"status incomplete after {record['steps_trained']} of {ident['budget_steps']} steps")
    if steps and steps[-1] > record["steps_trained"]:
        problems.append(f"curve past the {record['steps_trained']} steps trained")
    return problems


def check_trials(records: dict, study: dict, redo: str) -> None:
    """Refuse trial records (path -> record of trial 0, 1, ..., in order) whose identity is not
    the one ``study`` expects of them, or whose outcome contradicts itself; the error names every
    such file, what is wrong and how to redo them."""
    expected = trial_identities(study, range(len(records)))
    stale, wrong = {}, {}
    for (path, record), want in zip(records.items(), expected):
        diff = differences(record["identity"], want)
        if diff:
            stale[path] = diff
            continue
        try:
            problems = outcome_problems(record)
        except (KeyError, TypeError, ZeroDivisionError) as exc:
            problems = [f"it lacks {exc} or holds a value of the wrong kind there"]
        if problems:
            wrong[path] = problems
    for bad, what in (
        (stale, "were made with other settings or code than this experiment's"),
        (wrong, "hold outcomes that contradict their own curves"),
    ):
        if bad:
            shown = [f"  {path}: {'; '.join(diff)}" for path, diff in list(bad.items())[:10]]
            more = [f"  ... and {len(bad) - 10} more"] if len(bad) > 10 else []
            files = " ".join(str(p) for p in bad)
            raise IdentityError(
                f"{len(bad)} trial record(s) {what}, and are not mixed into its results:\n"
                + "\n".join(shown + more)
                + f"\nRedo them: rm {files} && {redo}"
            )


def reduce_study(records: dict, study: dict, redo: str = "rerun snakemake") -> dict:
    """The study record of ``study`` (its identity) from its trial records (path -> record of
    trial 0, 1, ..., in order), all checked first: per goal, the best trial, its metaparameters
    and the count of each status."""
    check_trials(records, study, redo)
    trials = list(records.values())
    goals = []
    for i, goal in enumerate(study["goal_errors"]):
        rows = [{"trial": t["identity"]["trial"], **t["goals"][i]} for t in trials]
        best = best_trial(rows)
        goals.append(
            {
                "goal_error": goal,
                "best_trial": best["trial"] if best else None,
                "steps_to_result": best["steps_to_result"] if best else None,
                "metaparameters": trials[best["trial"]]["identity"]["metaparameters"] if best else None,
                "best_at_edge": at_search_edge(best["trial"], trials, study["search"]) if best else None,
                **{f"n_{s}": sum(r["status"] == s for r in rows) for s in STATUSES},
            }
        )
    return {"identity": study, "n_trials": len(trials), "goals": goals}


def check_studies(records: dict, expected: list[dict], redo: str) -> None:
    """Refuse study records (path -> record) that are not the experiment's ``expected`` studies
    (identity and n_trials), in the same order."""
    problems = []
    for (path, record), want in zip(records.items(), expected):
        found = {**record["identity"], "n_trials": record["n_trials"]}
        diff = differences(found, want) or [
            f"goal {g['goal_error']}: its status counts add up to {sum(g[f'n_{s}'] for s in STATUSES)}, not "
            f"n_trials {record['n_trials']}"
            for g in record["goals"]
            if sum(g[f"n_{s}"] for s in STATUSES) != record["n_trials"]
        ]
        if diff:
            problems.append(f"  {path}: {'; '.join(diff)}")
    if problems:
        raise IdentityError(
            "study record(s) made with other settings or code than this experiment's, or inconsistent:\n"
            + "\n".join(problems)
            + f"\nRedo them: rm {' '.join(str(p) for p, _ in records.items())} && {redo}"
        )


def _identity_row(identity: dict) -> dict:
    row = {k: identity[k] for k in IDENTITY_COLUMNS if k in identity}
    return {**row, "pruning": identity["pruning"]["method"], "code": identity["code"]}


def study_table(studies: list[dict]) -> pd.DataFrame:
    """One row per (study, goal error); metaparameters a workload does not search stay empty."""
    rows = []
    for study in studies:
        for goal in study["goals"]:
            row = {**_identity_row(study["identity"]), "n_trials": study["n_trials"]}
            row.update({k: v for k, v in goal.items() if k != "metaparameters"})
            row.update(goal["metaparameters"] or {})
            rows.append(row)
    table = pd.DataFrame(rows, columns=STUDY_COLUMNS)
    for col in ("best_trial", "steps_to_result", *COUNTS):
        table[col] = table[col].astype("Int64")
    return table.sort_values(SORT).reset_index(drop=True)


def trial_table(trials: list[dict], studies: list[dict]) -> pd.DataFrame:
    """One row per (trial, goal error): identity, metaparameters, status, steps (no curves), and
    whether its study's reduction (in ``studies``) chose it as the best trial for that goal."""

    def study_key(ident):
        return ident["workload"], ident["pruning"]["method"], ident["sparsity"], ident["batch_size"], ident["replicate"]

    best = {(*study_key(s["identity"]), g["goal_error"]): g["best_trial"] for s in studies for g in s["goals"]}
    rows = []
    for t in trials:
        ident = t["identity"]
        base = {**_identity_row(ident), "trial": ident["trial"], "seed": ident["seed"], **ident["metaparameters"]}
        base.update(steps_trained=t["steps_trained"], diverged_at_step=t["diverged_at_step"])
        for goal in t["goals"]:
            chosen = best.get((*study_key(ident), goal["goal_error"]))
            rows.append({**base, **goal, "best": chosen == ident["trial"]})
    table = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
    for col in ("steps_to_result", "diverged_at_step", *COUNTS):
        table[col] = table[col].astype("Int64")
    return table.sort_values([*SORT, "trial"]).reset_index(drop=True)


def read_checked_studies(paths, expected: list[dict], redo: str) -> list[dict]:
    """Study records, in order, checked to be the ``expected`` studies (identity and n_trials)."""
    records = {p: read_record(p, "study") for p in paths}
    check_studies(records, expected, redo)
    return list(records.values())


def read_checked_trials(paths, studies: list[dict], redo: str) -> list[dict]:
    """Trial records of ``studies`` (identity and n_trials each; ``paths`` holds their trials in
    order, study after study), each checked against the identity its study expects of it."""
    paths, trials = list(paths), []
    for study in studies:
        n = study["n_trials"]
        records = {p: read_record(p, "trial") for p in paths[:n]}
        paths = paths[n:]
        check_trials(records, {k: v for k, v in study.items() if k != "n_trials"}, redo)
        trials += records.values()
    return trials


def read_checked_noise(paths, expected: list[dict], redo: str) -> list[dict]:
    """Noise-scale records, in order, checked to be the ``expected`` estimates."""
    records = []
    for path, want in zip(paths, expected):
        record = read_record(path, "noise-scale")
        diff = differences(record["identity"], want)
        if diff:
            raise IdentityError(
                f"{path} was made with other settings or code than this experiment's: {'; '.join(diff)}. "
                f"Redo it: rm {path} && {redo}"
            )
        records.append(record)
    return records


NOISE_COLUMNS = [
    "batch_small", "batch_big", "draws", "networks", "g2", "g2_se", "trace_sigma", "trace_sigma_se", "b_simple",
    "b_simple_se",
]  # fmt: skip


def noise_table(records: list[dict], workloads: dict) -> pd.DataFrame:
    """One row per (workload, pruning method, sparsity): the noise scale of the workload's network
    pruned so."""
    noise = pd.DataFrame(
        [
            {
                **{k: r["identity"][k] for k in ("dataset", "model", "sparsity", "batch_small", "batch_big", "draws")},
                "pruning": r["identity"]["pruning_method"],
                **{k: r[k] for k in NOISE_COLUMNS if k in r},
                "networks": len(r["seeds"]),
            }
            for r in records
        ]
    )
    rows = [
        {
            "workload": name,
            "dataset": spec["dataset"],
            "model": spec["model"],
            "optimizer": spec["optimizer"],
            "pruning": method,
            "sparsity": s,
        }
        for name, spec in workloads.items()
        for s, method in pruned_networks(spec)
    ]
    table = pd.DataFrame(rows).merge(
        noise, on=["dataset", "model", "pruning", "sparsity"], how="left", validate="many_to_one"
    )
    return table[[*rows[0], *NOISE_COLUMNS]]
