"""Faults and bad input through the real workflow: nothing lost, nothing silently wrong.

One small study keeps every run cheap: three trials, two of which diverge for sure (learning
rates 1e6 and 3e13) while the third (0.03) trains for about a hundred steps to the goal.
"""

import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_config import BAD, _set

from sparsedp.plots import render

from conftest import DATA_CACHE, load_config, results, snakemake, snakemake_cmd, tiny_config

RUN = ("--cores", "2")
COMPARED = ("trials", "studies", "tables")  # figures embed dates, tables' pages what made them (when, where)


def faulty_config() -> dict:
    config = tiny_config()
    config["search"].update(n_trials=3, learning_rate={"low": 1e-9, "high": 1e21})
    config["training"].update(pack_size=1, checkpoint_every=2)
    config["workloads"]["mnist_momentum"].update(
        goal_errors=[0.1], budget_steps=256, sparsities=[0.9], batch_sizes=[32]
    )
    config["figures"]["fig4_mnist"]["studies"] = [[0.9, 32]]  # the only study (census mode)
    return config


def result_files(workdir: Path) -> dict[str, bytes]:
    """Finished result files (not the hidden temporary files of writes in progress)."""
    out = results(workdir, faulty_config())
    return {
        str(p.relative_to(out)): p.read_bytes()
        for top in COMPARED
        for p in sorted((out / top).rglob("*"))
        if p.is_file() and not p.name.startswith(".") and p.suffix != ".html"
    }


def assert_no_leftovers(workdir: Path):
    assert not list((workdir / "results").rglob("*.part")), "temporary files left behind"
    assert not list((workdir / "results").rglob("checkpoints/**/*.pt")), "checkpoints left behind"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run."""
    workdir = tmp_path_factory.mktemp("reference")
    snakemake(workdir, faulty_config(), *RUN)
    return workdir, result_files(workdir)


def test_diverging_trials_are_infeasible_and_the_study_tables_and_figures_complete(reference):
    workdir, _ = reference
    out = results(workdir, faulty_config())
    trials = pd.read_csv(out / "tables/trials.csv").set_index("trial")
    assert list(trials["status"]) == ["infeasible", "infeasible", "complete"]
    assert trials.loc[[0, 1], "diverged_at_step"].between(1, 16).all()
    assert trials.loc[[0, 1], "learning_rate"].min() > 1e5
    study = pd.read_csv(out / "tables/steps_to_result.csv").iloc[0]
    assert study["best_trial"] == 2 and study["n_infeasible"] == 2 and study["steps_to_result"] > 0
    for ext in ("pdf", "png"):
        assert (out / f"figures/fig1_mnist.{ext}").stat().st_size > 10_000
    assert_no_leftovers(workdir)


def test_a_figure_where_no_study_reached_the_goal_is_still_drawn(reference, tmp_path):
    workdir, _ = reference
    table = pd.read_csv(results(workdir, faulty_config()) / "tables/fig1_mnist.csv")
    table["steps_to_result"] = np.nan  # every trial diverged
    render("fig1_mnist", table, tmp_path / "f.pdf", tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000


def test_same_config_twice_is_byte_identical_and_a_second_invocation_is_locked_out(reference, tmp_path):
    _, expected = reference
    first = subprocess.Popen(
        snakemake_cmd(tmp_path, faulty_config(), *RUN), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    while not list((tmp_path / ".snakemake/locks").glob("*")):  # running: its lock is taken
        assert first.poll() is None, first.stdout.read().decode()
        time.sleep(0.2)
    second = snakemake(tmp_path, faulty_config(), *RUN, check=False)
    assert second.returncode != 0
    assert "Directory cannot be locked" in second.stderr
    assert first.wait() == 0, first.stdout.read().decode()
    assert result_files(tmp_path) == expected
    assert_no_leftovers(tmp_path)


def _kill_group(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _check_after_kill(workdir: Path, expected: dict):
    """Every result file present is complete and right (writes are atomic); data and masks load."""
    for name, content in result_files(workdir).items():
        assert content == expected[name], f"{name} differs from the uninterrupted run"
    for path in (workdir / "results").rglob("data/*.npz"):
        np.load(path)["train_x"]
    for path in (workdir / "results").rglob("seed*.pt"):
        torch.load(path, weights_only=True)["masks"]


def test_workflow_killed_ten_times_at_random_points_recovers_identically(reference, tmp_path):
    """SIGKILL the whole workflow (Snakemake and its jobs, as a crash would) at a random point,
    check what is on disk, rerun to the end and compare with the uninterrupted run; ten times,
    each from scratch."""
    _, expected = reference
    rng, kills = random.Random(7), 0
    while kills < 10:
        run = subprocess.Popen(snakemake_cmd(tmp_path, faulty_config(), *RUN), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            run.wait(timeout=rng.uniform(0.5, 8))
        except subprocess.TimeoutExpired:
            _kill_group(run)
            kills += 1
            _check_after_kill(tmp_path, expected)
            snakemake(tmp_path, faulty_config(), "--unlock")  # a killed Snakemake leaves its lock
            snakemake(tmp_path, faulty_config(), *RUN)
            assert result_files(tmp_path) == expected, f"kill {kills}"
        else:  # finished before the kill
            assert run.returncode == 0
        shutil.rmtree(tmp_path / "results")  # the next kill starts from scratch


def _training_job(workdir: Path) -> int | None:
    """The pid of the workflow's training job (`job.py train ...` writing into the workdir)."""
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if any(a.endswith(b"job.py") for a in argv) and b"train" in argv and str(workdir).encode() in b" ".join(argv):
            return int(entry.name)
    return None


