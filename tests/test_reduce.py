import copy

import pandas as pd
import pytest

from sparsedp.config import Study
from sparsedp.identity import IdentityError, study_identity, trial_identities
from sparsedp.plots import render
from sparsedp.reduce import best_trial, reduce_study, study_table, trial_table

from conftest import load_config


def study(config=None, workload="mnist_momentum", sparsity=0.9, batch=64) -> dict:
    return study_identity(config or load_config(), Study(workload, sparsity, batch))


def records(identity: dict, outcomes) -> dict:
    """Trial records of ``identity``'s study: outcomes[k] = (status, steps) per goal of trial k,
    each with a curve that agrees (it first meets each goal at its steps)."""
    trials, n_val, every = trial_identities(identity, range(len(outcomes))), 1000, identity["eval_every"]
    found = {}
    for k, per_goal in enumerate(outcomes):
        statuses = [status for status, _ in per_goal]
        trained = identity["budget_steps"] if "incomplete" in statuses else max(s or every for _, s in per_goal)
        curve = {"step": list(range(every, trained + 1, every))}
        reached = [[g for g, (_, s) in zip(identity["goal_errors"], per_goal) if s and s <= t] for t in curve["step"]]
        curve["val_errors"] = [round(n_val * (min(r) if r else max(identity["goal_errors"]) + 0.01)) for r in reached]
        found[f"trial{k:03d}.json"] = {
            "identity": trials[k],
            "goals": [
                {"goal_error": g, "status": status, "steps_to_result": steps}
                for g, (status, steps) in zip(identity["goal_errors"], per_goal)
            ],
            "steps_trained": trained,
            "diverged_at_step": trained if "infeasible" in statuses else None,
            "n_validation": n_val,
            "curve": curve,
        }
    return found


def test_best_trial_is_the_lowest_steps_with_ties_to_the_lowest_trial():
    rows = [{"trial": 0, "status": "incomplete", "steps_to_result": None},
            {"trial": 1, "status": "complete", "steps_to_result": 320},
            {"trial": 3, "status": "complete", "steps_to_result": 160},
            {"trial": 4, "status": "complete", "steps_to_result": 160},
            {"trial": 5, "status": "pruned", "steps_to_result": None}]  # fmt: skip
    assert best_trial(rows)["trial"] == 3
    assert best_trial(rows[:1]) is None


# Five trials' (status, steps_to_result) at goals 0.05 and 0.02: every status, ties and a best per goal.
OUTCOMES = [
    [("complete", 96), ("incomplete", None)],
    [("complete", 48), ("complete", 320)],
    [("infeasible", None), ("infeasible", None)],
    [("complete", 48), ("complete", 160)],
    [("complete", 64), ("pruned", None)],
]


def test_a_study_per_goal_with_its_best_trial_metaparameters_and_status_counts():
    config = load_config()
    config["workloads"]["mnist_momentum"]["goal_errors"] = [0.05, 0.02]
    identity = study(config)
    result = reduce_study(records(identity, OUTCOMES), identity)
    loose, tight = result["goals"]
    assert result["n_trials"] == 5 and result["identity"] == identity
    assert (loose["goal_error"], loose["best_trial"], loose["steps_to_result"]) == (0.05, 1, 48)
    assert (tight["goal_error"], tight["best_trial"], tight["steps_to_result"]) == (0.02, 3, 160)
    assert tight["metaparameters"] == trial_identities(identity, [3])[0]["metaparameters"]
    assert (tight["n_complete"], tight["n_incomplete"], tight["n_infeasible"], tight["n_pruned"]) == (2, 1, 1, 1)
    table = study_table([result])
    assert list(table["goal_error"]) == [0.02, 0.05] and list(table["steps_to_result"]) == [160, 48]


def test_a_study_where_no_trial_reached_the_goal_has_no_steps():
    identity = study()
    result = reduce_study(records(identity, [[("incomplete", None)], [("infeasible", None)]]), identity)
    assert result["goals"][0]["best_trial"] is None and result["goals"][0]["steps_to_result"] is None
    assert pd.isna(study_table([result]).loc[0, "steps_to_result"])


def test_trials_of_other_settings_are_refused_naming_file_keys_and_the_redo_command():
    identity = study()
    found = records(identity, [[("complete", 16)], [("complete", 32)]])
    other = copy.deepcopy(found["trial001.json"])
    other["identity"]["goal_errors"] = [0.1]
    other["identity"]["code"] = "0123456789ab"
    found["trial001.json"] = other
    with pytest.raises(IdentityError) as info:
        reduce_study(found, identity, redo="snakemake --cores N")
    message = str(info.value)
    assert "1 trial record(s)" in message and "trial001.json: code: '0123456789ab'" in message
    assert "goal_errors: [0.1] (expected [0.02])" in message
    assert "rm trial001.json && snakemake --cores N" in message
    swapped = records(identity, [[("complete", 16)], [("complete", 32)]])
    swapped = dict(zip(swapped, reversed(swapped.values())))  # files renamed: trial 1's record in trial000.json
    with pytest.raises(IdentityError, match="trial000.json: .*trial: 1 \\(expected 0\\)"):
        reduce_study(swapped, identity)


