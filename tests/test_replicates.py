"""Replicates: a study repeated with other seeds (initialisations, masks, data order) and the same
metaparameter search, added to a finished run without retraining it; reproduced exactly; carried
between results trees by sparsedp.restore. On a copy of the finished tiny run, with replicates: 2."""

import copy
import json
import shutil

import pandas as pd
import pytest
from test_experiments import dry_run, files, reproducible

from sparsedp.identity import differences
from sparsedp.restore import main as restore_main

from conftest import copy_run, results, snakemake

STUDY = "mnist_momentum/snip/sparsity90/batch64"  # a race study (Figure 4 takes the batch-32 ones)


@pytest.fixture(scope="module")
def replicated(tiny_run, tmp_path_factory):
    """The tiny run with a second replicate added, run to the end; and the tiny run's records."""
    workdir = copy_run(tiny_run[0], tmp_path_factory.mktemp("replicated") / "run")
    config = copy.deepcopy(tiny_run[1])
    before = files(results(workdir, config) / "trials")
    config["workloads"]["mnist_momentum"]["replicates"] = 2
    counts, log = dry_run(workdir, config)
    snakemake(workdir, config, "--cores", "2")
    return workdir, config, before, counts, log


def record(path):
    return json.loads(path.read_text())


def test_adding_replicates_retrains_nothing_that_exists(replicated):
    workdir, config, before, counts, log = replicated
    # Replicate 1 of the 4 studies: one pack each, and its own masks (seeds 1000-1009 of 2 networks).
    assert counts["train_pack"] == 4 and counts["prune_pack"] == 2, log[-3000:]
    assert "train_trial" not in counts and "noise_scale" not in counts
    trials = files(results(workdir, config) / "trials")
    assert {name: trials[name] for name in before} == before  # replicate 0 untouched, byte for byte
    assert len(trials) == 2 * len(before)


def test_replicates_differ_only_in_their_seeds(replicated):
    workdir, config, *_ = replicated
    out = results(workdir, config)
    for k in range(10):
        first = record(out / f"trials/{STUDY}/trial{k:03d}.json")
        second = record(out / f"trials/{STUDY}-replicate1/trial{k:03d}.json")
        diff = differences(second["identity"], first["identity"])
        assert sorted(d.split(":")[0] for d in diff) == ["mask.seed", "replicate", "seed"], diff
        assert second["identity"]["seed"] == 1000 + k and second["identity"]["mask"]["seed"] == 1000 + k
        stamps = [out / f"masks/snip/mnist/simple_cnn/sparsity90/seed{s}.json" for s in (f"{k:03d}", 1000 + k)]
        assert record(stamps[0])["content"] != record(stamps[1])["content"]  # its own mask and initialisation
    # Other seeds, other training: the same metaparameters give other curves.
    curves = [record(out / f"trials/{STUDY}{r}/trial000.json")["curve"]["train_loss"] for r in ("", "-replicate1")]
    assert curves[0] != curves[1]


def test_tables_hold_every_replicate_and_each_studys_spread(replicated):
    workdir, config, *_ = replicated
    tables = results(workdir, config) / "tables"
    studies = pd.read_csv(tables / "steps_to_result.csv")
    assert sorted(studies["replicate"].unique()) == [0, 1] and len(studies) == 8
    trials = pd.read_csv(tables / "trials.csv")
    assert set(trials["seed"] - trials["trial"] - 1000 * trials["replicate"]) == {0}
    spread = pd.read_csv(tables / "replicates.csv")
    assert len(spread) == 4 and set(spread["n_replicates"]) == {2}
    for _, row in spread.iterrows():
        steps = studies[(studies["sparsity"] == row["sparsity"]) & (studies["batch_size"] == row["batch_size"])]
        assert row["steps_median"] == steps["steps_to_result"].min()  # the lower median of two
    assert spread["steps_lo"].isna().all()  # two replicates: no interval at 68%
    claims = pd.read_csv(tables / "claims.csv")  # two replicates: no interval, nothing decided by one
    decided_by_intervals = claims[claims["claim"].isin(["a_sparse_steps_ratio", "b_sparse_critical_batch"])]
    assert set(decided_by_intervals["holds"]) == {"undecided"} and len(decided_by_intervals) == 3


def test_saved_trials_restore_into_a_new_tree_and_only_a_tampered_one_is_retrained_as_it_was(replicated, tmp_path):
    workdir, config, *_ = replicated
    out = results(workdir, config)
    preset = tmp_path / "preset.yaml"
    preset.write_text((workdir / "overlay.yaml").read_text())
    saved = tmp_path / "saved"
    restore_main(["save", "--configfile", str(preset), "--trials", str(saved), "--results", str(out)])
    assert len(list(saved.rglob("trial*.json"))) == 80
    # A new tree: the data and masks made, no trial (as after `--until prune_pack prune_mask`).
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "results").mkdir()
    shutil.copytree(
        out, results(fresh, config), ignore=shutil.ignore_patterns("trials", "studies", "tables", "figures")
    )
    tampered = saved / f"{STUDY}-replicate1/trial004.json"  # refused, so retrained: replicates reproduce exactly
    tampered.write_text(tampered.read_text().replace('"steps_trained": ', '"steps_trained": 1'))
    restore_main(
        ["restore", "--configfile", str(preset), "--trials", str(saved), "--results", str(results(fresh, config))]
    )
    counts, log = dry_run(fresh, config)
    assert counts.get("train_trial") == 1 and "train_pack" not in counts, log[-3000:]  # only the tampered one
    snakemake(fresh, config, "--cores", "2")
    for top in ("trials", "tables"):
        assert reproducible(results(fresh, config) / top) == reproducible(out / top)


def test_progress_tables_hold_only_points_whose_replicates_are_all_finished(replicated, tmp_path):
    workdir, config, *_ = replicated
    out = results(workdir, config)
    preset = tmp_path / "preset.yaml"
    preset.write_text((workdir / "overlay.yaml").read_text())
    args = ["progress", "--configfile", str(preset), "--results"]
    restore_main([*args, str(out), "--out", str(tmp_path / "all")])
    for name in ("steps_to_result", "replicates", "critical_batch", "claims"):  # finished: the run's own tables
        assert pd.read_csv(tmp_path / f"all/{name}.csv").equals(pd.read_csv(out / f"tables/{name}.csv")), name
    # One replicate of one study not finished yet: that point leaves the tables, with both replicates.
    partial = tmp_path / "partial"
    shutil.copytree(out, partial, ignore=shutil.ignore_patterns("trials", "masks", "checkpoints"))
    (partial / f"studies/{STUDY}-replicate1.json").unlink()
    restore_main([*args, str(partial), "--out", str(tmp_path / "part")])
    steps = pd.read_csv(tmp_path / "part/steps_to_result.csv")
    everything = pd.read_csv(out / "tables/steps_to_result.csv")
    point = (
        everything["workload"].eq("mnist_momentum") & everything["sparsity"].eq(0.9) & everything["batch_size"].eq(64)
    )
    assert point.any() and len(steps) == len(everything[~point])
    assert steps.equals(everything[~point].reset_index(drop=True))
    assert len(pd.read_csv(tmp_path / "part/replicates.csv")) == 3
