"""The committed reference results (reference/*/, made by the commands their READMEs name)
checked against what they must show: every analysis table (replicates, critical batch sizes,
claims) the one the current analysis computes from the reference's own steps-to-result table, one
code version per table, every pruning method judged, no quick study's best trial at an edge."""

import dataclasses
import io
from pathlib import Path

import pandas as pd
import pytest

from sparsedp import config as cfg
from sparsedp.config import load_yaml
from sparsedp.identity import study_identity
from sparsedp.reduce import reduce_study, study_table
from sparsedp.results import read_record
from sparsedp.tables import analysis_tables, markdown, readme_blocks

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "reference"
EXPERIMENTS = ["quick", "quick_replicated", "cpu_paper", "pruning_quick", "digits"]
QUICK_GOAL = 0.05  # the goal the quick preset's figures and claims use


# A run's finished curves, committed while the rest trains across sessions: steps_to_result.csv and its analysis.
IN_PROGRESS = ["cpu_paper/progress"]


@pytest.mark.parametrize("experiment", EXPERIMENTS + IN_PROGRESS)
def test_every_analysis_table_follows_from_the_steps_to_result_table(experiment):
    studies = pd.read_csv(REFERENCE / experiment / "steps_to_result.csv")
    for name, computed in analysis_tables(studies, load_yaml(REPO / "config.yaml")["analysis"]).items():
        committed = pd.read_csv(REFERENCE / experiment / name)
        # Through CSV, as committed: the same text for the same values.
        pd.testing.assert_frame_equal(committed, pd.read_csv(io.StringIO(computed.to_csv(index=False))))


def test_the_progress_tables_are_the_committed_trial_records_reduced():
    """reference/cpu_paper/progress holds every point (workload, network, batch size) whose
    replicates' trial records are all committed, each study reduced from its records (checked
    against the study config/cpu_paper.yaml defines, but for the code version they name)."""
    config = cfg.load(
        [REPO / "config.yaml", REPO / "config/cpu_paper.yaml"], REPO / "workflow/schemas/config.schema.yaml"
    )
    saved = REFERENCE / "cpu_paper"
    points: dict[cfg.Study, list] = {}
    for study in cfg.studies(config):
        names = [cfg.trial_name(k) for k in range(config["search"]["n_trials"])]
        paths = [saved / cfg.TRIAL_PATH.format(trial=name, **study.wildcards) for name in names]
        trials = {p: read_record(p, "trial") for p in paths if p.exists()}
        if len(trials) == len(paths):
            expected = {**study_identity(config, study), "code": trials[paths[0]]["identity"]["code"]}
            records = points.setdefault(dataclasses.replace(study, replicate=0), [])
            records.append(reduce_study(trials, expected))
    replicates = config["workloads"]["mnist_momentum"]["replicates"]
    finished = [record for records in points.values() if len(records) == replicates for record in records]
    progress = pd.read_csv(saved / "progress/steps_to_result.csv")
    assert len(progress) >= 2 * 7 * replicates  # the dense Momentum curve at least, at two goals
    pd.testing.assert_frame_equal(progress, pd.read_csv(io.StringIO(study_table(finished).to_csv(index=False))))


def test_no_quick_study_has_its_best_trial_at_a_sampled_edge():
    """At the goal its figures and claims use: a best learning rate at the lowest or highest
    sampled point would mean the search space cuts the optimum off."""
    studies = pd.read_csv(REFERENCE / "quick" / "steps_to_result.csv")
    at_goal = studies[studies["goal_error"] == QUICK_GOAL]
    assert len(at_goal) == 18 and at_goal["best_at_edge"].isna().all(), at_goal[["workload", "batch_size"]]


def test_every_pruning_method_is_trained_and_judged():
    studies = pd.read_csv(REFERENCE / "pruning_quick" / "steps_to_result.csv")
    claims = pd.read_csv(REFERENCE / "pruning_quick" / "claims.csv")
    methods = {"snip", "random", "magnitude", "grasp", "synflow"}
    assert set(studies["pruning"]) == methods | {"none"}
    assert set(studies.loc[studies["pruning"] == "none", "sparsity"]) == {0.0}
    for claim in ("a_sparse_steps_ratio", "b_sparse_critical_batch"):
        assert set(claims.loc[claims["claim"] == claim, "pruning"]) == methods, claim


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_reference_table_is_one_experiment_at_one_code_version(experiment):
    """One code per (model, optimizer, schedule): the code a trial runs is its engine core, its
    model's and its optimizer's and schedule's (identity.trial_code)."""
    table = pd.read_csv(REFERENCE / experiment / "steps_to_result.csv")
    trials = pd.read_csv(REFERENCE / experiment / "trials.csv")
    assert table.groupby(["model", "optimizer", "schedule"])["code"].nunique().eq(1).all()
    assert set(trials["code"]) == set(table["code"])
    assert (table["n_trials"] == table["n_trials"].iloc[0]).all()
    readme = (REFERENCE / experiment / "README.md").read_text()
    for needle in ("commit", "snakemake", "wall time", "2 CPU cores"):
        assert needle in readme, needle


READMES = [REPO / "README.md", *sorted(REFERENCE.glob("*/README.md"))]


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_results_a_readme_quotes_are_its_tables(readme):
    """A README's results are blocks generated from a reference's tables (sparsedp.tables), and
    equal to what those tables give now."""
    blocks = readme_blocks(readme.read_text())
    for folder, block in blocks.items():
        assert block == markdown(REPO / folder), f"{readme}: rerun python -m sparsedp.tables {folder} --readme {readme}"
    # README.md quotes a reference; each reference with tables quotes its own.
    assert blocks or not (readme == REPO / "README.md" or (readme.parent / "steps_to_result.csv").exists())
