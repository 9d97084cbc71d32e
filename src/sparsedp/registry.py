"""What exists: datasets, models, optimizers, schedules, searched metaparameters, pruning methods
and figures, each once, with its label and what it needs. A config adds its own models and
datasets (``models:``, ``datasets:``) beside the datasets and models here.

Read by config validation (the schema's enums, search ranges and figure keys are filled from
here), the search, the rules, the engine (one update rule per optimizer under the same name),
pruning (one score function per method), plots, claims and the report's captions. Adding a
model, an optimizer, a pruning method or a figure is one entry here plus its function; tests
check that every entry has one. Torch-free: imported by the Snakefile at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    """A dataset whose original files the workflow fetches (fetch.DATASETS) and reads (data.READERS)."""

    label: str
    validation: int  # examples held out of the training files for validation (the reference code's split)
    standardise: str  # global (one mean and std) | channel (per channel)


@dataclass(frozen=True)
class Model:
    """A network of models.NETWORKS: its factory takes the input shape and classes of the data."""

    label: str
    description: str
    init: str = "variance_scaling"  # the reference code's initialisation (models.init_network)


@dataclass(frozen=True)
class Metaparameter:
    """A searched metaparameter: drawn from its search range (config key ``range_key``) on a
    ``scale``: log (log-uniform), one_minus_log (1 - value log-uniform), integer (uniform)."""

    range_key: str
    scale: str
    default: dict  # the range where the config gives none
    label: str  # axis label in figures


@dataclass(frozen=True)
class Optimizer:
    label: str
    metaparameters: tuple[str, ...]  # searched, in Sobol dimension order
    heavy_ball: bool  # momentum or Nesterov: the optimizers the paper says extend perfect scaling


@dataclass(frozen=True)
class Schedule:
    label: str
    metaparameters: tuple[str, ...]  # searched besides the optimizer's, after them


@dataclass(frozen=True)
class Pruning:
    label: str
    needs_data: bool  # scores from the loss on training examples (settings under masks:)
    reference: str


@dataclass(frozen=True)
class Figure:
    title: str
    level: str  # "studies": best trial per study against batch size; "trials": every trial of chosen studies
    needs: str | None = None  # a metaparameter every workload it shows must search
    by: str = "sparsity"  # what its curves compare: sparsities (one pruning method) or pruning methods


DATASETS = {
    "mnist": Dataset("MNIST", validation=6000, standardise="global"),
    "cifar10": Dataset("CIFAR-10", validation=5000, standardise="channel"),
}

MODELS = {
    "simple_cnn": Model("Simple-CNN", "the reference code's Simple-CNN (VALID padding)"),
    "simple_cnn_same": Model("Simple-CNN (SAME)", "Shallue et al.'s variant (SAME padding, a hidden layer)"),
    "resnet8": Model("ResNet-8", "the reference code's ResNet-8 without batch norm"),
}

METAPARAMETERS = {
    "learning_rate": Metaparameter("learning_rate", "log", {"low": 1.0e-4, "high": 1.0}, "learning rate"),
    "momentum": Metaparameter("one_minus_momentum", "one_minus_log", {"low": 1.0e-4, "high": 0.1}, "1 − momentum"),
    "beta1": Metaparameter("one_minus_beta1", "one_minus_log", {"low": 1.0e-3, "high": 0.5}, "1 − β1"),
    "epsilon": Metaparameter("epsilon", "log", {"low": 1.0e-10, "high": 1.0e-2}, "ε"),
    "decay_steps": Metaparameter("decay_steps", "integer", {"low": 30000, "high": 60000}, "decay steps"),
    "end_factor": Metaparameter("end_factor", "log", {"low": 1.0e-4, "high": 0.1}, "end factor"),
}

# In the paper's order: its figures and tables list optimizers so.
OPTIMIZERS = {
    "sgd": Optimizer("SGD", ("learning_rate",), heavy_ball=False),
    "momentum": Optimizer("Momentum", ("learning_rate", "momentum"), heavy_ball=True),
    "nesterov": Optimizer("Nesterov", ("learning_rate", "momentum"), heavy_ball=True),
    # Shallue et al.'s Adam studies: learning rate, 1 - β1 and ε searched, β2 = 0.999 fixed.
    "adam": Optimizer("Adam", ("learning_rate", "beta1", "epsilon"), heavy_ball=False),
}

SCHEDULES = {
    "constant": Schedule("constant", ()),
    "linear_decay": Schedule("linear decay", ("decay_steps", "end_factor")),
}

# The method of every dense (sparsity 0) study and mask: nothing is pruned, so every method
# gives the same network, trained once.
DENSE = "none"
PRUNING = {
    "snip": Pruning("SNIP", True, "Lee et al. 2019 (the paper's method)"),
    "random": Pruning("random", False, "uniform over the prunable weights"),
    "magnitude": Pruning("magnitude", False, "largest |w| at initialisation"),
    "grasp": Pruning("GraSP", True, "Wang et al. 2020"),
    "synflow": Pruning("SynFlow", False, "Tanaka et al. 2020 (data-free, iterative)"),
}

FIGURES = {
    "fig1": Figure("Figure 1 for any workloads: steps-to-result against batch size", "studies"),
    "fig1_mnist": Figure("Figure 1: steps-to-result, MNIST", "studies"),
    "fig2_mnist": Figure("Figure 2: optimizers compared, MNIST", "studies"),
    "fig3_cifar": Figure("Figure 3: steps-to-result, CIFAR-10", "studies"),
    "fig4_mnist": Figure("Figure 4: every trial, MNIST Momentum", "trials", needs="momentum"),
    "fig5_cifar": Figure("Figure 5: every trial, CIFAR-10", "trials"),
    "pruning_methods": Figure("Pruning methods compared", "studies", by="pruning"),
}


def searched(optimizer: str, schedule: str) -> tuple[str, ...]:
    """The metaparameters a workload searches, in Sobol dimension order."""
    return OPTIMIZERS[optimizer].metaparameters + SCHEDULES[schedule].metaparameters


def pruning_label(method: str) -> str:
    return "dense" if method == DENSE else PRUNING[method].label