def test_tables_are_tidy_sorted_and_leave_unsearched_metaparameters_empty():
    config = load_config()
    studies = [
        reduce_study(records(ident, [[("complete", s)]]), ident)
        for ident, s in [(study(config, "mnist_sgd", 0.9, 128), 80), (study(config, "mnist_momentum", 0.0, 64), 96),
                         (study(config, "mnist_momentum", 0.0, 16), 400)]
    ]  # fmt: skip
    table = study_table(studies)
    assert list(table[["workload", "sparsity", "batch_size"]].itertuples(index=False, name=None)) == [
        ("mnist_momentum", 0.0, 16),
        ("mnist_momentum", 0.0, 64),
        ("mnist_sgd", 0.9, 128),
    ]
    assert table["steps_to_result"].dtype == "Int64"
    sgd = table[table["optimizer"] == "sgd"].iloc[0]
    assert pd.isna(sgd["momentum"]) and pd.isna(sgd["decay_steps"]) and pd.isna(sgd["end_factor"])
    # Figure 4 trains its studies (here dense Momentum at batch 16) to the end: census mode.
    assert list(table["mode"]) == ["census", "race", "race"]
    # A trial's code is the code it ran: the engine's core and its optimizer's update rule.
    assert table.groupby("optimizer")["code"].nunique().eq(1).all() and table["code"].nunique() == 2
    ident = study(config)
    trials = records(ident, [[("complete", 32)], [("pruned", None)]])
    rows = trial_table(list(trials.values()), [reduce_study(trials, ident)])
    assert list(rows["trial"]) == [0, 1] and "learning_rate" in rows and "curve" not in rows
    assert list(rows["status"]) == ["complete", "pruned"] and list(rows["best"]) == [True, False]


@pytest.mark.parametrize("figure", ["fig1_mnist", "fig2_mnist"])
def test_figures_render_from_a_table(tmp_path, figure):
    config = load_config()
    studies = []
    for wl in ("mnist_sgd", "mnist_momentum"):
        for sp in (0.0, 0.9):
            for b in (16, 64, 256):
                ident = study(config, wl, sp, b)
                studies.append(
                    reduce_study(records(ident, [[("complete", 16 * round(256 / b * (1 + sp)) + 16)]]), ident)
                )
    render(figure, study_table(studies), tmp_path / "f.pdf", tmp_path / "f.png", experiment="test")
    assert (tmp_path / "f.pdf").stat().st_size > 5000 and (tmp_path / "f.png").stat().st_size > 5000


def test_a_best_value_at_the_edge_of_the_searched_points_is_reported():
    config = load_config()
    identity = study(config)  # Momentum: learning rate and momentum searched
    tried = [t["metaparameters"] for t in trial_identities(identity, range(8))]
    lrs, moms = [m["learning_rate"] for m in tried], [m["momentum"] for m in tried]
    fastest = lrs.index(max(lrs))
    trials = records(identity, [[("complete", 32 if k == fastest else 64)] for k in range(8)])
    edge = reduce_study(trials, identity)["goals"][0]["best_at_edge"]
    expected = ["learning_rate highest"]
    if moms[fastest] in (min(moms), max(moms)):
        expected.append(f"momentum {'lowest' if moms[fastest] == min(moms) else 'highest'}")
    assert edge == ", ".join(expected)
    inner = sorted(range(8), key=lambda k: lrs[k])[3]  # neither the lowest nor the highest rate
    trials = records(identity, [[("complete", 32 if k == inner else 64)] for k in range(8)])
    assert "learning_rate" not in reduce_study(trials, identity)["goals"][0]["best_at_edge"]
    # A range of one value (momentum fixed) is not searched: never an edge.
    config["search"]["one_minus_momentum"] = {"low": 0.1, "high": 0.1}
    fixed = study(config)
    trials = records(fixed, [[("complete", 128 - 16 * k)] for k in range(8)])
    assert "momentum" not in reduce_study(trials, fixed)["goals"][0]["best_at_edge"]


def test_a_record_whose_outcome_contradicts_its_curve_is_refused_naming_it():
    """A hand-edited steps_to_result (3: not even an evaluation step; its curve says 16), a
    status that its curve contradicts, or a record without goals: named, with the redo command."""
    identity = study()
    found = records(identity, [[("complete", 16)], [("complete", 32)], [("pruned", None)]])
    for edit, problem in (
        (
            lambda r: r["goals"][0].update(steps_to_result=3),
            "steps_to_result 3, but its curve first meets the goal at step 16",
        ),
        (lambda r: r["goals"][0].update(status="pruned", steps_to_result=None), "status pruned"),
        (lambda r: r.pop("goals"), "lacks 'goals'"),
    ):
        edited = copy.deepcopy(found)
        edit(edited["trial000.json"])
        with pytest.raises(IdentityError) as refused:
            reduce_study(edited, identity, redo="snakemake --cores 2 --configfile=x.yaml")
        message = str(refused.value)
        assert "trial000.json" in message and problem in message and "trial001.json" not in message
        assert "rm trial000.json && snakemake --cores 2 --configfile=x.yaml" in message
