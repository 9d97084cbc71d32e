"""What defines each result: the identity of a data split, a mask, a trial and a study.

An identity is a plain dict of everything that determines a result and nothing else: settings
that only change how fast or where a result is computed (threads, packing of trials into jobs,
evaluation chunks, checkpoints, device, data sources, search ranges a workload does not search)
are not part of it. The workflow passes identities to jobs as rule params (Snakemake redoes a
result when they change), jobs write them into every record, and every consumer checks the
records it reads against the identity it expects, so results of different settings are never
mixed, with or without Snakemake's metadata.

The code that computes a result is part of its identity, as a digest of the modules that
define it (``code_version``): comments, docstrings and blank lines do not count, so a result is
redone when that code changes and never when a wrapper does. Studies, tables and figures, which
cost seconds, are redone when the analysis code changes.
Torch-free: imported by the Snakefile at parse time.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import tokenize
from pathlib import Path

from . import registry
from .config import SEARCH_RANGE, Study, search_ranges, searched, study_mode
from .search import metaparameters

PACKAGE = Path(__file__).resolve().parent
# The modules whose code defines each kind of result (each result's identity also holds the
# identities of its inputs: a trial's holds its mask's and its data split's).
CODE = {
    "data": ("data.py",),
    "mask": ("models.py", "pruning.py", "search.py"),
    "trial": ("models.py", "search.py", "engine.py"),
    "noise": ("models.py", "noise.py"),
    # What turns trials into studies, tables and figures (a rule param of those rules, not a
    # record's identity: they are cheap to redo and never checked by a consumer).
    "analysis": ("reduce.py", "analysis.py", "claims.py", "labels.py", "plots.py", "registry.py"),
}


def _normalised_source(path: Path) -> str:
    """A module's code without comments, docstrings, blank lines and trailing spaces: the same
    for every Python version that parses it."""
    source = path.read_text()
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col]
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    return "\n".join(line.rstrip() for i, line in enumerate(lines, 1) if i not in docstrings and line.strip())


@functools.cache
def code_version(kind: str) -> str:
    """Digest (12 hex digits) of the code that defines results of ``kind``."""
    digest = hashlib.sha256()
    for name in CODE[kind]:
        digest.update(name.encode() + b"\0" + _normalised_source(PACKAGE / name).encode() + b"\0")
    return digest.hexdigest()[:12]


def data_identity(dataset: str) -> dict:
    """A prepared split: the original files are fixed by their published MD5s, the split and
    standardisation by the data code."""
    return {"dataset": dataset, "code": code_version("data")}


def pruning_settings(config: dict, method: str) -> dict:
    """How the masks of ``method`` are made: the method and the settings it reads (the data
    settings only for a method that scores on data; none for the dense network)."""
    if method == registry.DENSE:
        return {"method": method}
    masks = config["masks"]
    settings = {"method": method, "scope": masks["scope"]}
    if registry.PRUNING[method].needs_data:
        settings.update(examples=masks["examples"], batch_size=masks["batch_size"])
    return settings


def network_identity(dataset: str, model: str, sparsity: float, pruning: dict) -> dict:
    """A network as pruned, whatever the seed: what the masks of every seed share (the mask
    rules' tracked param, the same for a pack of seeds and for one seed)."""
    return {
        "dataset": dataset,
        "model": model,
        "sparsity": float(sparsity),
        "pruning": pruning,
        "data": data_identity(dataset),
        "code": code_version("mask"),
    }


def mask_identity(dataset: str, model: str, sparsity: float, seed: int, pruning: dict) -> dict:
    """Trial ``seed``'s initialisation and its mask (shared by every optimizer and batch size)."""
    return seeded(network_identity(dataset, model, sparsity, pruning), seed)


def seeded(network: dict, seed: int) -> dict:
    """The identity of seed ``seed``'s mask of the network ``network`` (a network_identity)."""
    return {**network, "seed": seed}


def study_identity(config: dict, study: Study) -> dict:
    """Everything shared by the trials of one study; a trial adds its number (also its seed of
    initialisation, mask and data order), its metaparameters and its mask."""
    spec = config["workloads"][study.workload]
    ranges = search_ranges(config, study.workload)
    return {
        "workload": study.workload,
        "dataset": spec["dataset"],
        "model": spec["model"],
        "optimizer": spec["optimizer"],
        "schedule": spec["schedule"],
        "sparsity": float(study.sparsity),
        "batch_size": int(study.batch_size),
        "goal_errors": list(spec["goal_errors"]),
        "budget_steps": spec["budget_steps"],
        "eval_every": config["training"]["eval_every"],
        "mode": study_mode(config, study),
        # Only the ranges this workload searches: trial k's metaparameters come from them.
        "search": {SEARCH_RANGE[name]: ranges[SEARCH_RANGE[name]] for name in searched(spec)},
        "pruning": pruning_settings(config, study.pruning),
        "data": data_identity(spec["dataset"]),
        "code": code_version("trial"),
    }


def trial_identities(study: dict, trials) -> list[dict]:
    """The identities of trials ``trials`` (numbers) of the study whose identity is ``study``."""
    search = {**study["search"], "n_trials": max(trials) + 1}
    values = metaparameters(study, search)
    shared = {k: v for k, v in study.items() if k != "search"}
    return [
        {
            **shared,
            "trial": k,
            "metaparameters": values[k],
            "mask": mask_identity(study["dataset"], study["model"], study["sparsity"], k, study["pruning"]),
        }
        for k in trials
    ]


def noise_identity(config: dict, dataset: str, model: str, method: str, sparsity: float) -> dict:
    """The noise-scale estimate of one network, pruning method and sparsity, over the masks of
    seeds 0..seeds-1."""
    settings = config["noise_scale"]
    return {
        "dataset": dataset,
        "model": model,
        "pruning_method": method,
        "sparsity": float(sparsity),
        **{k: settings[k] for k in ("batch_small", "batch_big", "draws", "seeds")},
        "masks": [
            mask_identity(dataset, model, sparsity, seed, pruning_settings(config, method))
            for seed in range(settings["seeds"])
        ],
        "code": code_version("noise"),
    }


def differences(found: dict, expected: dict, prefix: str = "") -> list[str]:
    """Dotted keys where two identities differ, each with both values."""
    out = []
    for key in sorted(set(found) | set(expected), key=str):
        a, b = found.get(key, "<missing>"), expected.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} (expected {b!r})")
    return out


class IdentityError(ValueError):
    """A record made with other settings (or other code) than the experiment's."""


def check_code(identity: dict, kind: str) -> None:
    """The code running a job must be the code its identity names: an edit of the package
    between planning a run and running its job would otherwise be recorded under the old name."""
    if identity["code"] != code_version(kind):
        raise IdentityError(
            f"the {kind} code changed since this run was planned ({identity['code']} -> {code_version(kind)}); "
            "rerun snakemake, which plans the run again with the current code"
        )


def check(found: dict, expected: dict, path, redo: str) -> None:
    """Raise IdentityError naming ``path``, the keys that differ and how to redo it."""
    diff = differences(found, expected)
    if diff:
        raise IdentityError(
            f"{path} was made with other settings than this experiment's: {'; '.join(diff)}. "
            f"It is not mixed into these results. {redo}"
        )
