"""The workflow itself, driven through Snakemake on a tiny config with real MNIST."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, copy_run, load_config, results, snakemake, tiny_config


def job_counts(output: str) -> dict[str, int]:
    """Snakemake's own 'Job stats' table of a dry run: rule -> number of jobs."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def dry_run(workdir, config):
    proc = snakemake(workdir, config, "-n")
    return job_counts(proc.stdout + proc.stderr)


def test_dry_run_of_the_default_config_lists_the_full_paper_grid(tmp_path):
    counts = dry_run(tmp_path, load_config())
    mnist, cifar = 3 * 4 * 10, 2 * 13  # studies: optimizers x sparsities x batch sizes
    assert counts["train_pack"] == (mnist + cifar) * 100 // 10
    assert "train_trial" not in counts
    # One mask per (network, sparsity, seed), shared by optimizers and batch sizes, made a
    # training pack of seeds per job.
    assert counts["prune_pack"] == (4 + 2) * 100 // 10 and "prune_mask" not in counts
    assert counts["reduce_study"] == mnist + cifar
    assert counts["dataset"] == 2
    assert counts["network_facts"] == 2  # Simple-CNN on MNIST, ResNet-8 on CIFAR-10, each checked once
    # The noise scale once per (network, sparsity): the three MNIST optimizers share it.
    assert counts["noise_scale"] == 4 + 2
    assert counts["noise_scale_table"] == counts["noise_scale_figure"] == 1
    assert counts["figure"] == counts["figure_table"] == 5  # Figures 1-5
    assert counts["claims_table"] == counts["critical_batch_table"] == counts["replicates_table"] == 1
    assert counts["provenance"] == 1


