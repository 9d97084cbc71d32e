"""Trust: a result is consistent with the current config whatever Snakemake's metadata says, an
edited record is redone, never used, a trial deleted from a race study comes back exactly as it
was, and no finished trial is retrained after Snakemake itself was killed. Each case through the
`snakemake` command, on a copy of the finished tiny run."""

import copy
import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from test_experiments import TRAINING, dry_run, reproducible
from test_reliability import _training_job

from conftest import REPO, copy_run, results, snakemake, snakemake_cmd

RACE_STUDY = "mnist_momentum/snip/sparsity90/batch64"  # race mode (Figure 4 takes the batch-32 studies)
TABLES = ("tables/trials.csv", "tables/steps_to_result.csv")  # the targets of the reruns here (figures: seconds more)


def _tree(out):
    """What a user reads: trial and study records, tables and the notes of what made them
    (test_experiments.reproducible: figures embed dates, pages and notes when and where)."""
    return {
        f"{top}/{name}": content
        for top in ("trials", "studies", "tables")
        for name, content in reproducible(out / top).items()
    }


def _targets(workdir, config):
    return [str((results(workdir, config) / t).relative_to(workdir)) for t in TABLES]


def _rerun(workdir, config, *lost):
    """Run to the tables of every trial and study, and to ``lost`` files (Snakemake does not
    remake a deleted file whose dependents are up to date unless asked to: docs/reruns.md)."""
    snakemake(workdir, config, "--cores", "2", *_targets(workdir, config), *(str(p.relative_to(workdir)) for p in lost))


@pytest.mark.parametrize("how", ["metadata removed", "copied without times"])
def test_a_changed_goal_reruns_exactly_what_it_defines_without_snakemakes_metadata(tiny_run, tmp_path, how):
    """Before: with .snakemake/ removed, goal_errors 0.5 -> 0.4 gave "Nothing to be done" and a
    steps_to_result.csv that still said 0.5."""
    workdir = tmp_path / "run"
    if how == "metadata removed":
        copy_run(tiny_run[0], workdir)
        shutil.rmtree(workdir / ".snakemake")
    else:  # a plain `cp -r`: new times in copy order, Snakemake's metadata copied along
        shutil.copytree(tiny_run[0], workdir, copy_function=shutil.copy)
    config = copy.deepcopy(tiny_run[1])
    config["workloads"]["mnist_momentum"]["goal_errors"] = [0.4]
    counts, out = dry_run(workdir, config)
    assert counts["train_pack"] == 4 and counts["reduce_study"] == 4, out[-3000:]
    assert not {"prune_pack", "prune_mask", "dataset", "noise_scale", "train_trial"} & set(counts)
    assert "made with other settings or code than this run's; redone." in out
    if how == "metadata removed":
        _rerun(workdir, config)
        table = pd.read_csv(results(workdir, config) / "tables/steps_to_result.csv")
        assert set(table["goal_error"]) == {0.4}
        assert dry_run(workdir, config, *_targets(workdir, config))[0] == {}


def test_a_hand_edited_trial_record_is_redone_not_used(tiny_run, tmp_path):
    """Before: steps_to_result 16 -> 3 in a trial record gave a study whose best trial took 3 steps."""
    workdir = copy_run(tiny_run[0], tmp_path / "run")
    out = results(workdir, tiny_run[1])
    before = _tree(out)
    trial = out / f"trials/{RACE_STUDY}/trial001.json"
    trial.write_text(trial.read_text().replace('"steps_to_result": 16', '"steps_to_result": 3'))
    counts, log = dry_run(workdir, tiny_run[1])
    assert counts["train_pack"] == 1 and not {"prune_pack", "noise_scale"} & set(counts), log[-3000:]
    assert f"{trial.relative_to(workdir)}: changed since it was made (edited, damaged or replaced); redone." in log
    _rerun(workdir, tiny_run[1])
    assert _tree(out) == before


