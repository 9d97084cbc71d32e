"""Quasi-random metaparameter search: the same unscrambled Sobol points for every study."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
from scipy.stats import qmc

from .config import searched


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
    trials = []
    for point in points:
        mp = {}
        for name, u in zip(names, point):
            if name == "learning_rate":
                mp[name] = _log_uniform(u, **search["learning_rate"])
            elif name == "momentum":  # 1 - momentum is log-uniform
                mp[name] = 1.0 - _log_uniform(u, **search["one_minus_momentum"])
            elif name == "decay_steps":
                lo, hi = search["decay_steps"]["low"], search["decay_steps"]["high"]
                mp[name] = int(min(hi, lo + np.floor(u * (hi - lo + 1))))
            elif name == "end_factor":
                mp[name] = _log_uniform(u, **search["end_factor"])
        trials.append(mp)
    return trials


def derived_seed(seed: int, purpose: str) -> int:
    """Independent, reproducible seed streams per trial: init, data order, SNIP batch."""
    return int.from_bytes(hashlib.sha256(f"{purpose}:{seed}".encode()).digest()[:8], "little") >> 1
