"""`snakemake --profile slurm`: the profile's packing, and a real run through a single-node SLURM
cluster started on this machine (tests/slurm/slurm-up.sh: Debian's Slurm, root only)."""

import fcntl
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, results, snakemake, tiny_config

HARNESS = REPO / "tests" / "slurm"
SLURM_DIR = Path("/run/sparsedp-slurm")
# The test cluster: account and partition from the environment, as the README tells users, and
# 1-second status checks (the profile's 30-40 s would dominate a tiny run).
TEST_ENV = {"SBATCH_ACCOUNT": "ci", "SBATCH_PARTITION": "debug"}
TEST_ARGS = ["--profile", str(REPO / "slurm"), "--latency-wait", "5",
             "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1",
             "--cores", str(min(2, os.cpu_count()))]  # fmt: skip


def test_dry_run_of_the_default_config_submits_one_job_per_study_and_one_mask_group(tmp_path):
    # No cluster needed: this works wherever the plugin is installed.
    cmd = [sys.executable, "-m", "snakemake", "--profile", "slurm", "-n", "-d", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    out = proc.stdout + proc.stderr
    assert "slurm/studies.yaml" in out
    studies = 3 * 4 * 10 + 2 * 13  # MNIST + CIFAR-10, 100 trials each
    assert len(re.findall(r"^\s*rule train_pack:", out, re.M)) == studies
    assert len(re.findall(r"^\s*rule prune_pack:", out, re.M)) == 4 + 2  # 100 seeds each
    assert out.count("Group job masks ") == 1 and "rule prune_mask:" not in out
    assert len(re.findall(r"^\s*rule noise_scale:", out, re.M)) == 4 + 2
    assert "rule train_trial:" not in out


def slurm_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the SLURM test installs and starts daemons: run as root (CI does)"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "the SLURM test installs Slurm with apt-get (Debian/Ubuntu only)"
    return None


@pytest.fixture(scope="module")
def cluster():
    if reason := slurm_unavailable():
        pytest.skip(reason)
    env = {**os.environ, "SLURM_DIR": str(SLURM_DIR), "SLURM_ACCOUNT": TEST_ENV["SBATCH_ACCOUNT"]}
    # One test cluster at a time on a machine (slurm-down.sh would stop another session's).
    with open("/run/sparsedp-slurm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            subprocess.run([HARNESS / "slurm-up.sh"], env=env, check=True)
            yield
        finally:
            subprocess.run([HARNESS / "slurm-down.sh"], env=env, check=False)


def slurm_jobs(since: str) -> dict[str, dict]:
    """Accounting records (sacct) of the jobs started since `since`: job id -> fields."""
    fields = ["jobid", "state", "account", "partition", "alloctres", "comment"]
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-S", since, "-o", ",".join(fields)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {row[0]: dict(zip(fields, row)) for row in (line.split("|") for line in out.splitlines())}


def cancel_a_training_job_mid_run(workdir: Path, cancelled: list, stop: threading.Event):
    """scancel the first train_pack job that is running and has started training."""
    while not stop.wait(0.5):
        out = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i %k"], capture_output=True, text=True).stdout
        for jobid, comment in (line.split() for line in out.splitlines()):
            if comment.startswith("rule_train_pack") and list((workdir / "results").rglob("logs/train/**/pack*.log")):
                subprocess.run(["scancel", jobid], check=True)
                cancelled.append(jobid)
                return


def result_files(out: Path) -> dict[str, bytes]:
    files = [*out.glob("trials/**/*.json"), *(out / "tables").glob("*.csv")]
    return {str(f.relative_to(out)): f.read_bytes() for f in files}


def test_a_run_through_slurm_survives_a_cancelled_job_and_equals_a_local_run(cluster, tmp_path, monkeypatch):
    config = tiny_config()
    config["workloads"]["mnist_momentum"].update(sparsities=[0.9], batch_sizes=[32, 64])
    config["figures"]["fig4_mnist"]["studies"] = [[0.9, 32]]
    snakemake(tmp_path / "local", config, "--cores", "2")

    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    workdir, cancelled, stop = tmp_path / "slurm", [], threading.Event()
    since = time.strftime("%Y-%m-%dT%H:%M:%S")
    killer = threading.Thread(target=cancel_a_training_job_mid_run, args=(workdir, cancelled, stop))
    killer.start()
    try:
        snakemake(workdir, config, *TEST_ARGS, timeout=480)
    finally:
        stop.set()
        killer.join()

    # Every job the profile sends to SLURM went through it, with the account, partition and GPU
    # asked for; the download, reductions, tables and figures ran locally.
    log = "\n".join(f.read_text() for f in (workdir / ".snakemake/log").glob("*.snakemake.log"))
    submitted = re.findall(r"submitted with SLURM jobid (\d+)", log)
    jobs = slurm_jobs(since)
    assert set(submitted) == set(jobs)
    assert {j["account"] for j in jobs.values()} == {"ci"} and {j["partition"] for j in jobs.values()} == {"debug"}
    training = [j for j in jobs.values() if j["comment"].startswith("rule_train_pack")]
    masks = [j for j in jobs.values() if j["comment"].startswith("rule_masks_")]
    noise = [j for j in jobs.values() if j["comment"].startswith("rule_noise_scale_wildcards")]
    assert len(masks) == 1 and len(training) == 2 + 1  # one mask group; two packs, one of them twice
    assert len(noise) == 1  # the noise scale of the one sparsity
    assert all("gres/gpu=1" in j["alloctres"] for j in training + noise)
    assert len(jobs) == len(masks) + len(training) + len(noise)
    # The cancelled job was resubmitted (profile: retries) and nothing was lost.
    assert len(cancelled) == 1 and jobs[cancelled[0]]["state"].startswith("CANCELLED")
    assert [j["state"] for j in jobs.values() if j["jobid"] != cancelled[0]] == ["COMPLETED"] * (len(jobs) - 1)
    local, remote = result_files(results(tmp_path / "local", config)), result_files(results(workdir, config))
    assert len(local) == 20 + 8 and remote.keys() == local.keys()  # trials + tables
    assert [f for f in local if local[f] != remote[f]] == []