def test_lint_and_format_are_clean():
    lint = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Congratulations" in lint.stdout + lint.stderr
    snakefmt = Path(sys.executable).with_name("snakefmt")  # the venv's, whether or not it is on PATH
    fmt = subprocess.run([str(snakefmt), "--check", "."], cwd=REPO, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_bad_config_fails_before_any_job_and_touches_nothing(tmp_path):
    config = tiny_config()
    config["workloads"]["mnist_momentum"]["optimizer"] = "lamb"
    proc = snakemake(tmp_path, config, "--cores", "1", check=False)
    assert proc.returncode != 0
    assert "config key 'workloads.mnist_momentum.optimizer'" in proc.stderr
    assert "allowed: sgd, momentum, nesterov, adam" in proc.stderr
    assert not (tmp_path / "results").exists()


def test_end_to_end_run_produces_tables_figures_and_trial_records(finished_run):
    workdir, config = finished_run
    out = results(workdir, config)
    assert sorted(p.name for p in (workdir / "results").iterdir()) == ["tiny"]  # nothing outside the experiment
    table = pd.read_csv(out / "tables/steps_to_result.csv")
    workload = config["workloads"]["mnist_momentum"]
    assert len(table) == len(workload["sparsities"]) * len(workload["batch_sizes"])
    assert (table["n_trials"] == 10).all()
    assert table[["n_complete", "n_incomplete", "n_infeasible", "n_pruned"]].sum(axis=1).eq(10).all()
    # The tiny goal (50% error) is reached by some trial of every study, at an evaluation step.
    assert table["steps_to_result"].notna().all()
    assert (table["steps_to_result"] % config["training"]["eval_every"] == 0).all()
    trial = json.loads((out / "trials/mnist_momentum/snip/sparsity90/batch32/trial003.json").read_text())
    identity = trial["identity"]
    assert identity["trial"] == 3 and identity["sparsity"] == 0.9 and identity["batch_size"] == 32
    assert identity["goal_errors"] == [0.5] and identity["mask"]["seed"] == 3
    assert set(identity["metaparameters"]) == {"learning_rate", "momentum"}  # what Momentum searches
    assert [g["goal_error"] for g in trial["goals"]] == [0.5]
    assert trial["goals"][0]["status"] in {"complete", "incomplete", "infeasible", "pruned"}
    assert len(trial["curve"]["step"]) == len(trial["curve"]["val_errors"]) > 0
    best = table.loc[(table["sparsity"] == 0.9) & (table["batch_size"] == 32)].iloc[0]
    best_trial = json.loads(
        (out / f"trials/mnist_momentum/snip/sparsity90/batch32/trial{int(best['best_trial']):03d}.json").read_text()
    )
    assert best_trial["goals"][0] == {
        "goal_error": 0.5,
        "status": "complete",
        "steps_to_result": best["steps_to_result"],
    }
    study = json.loads((out / "studies/mnist_momentum/snip/sparsity90/batch32.json").read_text())
    assert study["n_trials"] == 10 and study["identity"]["search"] == {
        "learning_rate": config["search"]["learning_rate"],
        "one_minus_momentum": config["search"]["one_minus_momentum"],
    }  # only the ranges Momentum searches
    trials = pd.read_csv(out / "tables/trials.csv")
    assert len(trials) == 40 and set(trials["status"]) <= {"complete", "incomplete", "infeasible", "pruned"}
    assert trials["code"].nunique() == 1 and (table["code"] == trials["code"].iloc[0]).all()
    for ext in ("pdf", "png"):
        assert (out / f"figures/fig1_mnist.{ext}").stat().st_size > 10_000
    assert "kept" in (out / "logs/masks/snip/mnist/simple_cnn/sparsity90/pack00.log").read_text()
    for figure in ("fig1_mnist", "fig4_mnist"):
        assert (out / f"figures/{figure}.png").stat().st_size > 10_000
    claims = pd.read_csv(out / "tables/claims.csv")
    assert set(claims["claim"]) == {"a_sparse_steps_ratio", "b_sparse_critical_batch", "c_momentum_vs_sgd",
                                    "d_three_regimes"}  # fmt: skip
    assert set(claims["holds"]) <= {"yes", "no", "undecided"}
    # One replicate: nothing decided by intervals; Momentum only: no SGD to compare with; two
    # batch sizes, one doubling: the three regimes could not show, whatever the replicates.
    assert claims["holds"].eq("undecided").all()


def test_every_result_notes_what_made_it_and_each_rules_jobs_are_timed(finished_run):
    from sparsedp.provenance import checkout_state

    workdir, config = finished_run
    out = results(workdir, config)
    commit = checkout_state(REPO)["commit"]
    for table in [*(out / "tables").glob("*.csv"), *(out / "provenance").glob("[!.]*")]:
        made = json.loads((table.parent / f".{table.name}.made").read_text())["provenance"]
        assert made["commit"] == commit and made["sparsedp"] and made["torch"] and made["snakemake"], table.name
    trial = out / "trials/mnist_momentum/snip/sparsity90/batch32/.trial003.json.made"
    assert json.loads(trial.read_text())["provenance"]["device"] == "cpu"
    environment = json.loads((out / "provenance/environment.json").read_text())
    assert environment["commit"] == commit and environment["devices"] == "cpu (40 trials)"
    assert environment["trials"] == environment["trials_timed"] == 40
    times = pd.read_csv(out / "provenance/rule_times.csv").set_index("rule")
    assert times.loc["train_pack", "jobs_timed"] == 4 and times.loc["prune_pack", "jobs_timed"] == 2
    assert times.loc["figure", "jobs_timed"] == 2 and (times["wall_s_total"] > 0).all()
    # Each training job removed its checkpoint, and the run the folders it left.
    assert not (out / "checkpoints").exists()


def test_studies_of_figure_4_are_trained_in_census_mode_the_others_in_race_mode(finished_run):
    workdir, config = finished_run
    trials = pd.read_csv(results(workdir, config) / "tables/trials.csv")
    shown = {(s, b) for s, b in config["figures"]["fig4_mnist"]["studies"]}
    census = trials[[(s, b) in shown for s, b in zip(trials["sparsity"], trials["batch_size"])]]
    assert len(census) == 20 and (census["mode"] == "census").all() and (census["status"] != "pruned").all()
    race = trials.drop(census.index)
    assert len(race) == 20 and (race["mode"] == "race").all()
    fig4 = pd.read_csv(results(workdir, config) / "tables/fig4_mnist.csv")
    assert len(fig4) == 20 and set(zip(fig4["sparsity"], fig4["batch_size"])) == shown


def test_report_is_self_contained_and_holds_every_figure_and_table(finished_run, tmp_path):
    workdir, config = finished_run
    report = tmp_path / "report.html"
    proc = snakemake(workdir, config, "--report", str(report))
    html = report.read_text()
    # Everything is inside the file: no script, image or style sheet loaded from a path.
    external = re.findall(r"""<(?:script|img|link|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']([^"']+)""", html)
    assert [u for u in external if not u.startswith("data:")] == [], external
    # A table is in the report as its page (which embeds the CSV).
    names = ["fig1_mnist.png", "fig4_mnist.png", "noise_scale.png", "steps_to_result.html", "critical_batch.html",
             "claims.html", "trials.html", "fig1_mnist.html", "fig4_mnist.html", "noise_scale.html", "replicates.html", "rule_times.html"]  # fmt: skip
    for name in names:
        assert f"Adding {name}" in proc.stdout + proc.stderr
        assert name in html, name


def test_nothing_is_recomputed_when_everything_exists(finished_run):
    workdir, config = finished_run
    proc = snakemake(workdir, config, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_a_deleted_trial_is_retrained_alone_with_only_its_reduction_and_figures(finished_run, tmp_path):
    workdir, config = copy_run(finished_run[0], tmp_path / "run"), finished_run[1]
    (results(workdir, config) / "trials/mnist_momentum/snip/sparsity90/batch64/trial007.json").unlink()
    counts = dry_run(workdir, config)
    assert counts == {
        "train_trial": 1,
        "reduce_study": 1,
        "steps_to_result_table": 1,
        "critical_batch_table": 1,
        "replicates_table": 1,
        "figure_table": 1,
        "trials_table": 1,
        "figure": 1,
        "noise_scale_figure": 1,
        "critical_batch_figure": 1,
        "claims_table": 1,
        "provenance": 1,
        "all": 1,
    }
    proc = snakemake(workdir, config, "-n")
    assert "trial007.json" in proc.stdout and "trial=007" in proc.stdout


def test_noise_scale_table_and_figure(finished_run):
    workdir, config = finished_run
    out = results(workdir, config)
    table = pd.read_csv(out / "tables/noise_scale.csv")
    assert list(table["sparsity"]) == config["workloads"]["mnist_momentum"]["sparsities"]
    assert (table["batch_big"] == config["noise_scale"]["batch_big"]).all()
    assert (table["b_simple"] > 0).all() and (table["b_simple_se"] > 0).all()
    record = json.loads((out / "noise/snip/mnist/simple_cnn/sparsity90.json").read_text())
    assert record["seeds"] == list(range(config["noise_scale"]["seeds"]))
    assert [m["seed"] for m in record["identity"]["masks"]] == record["seeds"]
    per_network = record["b_simple_per_seed"]
    assert table["b_simple"].iloc[-1] == pytest.approx(sum(per_network) / len(per_network))
    for ext in ("pdf", "png"):
        assert (out / f"figures/noise_scale.{ext}").stat().st_size > 10_000


def test_the_regimes_pilot_trains_the_workflows_own_dense_study(finished_run, mnist_npz):
    """benchmarks/regimes_pilot.py (a preset's dense curve outside the workflow) must give the
    workflow's steps-to-result when nothing is overridden: its verdicts stand for the preset's."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from regimes_pilot import study

    workdir, config = finished_run
    table = pd.read_csv(results(workdir, config) / "tables" / "steps_to_result.csv")
    for batch in (32, 64):  # census (a Figure 4 study) and race
        row = table[(table["sparsity"] == 0) & (table["batch_size"] == batch)]
        assert study(config, "mnist_momentum", batch, mnist_npz)[:2] == (batch, row["steps_to_result"].tolist())