def test_any_trials_deleted_from_a_race_study_come_back_as_they_were(tiny_run, tmp_path):
    """Randomised: delete random subsets of a race study's trials (pruned ones and the winners),
    rerun; every record and table is byte-identical to the uninterrupted run's. Before: a trial
    retrained alone was not raced (incomplete at the budget, or complete at its own goal step)."""
    workdir = copy_run(tiny_run[0], tmp_path / "run")
    out = results(workdir, tiny_run[1])
    before = _tree(out)
    study = out / "trials" / RACE_STUDY
    statuses = {p.name: p.read_text().count('"pruned"') for p in sorted(study.glob("trial*.json"))}
    assert 0 < sum(statuses.values()) < len(statuses)  # pruned trials and winners
    rng = random.Random(25)
    for _ in range(2):
        lost = rng.sample(sorted(statuses), rng.randint(2, 6))
        for name in lost:
            (study / name).unlink()
        _rerun(workdir, tiny_run[1], *(study / name for name in lost))
        assert _tree(out) == before, lost
    logs = "".join(p.read_text() for p in (out / "logs/train" / RACE_STUDY).glob("trial*.log"))
    assert "raced and recorded by a job of its race group" in logs


def test_no_finished_trial_is_retrained_after_snakemake_itself_is_killed(tiny_run, tmp_path):
    """SIGKILL only Snakemake's own process while a training job runs: the job finishes. Before:
    the next run refused (IncompleteFilesException), and --rerun-incomplete retrained the pack.
    Now the recovery docs/reruns.md gives (unlock, run again) trains nothing and the results are the same."""
    workdir = copy_run(tiny_run[0], tmp_path / "run")
    config, out = tiny_run[1], results(workdir, tiny_run[1])
    before = _tree(out)
    for trial in (out / "trials" / RACE_STUDY).glob("trial*.json"):
        trial.unlink()  # the whole pack: one training job
    run = subprocess.Popen(snakemake_cmd(workdir, config, "--cores", "2"), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
    while (job := _training_job(workdir)) is None:
        assert run.poll() is None, "the run ended before its training job started"
        time.sleep(0.02)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    while os.path.exists(f"/proc/{job}"):  # the job, orphaned, finishes its trials
        time.sleep(0.1)
    snakemake(workdir, config, "--unlock")
    counts, log = dry_run(workdir, config)
    assert not TRAINING & set(counts), log[-3000:]
    _rerun(workdir, config)
    assert _tree(out) == before


def test_a_yaml_error_in_config_yaml_names_the_file_and_line(repo_copy, tmp_path):
    """Before: Snakemake's "Config file is not valid JSON or YAML", without file or line."""
    config_yaml = repo_copy / "config.yaml"
    config_yaml.write_text(config_yaml.read_text().replace("  n_trials: 100", "  n_trials: [100", 1))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo_copy / "Snakefile"), "-d", str(tmp_path), "-n"],
                          capture_output=True, text=True)  # fmt: skip
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert re.search(rf"config file {config_yaml}, line \d+, column \d+: not valid YAML", message), message


def test_the_config_option_form_the_readme_gives_works(tiny_run):
    """Before: --config search='{n_trials: 12}' gave "'12' is not of type 'integer'"."""
    counts, out = dry_run(*tiny_run, "--config", "search={n_trials: 20}")
    assert counts["train_pack"] == 4 and counts["prune_pack"] == 2, out[-3000:]  # the ten new trials per study


def test_a_full_disk_names_the_file_that_could_not_be_written(tmp_path, monkeypatch):
    from sparsedp import results as records

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(records.os, "replace", no_space)
    with pytest.raises(OSError, match=rf"No space left on device: cannot write {tmp_path / 'trial000.json'}"):
        records.write_record(tmp_path / "trial000.json", {"identity": {}})
    assert not list(tmp_path.iterdir())  # no temporary file left


def test_the_slurm_profile_without_account_and_partition_says_so_before_submitting():
    """Before: `snakemake --profile slurm` without SBATCH_ACCOUNT submitted the literal $SBATCH_ACCOUNT."""
    env = {k: v for k, v in os.environ.items() if k not in ("SBATCH_ACCOUNT", "SBATCH_PARTITION")}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "slurm", "-n"], cwd=REPO, env=env,
                          capture_output=True, text=True)  # fmt: skip
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "--profile slurm: SBATCH_ACCOUNT and SBATCH_PARTITION not set" in message, message[-2000:]
