"""How results are named in tables and figures: workload order, labels (from the registry), sparsity and
power-of-two labels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import registry

OPTIMIZER_ORDER = tuple(registry.OPTIMIZERS)  # the paper's order


def ordered_workloads(table: pd.DataFrame) -> list[str]:
    """The workloads of ``table`` in the paper's optimizer order: SGD, Momentum, Nesterov."""
    pairs = table[["workload", "optimizer"]].drop_duplicates()
    ranked = sorted(
        pairs.itertuples(index=False),
        key=lambda r: (OPTIMIZER_ORDER.index(r.optimizer) if r.optimizer in OPTIMIZER_ORDER else 99, r.workload),
    )
    return [r.workload for r in ranked]


def percent(sparsity: float) -> str:
    """0.9 -> '90%'."""
    return f"{100 * sparsity:g}%"


def pow2(x) -> str:
    """1024 -> '2^10.0'; NaN -> 'n/a'."""
    return "n/a" if x is None or not np.isfinite(x) or x <= 0 else f"2^{math.log2(x):.1f}"


def network(model: str, dataset: str) -> str:
    """('simple_cnn', 'mnist') -> 'Simple-CNN on MNIST'; a config's own model or dataset by its name."""
    model_label = registry.MODELS[model].label if model in registry.MODELS else model
    dataset_label = registry.DATASETS[dataset].label if dataset in registry.DATASETS else dataset
    return f"{model_label} on {dataset_label}"


def optimizer(name: str) -> str:
    return registry.OPTIMIZERS[name].label


def pruning(method: str) -> str:
    """'snip' -> 'SNIP'; the dense network's 'none' -> 'dense'."""
    return registry.pruning_label(method)
