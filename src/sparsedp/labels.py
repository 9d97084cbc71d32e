"""How results are named in tables and figures: workload order, sparsity and power-of-two labels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

OPTIMIZER_ORDER = ("sgd", "momentum", "nesterov")  # the paper's order
OPTIMIZER_LABEL = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov"}
MODEL_LABEL = {"simple_cnn": "Simple-CNN", "simple_cnn_same": "Simple-CNN (SAME)", "resnet8": "ResNet-8"}
DATASET_LABEL = {"mnist": "MNIST", "cifar10": "CIFAR-10"}


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
    """('simple_cnn', 'mnist') -> 'Simple-CNN on MNIST'."""
    return f"{MODEL_LABEL.get(model, model)} on {DATASET_LABEL.get(dataset, dataset)}"


def optimizer(name: str) -> str:
    return OPTIMIZER_LABEL.get(name, name)
