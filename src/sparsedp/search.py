"""Quasi-random metaparameter search: the same unscrambled Sobol points for every study."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
from scipy.stats import qmc

from .config import searched
from .registry import METAPARAMETERS


def sobol_points(n: int, dim: int) -> np.ndarray:
    """First ``n`` points of the unscrambled Sobol sequence in [0,1)^dim, skipping the origin.

    The reference code uses Burkardt's i4_sobol_generate(dim, n, skip=2); for dim <= 2 that is
    exactly these points.
    """
    with warnings.catch_warnings():  # scipy warns that n is not a power of two: irrelevant here
        warnings.simplefilter("ignore", UserWarning)
        return qmc.Sobol(dim, scramble=False).random(n + 1)[1:]


def _log_uniform(u, low, high):
    return float(np.exp(np.log(low) + u * (np.log(high) - np.log(low))))


def metaparameters(workload: dict, search: dict) -> list[dict]:
    """Trial k's metaparameters for every k < n_trials, in Sobol order (trial k = point k): only
    those the workload's optimizer and schedule search."""
    names = searched(workload)
    points = sobol_points(search["n_trials"], len(names))
    return [{name: _draw(name, u, search) for name, u in zip(names, point)} for point in points]


def _draw(name: str, u: float, search: dict):
    """Metaparameter ``name`` at Sobol coordinate ``u`` of its range, on its scale (registry)."""
    meta = METAPARAMETERS[name]
    rng = search[meta.range_key]
    if meta.scale == "log":
        return _log_uniform(u, **rng)
    if meta.scale == "one_minus_log":  # e.g. 1 - momentum log-uniform
        return 1.0 - _log_uniform(u, **rng)
    if meta.scale == "integer":
        return int(min(rng["high"], rng["low"] + np.floor(u * (rng["high"] - rng["low"] + 1))))
    raise ValueError(f"metaparameter {name}: unknown scale {meta.scale!r}")


def derived_seed(seed: int, purpose: str) -> int:
    """Independent, reproducible seed streams per trial: init, data order, SNIP batch."""
    return int.from_bytes(hashlib.sha256(f"{purpose}:{seed}".encode()).digest()[:8], "little") >> 1
