"""Config validation and the study grid. Imported by the Snakefile at parse time: no torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

# Metaparameters searched per (optimizer, schedule); the order is the Sobol dimension order.
SEARCHED = {
    ("sgd", "constant"): ("learning_rate",),
    ("momentum", "constant"): ("learning_rate", "momentum"),
    ("nesterov", "constant"): ("learning_rate", "momentum"),
    ("sgd", "linear_decay"): ("learning_rate", "decay_steps", "end_factor"),
    ("momentum", "linear_decay"): ("learning_rate", "momentum", "decay_steps", "end_factor"),
    ("nesterov", "linear_decay"): ("learning_rate", "momentum", "decay_steps", "end_factor"),
}
TRIAL_DIGITS = 3  # trial file names: trial000 .. trial999
MODEL_DATASET = {"simple_cnn": "mnist", "simple_cnn_same": "mnist", "resnet8": "cifar10"}
# Figures of every trial of chosen studies (the others: each study's best trial). Their studies
# are trained in census mode, whatever their workload's mode: every trial's true status.
TRIAL_FIGURES = ("fig4_mnist", "fig5_cifar")
MOMENTUM_FIGURES = ("fig4_mnist",)  # learning rate against 1 - momentum: momentum optimizers only


class ConfigError(ValueError):
    """A bad configuration, found before any job runs."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def validate(config: dict, schema_path: str | Path) -> dict:
    """Check ``config`` against the JSON schema and the rules a schema cannot state.

    Raises ConfigError listing every problem, each naming its key and what is allowed.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        allowed = ""
        if err.validator == "enum":
            allowed = f" (allowed: {', '.join(map(str, err.validator_value))})"
        elif err.validator == "additionalProperties":
            allowed = f" (allowed keys: {', '.join(sorted(err.schema.get('properties', {})))})"
        problems.append(f"config key '{_key(err.path)}': {err.message}{allowed}")
    if not problems:
        problems = _semantic_problems(config)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config


def _semantic_problems(config: dict) -> list[str]:
    problems = []
    for name in ("learning_rate", "one_minus_momentum", "decay_steps", "end_factor"):
        rng = config["search"][name]
        if rng["low"] > rng["high"]:
            problems.append(f"config key 'search.{name}': low {rng['low']} > high {rng['high']}")
    omm = config["search"]["one_minus_momentum"]
    if omm["high"] >= 1:
        problems.append("config key 'search.one_minus_momentum.high': must be < 1 (momentum > 0)")
    n_trials, pack = config["search"]["n_trials"], config["training"]["pack_size"]
    if n_trials % pack:
        problems.append(
            f"config key 'search.n_trials': {n_trials} is not a multiple of training.pack_size {pack}; the trials "
            "of a partial pack would be trained one by one (allowed: multiples of the pack size)"
        )
    noise = config["noise_scale"]
    if noise["batch_small"] >= noise["batch_big"]:
        problems.append(
            f"config key 'noise_scale.batch_small': {noise['batch_small']} is not smaller than "
            f"noise_scale.batch_big {noise['batch_big']} (the estimator needs two batch sizes, small < big)"
        )
    if noise["seeds"] > n_trials:
        problems.append(
            f"config key 'noise_scale.seeds': {noise['seeds']} networks, but masks exist only for the "
            f"search.n_trials {n_trials} trials (allowed: 1 to {n_trials})"
        )
    for fig, spec in config["figures"].items():
        for wl in spec["workloads"]:
            if wl not in config["workloads"]:
                known = ", ".join(config["workloads"])
                problems.append(f"config key 'figures.{fig}.workloads': unknown workload '{wl}' (known: {known})")
    for wl, spec in config["workloads"].items():
        if MODEL_DATASET[spec["model"]] != spec["dataset"]:
            problems.append(
                f"config key 'workloads.{wl}.model': {spec['model']} is a {MODEL_DATASET[spec['model']]} model, "
                f"not for dataset {spec['dataset']}"
            )
    for fig in TRIAL_FIGURES:
        spec = config["figures"].get(fig)
        if spec is not None and "studies" not in spec:
            problems.append(
                f"config key 'figures.{fig}': a trial-level figure needs 'studies' ([sparsity, batch size] pairs)"
            )
        if fig in MOMENTUM_FIGURES and spec is not None:
            for wl in spec["workloads"]:
                if wl in config["workloads"] and "momentum" not in searched(config["workloads"][wl]):
                    problems.append(
                        f"config key 'figures.{fig}.workloads': {wl} searches no momentum "
                        "(allowed: workloads with optimizer momentum or nesterov)"
                    )
        for sparsity, batch in (spec or {}).get("studies", []):
            known = [wl for wl in spec["workloads"] if wl in config["workloads"]]
            if not any(Study(wl, sparsity, batch) in studies(config, [wl]) for wl in known):
                problems.append(
                    f"config key 'figures.{fig}.studies': [{sparsity}, {batch}] is not a study of {spec['workloads']}"
                )
    return problems


def load(path: str | Path, schema_path: str | Path) -> dict:
    return validate(yaml.safe_load(Path(path).read_text()), schema_path)


def sparsity_label(sparsity: float) -> str:
    """0.9 -> '90' (percent, as used in paths)."""
    return f"{round(100 * sparsity, 6):g}"


def sparsity_from_label(label: str) -> float:
    return round(float(label) / 100, 8)


def trial_name(trial: int) -> str:
    return f"{trial:0{TRIAL_DIGITS}d}"


@dataclass(frozen=True)
class Study:
    workload: str
    sparsity: float
    batch_size: int

    @property
    def path(self) -> str:
        """Relative path shared by a study's trial folder and its reduction file."""
        return f"{self.workload}/sparsity{sparsity_label(self.sparsity)}/batch{self.batch_size}"


def studies(config: dict, workloads=None) -> list[Study]:
    names = config["workloads"] if workloads is None else workloads
    return [
        Study(wl, float(s), int(b))
        for wl in names
        for s in config["workloads"][wl]["sparsities"]
        for b in config["workloads"][wl]["batch_sizes"]
    ]


def figure_studies(config: dict, figure: str) -> list[Study]:
    """The studies a figure shows: all of its workloads', or the chosen ones of a trial-level figure."""
    spec = config["figures"][figure]
    grid = studies(config, spec["workloads"])
    if "studies" not in spec:
        return grid
    chosen = {(float(s), int(b)) for s, b in spec["studies"]}
    return [s for s in grid if (s.sparsity, s.batch_size) in chosen]


def study_mode(config: dict, study: Study) -> str:
    """How a study is trained: census when a trial-level figure shows it (every trial's true
    status is plotted), else its workload's mode (race gives the same study result)."""
    for fig in TRIAL_FIGURES:
        if fig in config["figures"] and study in figure_studies(config, fig):
            return "census"
    return config["workloads"][study.workload]["mode"]


def searched(workload: dict) -> tuple[str, ...]:
    return SEARCHED[(workload["optimizer"], workload["schedule"])]
