"""What made a result: the workflow's commit, the versions of what ran it, the machine and the
device, and how long each rule's jobs took.

Every result notes it beside itself (results.record_made: the note's ``provenance``, which no
comparison reads: a new commit redoes nothing); the run's rule ``provenance`` sums up Snakemake's
benchmark files per rule (provenance/rule_times.csv) and records the environment of the run
(provenance/environment.json), both shown in the report's introduction. Imports no torch (parse
time): versions are those of the installed distributions.
"""

from __future__ import annotations

import collections
import csv
import datetime
import functools
import importlib.metadata
import platform
import statistics
import subprocess
from pathlib import Path

from . import __version__

CHECKOUT = Path(__file__).resolve().parents[2]  # src/sparsedp/ -> the workflow's checkout
UNKNOWN = "unknown"
VERSIONS = ("torch", "snakemake", "numpy")  # distributions whose versions are recorded
RULE_TIME_COLUMNS = ["rule", "jobs_timed", "wall_s_total", "wall_s_median", "wall_s_max"]

_device = {}  # the device a job computes on, once it has chosen it (ran_on)


def _git(checkout: Path, *args: str) -> str | None:
    # No optional locks: many jobs at once ask the same checkout, and none may write its index.
    command = ["git", "--no-optional-locks", "-C", str(checkout), *args]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):  # no git, or a hung file system
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def checkout_state(checkout: Path = CHECKOUT) -> dict:
    """The commit of ``checkout`` and whether a tracked file differs from it (``dirty``), or
    "unknown" for both where it is not the top of a git work tree (a copied or installed package,
    even inside another project's repository)."""
    top = _git(checkout, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != checkout.resolve():
        return {"commit": UNKNOWN, "dirty": UNKNOWN}
    commit = _git(checkout, "rev-parse", "HEAD")
    # Untracked files (a virtual environment, results) change no code the workflow runs.
    changes = _git(checkout, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or UNKNOWN, "dirty": UNKNOWN if changes is None else bool(changes)}


def version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@functools.cache
def environment() -> dict:
    """label -> value of what this process runs: sparsedp, its checkout's commit, Python and the
    VERSIONS, and the host. Computed once per process."""
    return {
        "sparsedp": __version__,
        **checkout_state(),
        "python": platform.python_version(),
        **{name: version(name) for name in VERSIONS},
        "host": platform.node(),
    }


def ran_on(device: str) -> None:
    """Record the device this process computes on (its name, e.g. the CUDA device's)."""
    _device["device"] = device


def made_by() -> dict:
    """A flat note of what made a result now: environment(), the device if this process chose
    one, and the time (UTC)."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return {**environment(), **_device, "finished": now}


def benchmark_seconds(path: Path) -> float | None:
    """The wall time (s) a Snakemake benchmark file records (the mean of its repeats), or None
    where it cannot be read."""
    try:
        with open(path, newline="") as f:
            seconds = [float(row["s"]) for row in csv.DictReader(f, delimiter="\t")]
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return statistics.fmean(seconds) if seconds else None


def rule_times(benchmarks: Path) -> list[dict]:
    """One row per rule (RULE_TIME_COLUMNS) from its benchmark files, ``benchmarks/<rule>/**.tsv``.
    A job without one (restored, made before benchmarks were kept, its file lost) is untimed."""
    rows = []
    for folder in sorted(p for p in benchmarks.glob("*") if p.is_dir()):
        seconds = [s for s in map(benchmark_seconds, sorted(folder.rglob("*.tsv"))) if s is not None]
        if seconds:
            rows.append(
                {
                    "rule": folder.name,
                    "jobs_timed": len(seconds),
                    "wall_s_total": round(sum(seconds), 1),
                    "wall_s_median": round(statistics.median(seconds), 1),
                    "wall_s_max": round(max(seconds), 1),
                }
            )
    return rows


def read_rule_times(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def timed_trials(trial_files, results: Path, benchmarks: Path, pack_digits: int) -> int:
    """How many of ``trial_files`` (results/trials/<study>/trial<name>.json) were trained in a
    job whose benchmark file is present: its own (train_trial/<study>/trial<name>.tsv) or its
    pack's (train_pack/<study>/pack<name but its last pack_digits>.tsv)."""
    timed = 0
    for trial in map(Path, trial_files):
        study = trial.parent.relative_to(results / "trials")
        name = trial.stem.removeprefix("trial")
        chunk = name[: len(name) - pack_digits]
        jobs = [
            benchmarks / "train_trial" / study / f"trial{name}.tsv",
            benchmarks / "train_pack" / study / f"pack{chunk}.tsv",
        ]
        timed += any(job.exists() for job in jobs)
    return timed


def devices(trial_files) -> str:
    """The devices trials were trained on, each with how many: the name their job noted
    (made_by), else the kind their record holds ("cpu", "cuda") for one noted before."""
    counts = collections.Counter(map(trial_device, trial_files))
    return ", ".join(f"{device} ({n} trial{'s' if n > 1 else ''})" for device, n in sorted(counts.items()))


def trial_device(trial) -> str:
    from .results import made_path, read_json

    for path, section in ((made_path(trial), "provenance"), (trial, "run")):
        try:
            return read_json(path)[section]["device"]
        except (OSError, ValueError, KeyError, TypeError):  # not noted there
            continue
    return UNKNOWN


def remove_empty_folders(root: Path) -> None:
    """Remove ``root`` and the folders under it that hold nothing but a race lock (jobs.train's
    ``.lock``), deepest first; any other file (a killed job's checkpoint) and its folders stay."""
    folders = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for folder in [*folders, root] if root.is_dir() else []:
        if {p.name for p in folder.iterdir()} <= {".lock"}:
            (folder / ".lock").unlink(missing_ok=True)
            folder.rmdir()