def _saves(path: Path):
    """Identity of the checkpoint file's current version (each save replaces the file)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def test_training_job_killed_ten_times_resumes_from_its_checkpoint_identically(reference, tmp_path):
    """SIGKILL only the training job of the long trial, at random points: while it starts
    (before any checkpoint) or a random time after its k-th checkpoint save. Snakemake fails
    the job, and each rerun resumes from the job's last checkpoint."""
    source, expected = reference
    shutil.copytree(source / "results", tmp_path / "results")
    out = results(tmp_path, faulty_config())
    trial = out / "trials/mnist_momentum/snip/sparsity90/batch32/trial002.json"
    checkpoint = out / "checkpoints/mnist_momentum/snip/sparsity90/batch32/002-002.pt"
    trial.unlink()
    rng, resumed_at = random.Random(11), []
    for _ in range(10):
        run = subprocess.Popen(
            snakemake_cmd(tmp_path, faulty_config(), *RUN), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        while (pid := _training_job(tmp_path)) is None:
            assert run.poll() is None, run.stdout.read().decode()
            time.sleep(0.02)
        target = rng.choice([0, 1, 2, 3])
        saves, seen = target, _saves(checkpoint)
        while saves:  # the resumed run first saves again the state it resumed from
            assert run.poll() is None, "training finished before it was killed"
            if _saves(checkpoint) != seen:
                saves, seen = saves - 1, _saves(checkpoint)
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 1.0 if target == 0 else 0.25))
        os.kill(pid, signal.SIGKILL)
        assert run.wait() != 0
        _check_after_kill(tmp_path, expected)
        assert not trial.exists()
        if checkpoint.exists():  # where the next run starts
            resumed_at.append(torch.load(checkpoint, weights_only=True)["groups"][0]["step"])
    snakemake(tmp_path, faulty_config(), *RUN)
    assert result_files(tmp_path) == expected
    assert len(resumed_at) >= 5 and resumed_at == sorted(resumed_at)  # never a step back
    log = (out / "logs/train/mnist_momentum/snip/sparsity90/batch32/pack002.log").read_text()
    assert f"resuming from checkpoint {checkpoint.relative_to(tmp_path)} at step {resumed_at[-1]}" in log
    assert_no_leftovers(tmp_path)


@pytest.mark.parametrize("fault", ["truncated", "altered"])
def test_corrupt_data_file_stops_the_workflow_naming_it_before_any_training(tmp_path, fault):
    config = faulty_config()
    config["data"].update(cache=str(tmp_path / "cache"), sources=["local"])
    shutil.copytree(DATA_CACHE, tmp_path / "cache")
    name = "train-labels-idx1-ubyte"
    path = tmp_path / "cache/mnist" / name
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2] if fault == "truncated" else good[:-1] + bytes([good[-1] ^ 1]))
    proc = snakemake(tmp_path, config, "--cores", "2", check=False)
    assert proc.returncode != 0
    assert f"{path}: MD5" in proc.stderr and "the file is corrupt or truncated" in proc.stderr
    out = results(tmp_path, config)
    assert not list(out.glob("data/*.npz"))
    assert not (out / "masks").exists() and not (out / "trials").exists()


# One of each kind, through the command a user types (all of BAD are checked in test_config).
CLI_BAD = list({bad[0]: bad for bad in reversed(BAD) if bad[0].rsplit(".", 1)[-1] in
                {"sparsities", "batch_sizes", "goal_eror", "eval_every", "device", "n_trials", "experiment"}}.values())  # fmt: skip
# NaN and infinity (YAML's .nan, .inf) and a missing data folder, which passed before.
CLI_BAD += [bad for bad in BAD if "finite number" in bad[2] or bad[0] == "data.local_dir"]


@pytest.mark.parametrize("key,value,message", CLI_BAD, ids=[f"{k}={v}" for k, v, _ in CLI_BAD])
def test_bad_config_through_the_snakemake_command_fails_before_any_job(tmp_path, key, value, message):
    config = load_config()
    _set(config, key, value)
    proc = snakemake(tmp_path, config, "--cores", "1", check=False)
    assert proc.returncode != 0
    reported = key.rsplit(".", 1)[0] if "Additional properties" in message else key
    assert f"config key '{reported}" in proc.stderr and re.search(message, proc.stderr)
    assert not (tmp_path / "results").exists()
