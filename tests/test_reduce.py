import json

import pandas as pd
import pytest

from sparsedp.plots import render
from sparsedp.reduce import reduce_study, study_table, trial_table


def trial(k, status, steps=None, workload="mnist_momentum", sparsity=0.9, batch=64):
    return {
        "workload": workload, "dataset": "mnist", "model": "simple_cnn", "optimizer": workload.split("_")[1],
        "schedule": "constant", "sparsity": sparsity, "batch_size": batch, "goal_error": 0.02, "mode": "race", "trial": k,
        "status": status, "steps_to_result": steps, "steps_trained": steps or 100,
        "metaparameters": {"learning_rate": 0.01 * (k + 1), "momentum": 0.9, "decay_steps": None, "end_factor": 1.0},
        "curve": {"step": [16], "val_errors": [10], "val_examples": [6000], "train_loss": [0.5]},
    }  # fmt: skip


def write(tmp_path, trials):
    paths = []
    for t in trials:
        path = tmp_path / f"trial{t['trial']:03d}.json"
        path.write_text(json.dumps(t))
        paths.append(path)
    return [json.loads(p.read_text()) for p in paths]


def test_best_trial_is_the_lowest_steps_with_ties_to_the_lowest_trial(tmp_path):
    trials = write(
        tmp_path,
        [trial(0, "incomplete"), trial(1, "complete", 320), trial(2, "infeasible"), trial(3, "complete", 160),
         trial(4, "complete", 160), trial(5, "pruned", 160)],
    )  # fmt: skip
    study = reduce_study(trials)
    assert study["best_trial"] == 3 and study["steps_to_result"] == 160
    assert study["learning_rate"] == pytest.approx(0.04)
    assert (study["n_complete"], study["n_incomplete"], study["n_infeasible"], study["n_pruned"]) == (3, 1, 1, 1)
    assert study["n_trials"] == 6


def test_a_study_where_no_trial_reached_the_goal_has_no_steps(tmp_path):
    study = reduce_study(write(tmp_path, [trial(0, "incomplete"), trial(1, "infeasible")]))
    assert study["best_trial"] is None and study["steps_to_result"] is None
    table = study_table([study])
    assert pd.isna(table.loc[0, "steps_to_result"])


def test_trials_of_another_study_are_refused():
    with pytest.raises(ValueError, match="another study"):
        reduce_study([trial(0, "complete", 16), trial(1, "complete", 16, batch=128)])


def test_tables_are_tidy_and_sorted():
    studies = [
        reduce_study([trial(0, "complete", s, sparsity=sp, batch=b)])
        for sp, b, s in [(0.9, 128, 80), (0.0, 64, 96), (0.0, 16, 400)]
    ]
    table = study_table(studies)
    assert list(table[["sparsity", "batch_size"]].itertuples(index=False, name=None)) == [
        (0.0, 16),
        (0.0, 64),
        (0.9, 128),
    ]
    assert table["steps_to_result"].dtype == "Int64"
    trials = [trial(1, "complete", 32), trial(0, "pruned", 32)]
    rows = trial_table(trials, [reduce_study(trials)])
    assert list(rows["trial"]) == [0, 1] and "learning_rate" in rows and "curve" not in rows
    assert list(rows["best"]) == [False, True]  # the study's best trial, as its reduction chose it


def test_metaparameters_a_workload_does_not_search_are_empty():
    # Trials carry the values they trained with: momentum 0 under SGD, no decay at a constant rate.
    sgd = trial(0, "complete", 32, workload="mnist_sgd") | {
        "metaparameters": dict(learning_rate=0.1, momentum=0.0, decay_steps=None, end_factor=1.0)
    }
    momentum = trial(0, "complete", 32)
    studies = study_table([reduce_study([sgd]), reduce_study([momentum])]).set_index("workload")
    trials = trial_table([sgd, momentum], []).set_index("workload")
    for table in (studies, trials):
        assert table.loc["mnist_sgd", "learning_rate"] == 0.1
        assert table.loc[["mnist_sgd"], ["momentum", "decay_steps", "end_factor"]].isna().all(axis=None)
        assert table.loc["mnist_momentum", "momentum"] == 0.9
        assert table.loc[["mnist_momentum"], ["decay_steps", "end_factor"]].isna().all(axis=None)
    assert studies.loc["mnist_sgd", "mode"] == "race"


@pytest.mark.parametrize("figure", ["fig1_mnist", "fig2_mnist"])
def test_figures_render_from_a_table(tmp_path, figure):
    studies = [
        reduce_study([trial(0, "complete", int(4096 / b * (1 + sp)) + 16, workload=wl, sparsity=sp, batch=b)])
        for wl in ("mnist_sgd", "mnist_momentum")
        for sp in (0.0, 0.9)
        for b in (16, 64, 256)
    ]
    render(figure, study_table(studies), tmp_path / "f.pdf", tmp_path / "f.png", experiment="test")
    assert (tmp_path / "f.pdf").stat().st_size > 5000 and (tmp_path / "f.png").stat().st_size > 5000
