import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
# The original MNIST files are cached once for every test (and shared with the pipeline).
DATA_CACHE = REPO / "resources" / "data"


def load_config(name="config.yaml") -> dict:
    return yaml.safe_load((REPO / name).read_text())


def tiny_config() -> dict:
    """Four studies of ten trials, a goal reached in a few dozen steps: seconds per job.
    Figures 1 and 4; Figure 4's two studies (batch 32) are trained in census mode."""
    config = load_config("config/quick.yaml")
    config["data"]["cache"] = str(DATA_CACHE)
    config["data"]["sources"] = ["local", "npm"]
    config["workloads"]["mnist_momentum"].update(
        goal_error=0.5, budget_steps=64, sparsities=[0.0, 0.9], batch_sizes=[32, 64]
    )
    config["noise_scale"].update(batch_big=128, draws=8, seeds=2)  # about a second per sparsity
    config["figures"]["fig4_mnist"]["studies"] = [[0.0, 32], [0.9, 32]]
    config["training"]["checkpoint_every"] = 8  # several checkpoints per job, so that resuming is exercised
    config["device"] = "cpu"
    return config


def snakemake_cmd(workdir: Path, config: dict, *args) -> list[str]:
    """The command running this repository's Snakefile on ``config`` in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--configfile", str(workdir / "config.yaml"), *args]  # fmt: skip


def snakemake(workdir: Path, config: dict, *args, check=True, timeout=None) -> subprocess.CompletedProcess:
    """timeout (s): then SIGINT, on which Snakemake cancels its cluster jobs."""
    cmd = snakemake_cmd(workdir, config, *args)
    if timeout:
        cmd = ["timeout", "-s", "INT", "-k", "30", str(timeout), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """The tiny config run to the end, shared by the tests that only read it (and put back what
    they change)."""
    workdir = tmp_path_factory.mktemp("run")
    config = tiny_config()
    snakemake(workdir, config, "--cores", "2")
    return workdir, config


@pytest.fixture(scope="session")
def mnist_npz(tmp_path_factory):
    from sparsedp.pipeline import fetch_dataset

    out = tmp_path_factory.mktemp("data") / "mnist.npz"
    fetch_dataset("mnist", out, tiny_config()["data"])
    return out


@pytest.fixture(scope="session")
def mnist(mnist_npz):
    from sparsedp.data import load_tensors

    return load_tensors(mnist_npz, "cpu")


@pytest.fixture
def config():
    return copy.deepcopy(load_config())
