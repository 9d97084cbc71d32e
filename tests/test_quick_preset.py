"""README command 1's experiment, the quick preset, run through Snakemake on real MNIST (about 12
minutes on 2 CPU cores), and its HTML report."""

import re

import matplotlib.image
import pandas as pd
import pytest

from conftest import DATA_CACHE, load_config, results, snakemake

FIGURES = ["fig1_mnist", "fig4_mnist", "noise_scale"]
TABLES = ["steps_to_result", "trials", "critical_batch", "noise_scale", "claims", "fig1_mnist", "fig4_mnist"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("quick")
    config = load_config("config/quick.yaml")
    config["data"]["cache"] = str(DATA_CACHE)  # the originals every test shares
    snakemake(workdir, config, "--cores", "2")
    report = workdir / "report.html"
    proc = snakemake(workdir, config, "--report", str(report))
    return workdir, config, report, proc.stdout + proc.stderr


def test_every_study_reaches_the_goal_and_more_data_parallelism_takes_fewer_steps(quick_run):
    workdir, config, _, _ = quick_run
    studies = pd.read_csv(results(workdir, config) / "tables/steps_to_result.csv")
    workload = config["workloads"]["mnist_momentum"]
    assert len(studies) == len(workload["sparsities"]) * len(workload["batch_sizes"])
    assert studies["steps_to_result"].notna().all() and (studies["n_trials"] == 10).all()
    for _, curve in studies.groupby("sparsity"):
        steps = curve.set_index("batch_size")["steps_to_result"]
        assert steps[256] < steps[16]
    fits = pd.read_csv(results(workdir, config) / "tables/critical_batch.csv")
    assert len(fits) == 2 and fits["b_crit"].between(16, 256 * 16).all()


def test_figure4_studies_are_a_census_and_the_others_a_race(quick_run):
    workdir, config, _, _ = quick_run
    trials = pd.read_csv(results(workdir, config) / "tables/trials.csv")
    census = {(float(s), int(b)) for s, b in config["figures"]["fig4_mnist"]["studies"]}
    in_census = [(s, b) in census for s, b in zip(trials["sparsity"], trials["batch_size"])]
    assert set(trials.loc[in_census, "status"]) <= {"complete", "incomplete", "infeasible"}
    assert (trials.loc[[not c for c in in_census], "status"] == "pruned").any()


def test_claims_are_judged_or_say_why_not(quick_run):
    workdir, config, _, _ = quick_run
    claims = pd.read_csv(results(workdir, config) / "tables/claims.csv")
    assert {"a_sparse_steps_ratio", "b_sparse_critical_batch", "c_momentum_vs_sgd"} <= set(claims["claim"])
    assert set(claims["holds"]) <= {"yes", "no", "undecided"}
    sgd = claims[claims["claim"] == "c_momentum_vs_sgd"]
    assert (sgd["holds"] == "undecided").all() and sgd["note"].str.contains("SGD").all()  # no SGD in the preset
    ratio = claims[claims["claim"] == "a_sparse_steps_ratio"]
    assert ratio["holds"].isin(["yes", "no"]).all()  # both curves reached the goal at batch 16


def test_report_is_self_contained_with_every_figure_and_table(quick_run):
    workdir, config, report, log = quick_run
    html = report.read_text()
    external = re.findall(r"""<(?:script|img|link|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']([^"']+)""", html)
    assert [u for u in external if not u.startswith("data:")] == [], external
    for name in [f"{f}.png" for f in FIGURES] + [f"{t}.csv" for t in TABLES]:
        assert f"Adding {name}" in log and name in html, name
    for figure in FIGURES:
        height, width, _ = matplotlib.image.imread(results(workdir, config) / f"figures/{figure}.png").shape
        assert height > 300 and width > 600, figure
