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


def network_of(model: str, input_shape=(1, 28, 28), classes: int = 10):
    """A registry model as the engine runs it (models.Network), and trial k's initialisation:
    ``init(k)`` -> (params, buffers), each name -> [1, ...]."""
    from sparsedp.config import model_entry
    from sparsedp.models import Network, build_module, init_network

    entry = model_entry({}, model)
    network = Network(build_module(entry, input_shape, classes))
    return network, lambda seed: init_network(entry, input_shape, classes, seed)[1:]


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
    from sparsedp.config import dataset_entry
    from sparsedp.identity import data_identity
    from sparsedp.jobs import prepare_data

    out = tmp_path_factory.mktemp("data") / "mnist.npz"
    config = tiny_config()
    job = {"data": config["data"], "dataset": dataset_entry(config, "mnist"), "output": str(out)}
    prepare_data(data_identity(config, "mnist"), job)
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


# A user's model with BatchNorm, in a file of their own (written into the run's folder).
OWN_MODEL = """import torch
from torch import nn


def build(input_shape, classes, width=8):
    channels, height, width_px = input_shape
    return nn.Sequential(
        nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * (height // 4) * (width_px // 4), classes),
    )
"""


def write_own_data(mnist_npz, path) -> None:
    """A dataset as a user gives it: a .npz of 16x16 uint8 images (real MNIST digits, their
    centres), 1,200 for training and 300 of its own validation set (x_val, y_val)."""
    import numpy as np

    split = np.load(mnist_npz)
    np.savez(path, x=split["train_x"][:1200, :, 6:22, 6:22], y=split["train_y"][:1200],
             x_val=split["val_x"][:300, :, 6:22, 6:22], y_val=split["val_y"][:300])  # fmt: skip


def own_config() -> dict:
    """The tiny run's settings on a user's own network and data: their model (my_net.py, with
    BatchNorm) with Momentum under every pruning method and with SGD, and the registry's ResNet-8
    beside it; Figure 1 and the pruning methods figure."""
    config = tiny_config()
    config["experiment"] = "own"
    config["models"] = {"my_net": {"factory": "my_net.py:build", "kwargs": {"width": 8}}}
    config["datasets"] = {"digits16": {"npz": "digits16.npz"}}
    # At 50%: with PyTorch's initialisation (weights ~ 1/sqrt(fan_in)), magnitude pruning at 90% would
    # keep only convolution weights, none of the last layer's (a layer collapse, refused).
    own = dict(dataset="digits16", model="my_net", goal_errors=[0.5], budget_steps=48, sparsities=[0.0, 0.5],
               batch_sizes=[16, 64], schedule="constant", mode="race")  # fmt: skip
    config["workloads"] = {
        "own_momentum": {**own, "optimizer": "momentum", "pruning": ["snip", "random", "magnitude", "grasp", "synflow"]},
        "own_sgd": {**own, "optimizer": "sgd", "pruning": ["snip"], "search": {"learning_rate": {"low": 0.01, "high": 1.0}}},
        "resnet_momentum": {**own, "model": "resnet8", "optimizer": "momentum", "pruning": ["snip"], "sparsities": [0.9],
                            "batch_sizes": [64]},
    }  # fmt: skip
    config["training"]["eval_every"] = 8
    config["noise_scale"].update(batch_small=8, batch_big=64, draws=2, seeds=1)
    config["figures"] = {
        "fig1": {"workloads": ["own_momentum", "own_sgd"]},
        "pruning_methods": {"workloads": ["own_momentum"], "sparsity": 0.5},
    }
    return config


@pytest.fixture(scope="session")
def own_run(tmp_path_factory, mnist_npz):
    """The own-network config run to the end once per session, in a folder holding the user's
    model file and .npz; tests that change it work on a copy (copy_run)."""
    workdir = tmp_path_factory.mktemp("own")
    (workdir / "my_net.py").write_text(OWN_MODEL)
    write_own_data(mnist_npz, workdir / "digits16.npz")
    config = own_config()
    snakemake(workdir, config, "--cores", "2")
    return workdir, config


@pytest.fixture(scope="session")
def finished_run(tiny_run):
    """The tiny run, for the tests that only read it."""
    return tiny_run


@pytest.fixture
def repo_copy(tmp_path):
    """This repository's workflow and package in a temporary folder, to edit its code."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("Snakefile", "config.yaml", "workflow", "src", "profiles", "envs"):
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy2)(REPO / name, repo / name)
    return repo


def copy_run(run, dest: Path) -> Path:
    """A copy of a finished run with its files' times and Snakemake's metadata: the same state."""
    shutil.copytree(run, dest, symlinks=True)
    return dest
