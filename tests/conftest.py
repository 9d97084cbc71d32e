import copy
import shutil
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


def load_config(*presets) -> dict:
    """config.yaml with ``presets`` (e.g. "config/quick.yaml") merged over it, as Snakemake
    merges --configfile, validated (nulls removed, defaults filled)."""
    from sparsedp.config import load

    return load([REPO / "config.yaml", *(REPO / p for p in presets)], SCHEMA)


def tiny_config() -> dict:
    """Four studies of ten trials, a goal reached in a few dozen steps: seconds per job.
    Figures 1 and 4; Figure 4's two studies (batch 32) are trained in census mode."""
    config = load_config("config/quick.yaml")
    config["experiment"] = "tiny"
    config["data"]["cache"] = str(DATA_CACHE)
    config["data"]["sources"] = ["local", "npm"]
    config["search"].update(learning_rate={"low": 1e-3, "high": 0.1}, one_minus_momentum={"low": 0.03, "high": 0.3})
    config["workloads"] = {"mnist_momentum": config["workloads"]["mnist_momentum"]}
    config["workloads"]["mnist_momentum"].update(
        goal_errors=[0.5], budget_steps=64, sparsities=[0.0, 0.9], batch_sizes=[32, 64]
    )
    config["noise_scale"].update(batch_big=128, draws=8, seeds=2)  # about a second per sparsity
    config["figures"] = {
        "fig1_mnist": {"workloads": ["mnist_momentum"]},
        "fig4_mnist": {"workloads": ["mnist_momentum"], "studies": [[0.0, 32], [0.9, 32]]},
    }
    config["training"]["checkpoint_every"] = 8  # several checkpoints per job, so that resuming is exercised
    config["device"] = "cpu"
    return config


def as_overlay(config: dict) -> dict:
    """A whole config as a --configfile over config.yaml: config.yaml's workloads and figures
    that ``config`` lacks are removed (null), everything else is overridden."""
    overlay = copy.deepcopy(config)
    paper = yaml.safe_load((REPO / "config.yaml").read_text())
    for section in ("workloads", "figures"):
        overlay[section] = {**{name: None for name in paper[section]}, **overlay[section]}
    return overlay


def results(workdir: Path, config: dict) -> Path:
    """The experiment's results tree in ``workdir``."""
    return workdir / "results" / config["experiment"]


def snakemake_cmd(workdir: Path, config: dict, *args) -> list[str]:
    """The command running this repository's Snakefile on ``config`` (a whole config, passed as
    an overlay of config.yaml) in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "overlay.yaml").write_text(yaml.safe_dump(as_overlay(config)))
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--configfile", str(workdir / "overlay.yaml"), *args]  # fmt: skip


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
def mnist_npz(tmp_path_factory):
    from sparsedp.identity import data_identity
    from sparsedp.jobs import prepare_data

    out = tmp_path_factory.mktemp("data") / "mnist.npz"
    prepare_data(data_identity("mnist"), {"data": tiny_config()["data"], "output": str(out)})
    return out


@pytest.fixture(scope="session")
def mnist(mnist_npz):
    from sparsedp.data import load_tensors

    return load_tensors(mnist_npz, "cpu")


@pytest.fixture
def config():
    return copy.deepcopy(load_config())


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny config run to the end once per session; tests that change it work on a copy
    (copy_run)."""
    workdir = tmp_path_factory.mktemp("tiny")
    config = tiny_config()
    snakemake(workdir, config, "--cores", "2")
    return workdir, config


@pytest.fixture(scope="session")
def finished_run(tiny_run):
    """The tiny run, for the tests that only read it."""
    return tiny_run


def copy_run(run, dest: Path) -> Path:
    """A copy of a finished run with its files' times and Snakemake's metadata: the same state."""
    shutil.copytree(run, dest, symlinks=True)
    return dest
