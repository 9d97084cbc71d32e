"""Config: the merged experiment (config.yaml + an overlay preset), checked before any job runs,
the models and datasets it can use (the registry's and its own), and the study grid. Imported by
the Snakefile at parse time: no torch."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import jsonschema
import yaml

from . import registry
from .registry import DENSE

# The search-space key of each metaparameter (momentum is searched as 1 - momentum).
SEARCH_RANGE = {name: m.range_key for name, m in registry.METAPARAMETERS.items()}
TRIAL_DIGITS = 3  # trial file names: trial000 .. trial999
# Where an experiment's results lie under its folder (workflow/rules/common.smk builds its file
# patterns from these; sparsedp.restore finds trials, masks and studies by them).
NETWORK_PATH = "{pruning}/{dataset}/{model}/sparsity{sparsity}"  # a network as pruned, before training
MASK_STAMP_PATH = f"masks/{NETWORK_PATH}/seed{{seed}}.json"
STUDY_PATH = "{workload}/{pruning}/sparsity{sparsity}/batch{batch}{replicate}"
TRIAL_PATH = f"trials/{STUDY_PATH}/trial{{trial}}.json"
STUDY_RECORD_PATH = f"studies/{STUDY_PATH}.json"  # a study's reduction of its trials
# Replicate r of a study repeats its trials (the same Sobol points) with other seeds: trial k's
# initialisation, mask and data order come from seed k + r * SEED_STRIDE (replicate 0: seed k).
SEED_STRIDE = 10**TRIAL_DIGITS
SPARSITY_DECIMALS = 5  # 0.99999 at most: a sparsity's folder label (percent) is then exact
# Figures of every trial of chosen studies (the others: each study's best trial). Their studies
# are trained in census mode, whatever their workload's mode: every trial's true status.
TRIAL_FIGURES = tuple(name for name, fig in registry.FIGURES.items() if fig.level == "trials")
DEFAULT_VALIDATION = 0.1  # the fraction of a user's dataset held out for validation, unless it has its own
# A preset removes a workload or figure of config.yaml by setting it to null.
REMOVABLE = ("workloads", "figures")


class ConfigError(ValueError):
    """A bad configuration, found before any job runs."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _is_integer(checker, instance) -> bool:
    """A YAML integer: 10.0 is not one (it would reach jobs as a float)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


def _fill_defaults(validator_class):
    """Validator that also sets each missing property to its schema default."""
    properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub and name not in instance:
                    instance[name] = sub["default"]
        yield from properties(validator, props, instance, schema)

    checker = validator_class.TYPE_CHECKER.redefine("integer", _is_integer)
    return jsonschema.validators.extend(validator_class, {"properties": set_defaults}, type_checker=checker)


Validator = _fill_defaults(jsonschema.Draft202012Validator)


def remove_nulls(config: dict) -> dict[str, list[str]]:
    """Drop the workloads and figures an overlay set to null; returns what was removed."""
    removed = {}
    for section in REMOVABLE:
        entries = config.get(section)
        if isinstance(entries, dict):
            removed[section] = sorted(k for k, v in entries.items() if v is None)
            for name in removed[section]:
                del entries[name]
    return removed


def validate(config: dict, schema_path: str | Path) -> dict:
    """Check ``config`` (in place: nulls removed, schema defaults filled) against the JSON schema
    and the rules a schema cannot state.

    Raises ConfigError listing every problem, each naming its key and what is allowed.
    """
    removed = remove_nulls(config)
    schema = load_schema(schema_path, config)
    problems = _non_finite(config, [])
    errors = list(Validator(schema).iter_errors(config))
    if any([_read_number(config, err) for err in errors]):  # numbers given as text by --config, now read
        errors = list(Validator(schema).iter_errors(config))
    for err in sorted(errors, key=lambda e: list(map(str, e.path))):
        allowed = ""
        if err.validator == "enum":
            allowed = f" (allowed: {', '.join(map(str, err.validator_value))})"
        elif err.validator == "additionalProperties":
            allowed = f" (allowed keys: {', '.join(sorted(err.schema.get('properties', {})))})"
        problems.append(f"config key '{_key(err.path)}': {err.message}{allowed}")
    if not problems:
        problems = _semantic_problems(config, removed)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config


def _non_finite(value, path: list) -> list[str]:
    """A problem for every NaN or infinity in ``value`` (JSON schema's bounds let NaN through)."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"config key '{_key(path)}': {value} is not a finite number"]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [p for k, v in items for p in _non_finite(v, [*path, k])]


def _read_number(config: dict, err) -> bool:
    """Replace a number given as text (Snakemake's --config passes the values of a mapping, as in
    ``--config search='{n_trials: 12}'``, as strings) by the number, where the schema wants one."""
    if err.validator != "type" or not isinstance(err.instance, str) or not err.path:
        return False
    wanted = {"integer": int, "number": float}.get(err.validator_value)
    try:
        number = wanted(err.instance) if wanted else None
    except ValueError:
        return False
    if number is None or (wanted is float and not math.isfinite(number)):
        return False
    parent = config
    for key in list(err.path)[:-1]:
        parent = parent[key]
    parent[err.path[-1]] = number
    return True


def load_schema(schema_path: str | Path, config: dict | None = None) -> dict:
    """The JSON schema with what exists filled in from the registry (and ``config``'s own models
    and datasets): the enums of datasets, models, optimizers, schedules and pruning methods, the
    search ranges (with their defaults) and the figures."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    workload = schema["properties"]["workloads"]["additionalProperties"]["properties"]
    own = config if isinstance(config, dict) else {}
    for key, entries in (
        ("dataset", [*registry.DATASETS, *_names(own.get("datasets"))]),
        ("model", [*registry.MODELS, *_names(own.get("models"))]),
        ("optimizer", registry.OPTIMIZERS),
        ("schedule", registry.SCHEDULES),
    ):
        workload[key]["enum"] = list(entries)
    workload["model"]["description"] = "; ".join(f"{k} = {m.description}" for k, m in registry.MODELS.items())
    workload["pruning"]["items"]["enum"] = list(registry.PRUNING)
    schema["$defs"]["figure"]["properties"]["pruning"]["enum"] = list(registry.PRUNING)
    ranges = {
        m.range_key: {"$ref": "#/$defs/range_int" if m.scale == "integer" else "#/$defs/range_log"}
        for m in registry.METAPARAMETERS.values()
    }
    schema["$defs"]["ranges"]["properties"] = ranges
    search = schema["properties"]["search"]["properties"]
    for name, m in registry.METAPARAMETERS.items():
        search[m.range_key] = {
            **ranges[m.range_key],
            "default": dict(m.default),
            "description": f"search range of {name} ({m.scale} scale): low, high",
        }
    schema["properties"]["figures"]["properties"] = {
        name: {"$ref": "#/$defs/figure", "description": fig.title} for name, fig in registry.FIGURES.items()
    }
    return schema


def _range_problems(key: str, ranges: dict) -> list[str]:
    problems = []
    for name, rng in ranges.items():
        if name in SEARCH_RANGE.values() and rng["low"] > rng["high"]:
            problems.append(f"config key '{key}.{name}': low {rng['low']} > high {rng['high']}")
    for name, m in registry.METAPARAMETERS.items():
        if m.scale == "one_minus_log" and ranges.get(m.range_key, {}).get("high", 0) >= 1:
            problems.append(f"config key '{key}.{m.range_key}.high': must be < 1 ({name} > 0)")
    return problems


def _names(entries) -> list[str]:
    """The names of a config's own models or datasets (a clash with the registry's is reported apart)."""
    return list(entries) if isinstance(entries, dict) else []


def model_entry(config: dict, name: str) -> dict:
    """How to build model ``name``: a registry network (``factory`` None) or the config's own."""
    if name in registry.MODELS:
        model = registry.MODELS[name]
        return {"name": name, "factory": None, "kwargs": {}, "init": model.init}
    spec = config["models"][name]
    return {"name": name, "factory": spec["factory"], "kwargs": spec["kwargs"], "init": spec["init"]}


def dataset_entry(config: dict, name: str) -> dict:
    """Where dataset ``name``'s examples come from (``source``: registry, npz or function), its
    split rule, standardisation and classes (None: from the labels)."""
    if name in registry.DATASETS:
        dataset = registry.DATASETS[name]
        return {"name": name, "source": "registry", "validation": dataset.validation,
                "standardise": dataset.standardise, "classes": None}  # fmt: skip
    spec = config["datasets"][name]
    return {
        **spec,
        "name": name,
        "source": "npz" if "npz" in spec else "function",
        "arrays": {**{a: a for a in ("x", "y", "x_val", "y_val")}, **spec.get("arrays", {})},
        "validation": spec.get("validation", DEFAULT_VALIDATION),
        "classes": spec.get("classes"),
    }


def _defines(path: Path, name: str) -> bool:
    """Whether a Python file defines ``name`` at its top level (read, not imported)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


def _function_problems(key: str, reference: str) -> list[str]:
    """A user's "file.py:name" or "package.module:name": the file exists and defines the name."""
    from .identity import source_file

    try:
        path = source_file(reference)
        if not _defines(path, reference.rpartition(":")[2]):
            return [f"config key '{key}': {path} defines no {reference.rpartition(':')[2]!r}"]
    except FileNotFoundError as exc:
        return [f"config key '{key}': {reference}: {exc} (paths are relative to the working directory, {Path.cwd()})"]
    except SyntaxError as exc:
        return [f"config key '{key}': {exc.filename}, line {exc.lineno}: {exc.msg}"]
    return []


def _own_entry_problems(config: dict) -> list[str]:
    """The config's own models and datasets: names the registry does not use, factories and data
    functions that exist, and .npz files whose arrays are usable (checked here, before any job)."""
    from .data import DataError, check_examples, read_npz

    problems = []
    for section, registered in (("models", registry.MODELS), ("datasets", registry.DATASETS)):
        for name in config.get(section, {}):
            if name in registered:
                problems.append(
                    f"config key '{section}.{name}': {name} is a registry {section[:-1]}; choose another name"
                )
    if problems:
        return problems
    for name, spec in config.get("models", {}).items():
        problems += _function_problems(f"models.{name}.factory", spec["factory"])
    for name, spec in config.get("datasets", {}).items():
        if "function" in spec:
            problems += _function_problems(f"datasets.{name}.function", spec["function"])
            continue
        entry = dataset_entry(config, name)
        try:
            arrays = read_npz(spec["npz"], entry["arrays"])
            check_examples(arrays, spec["npz"], entry["classes"])
        except (DataError, FileNotFoundError) as exc:
            problems.append(f"config key 'datasets.{name}.npz': {exc}")
            continue
        if "x_val" in arrays and "validation" in spec:
            problems.append(
                f"config key 'datasets.{name}.validation': {spec['npz']} has its own validation set "
                f"({entry['arrays']['x_val']}, {entry['arrays']['y_val']}); leave validation out"
            )
    return problems


def search_ranges(config: dict, workload: str) -> dict:
    """The search ranges of ``workload``: the experiment's, each replaced by the workload's own."""
    return {**config["search"], **config["workloads"][workload].get("search", {})}


def _semantic_problems(config: dict, removed: dict) -> list[str]:
    problems = _range_problems("search", config["search"])
    for wl, spec in config["workloads"].items():
        problems += _range_problems(f"workloads.{wl}.search", spec.get("search", {}))
    n_trials, pack = config["search"]["n_trials"], config["training"]["pack_size"]
    if n_trials % pack:
        problems.append(
            f"config key 'search.n_trials': {n_trials} is not a multiple of training.pack_size {pack}; the trials "
            "of a partial pack would be trained one by one (allowed: multiples of the pack size)"
        )
    local_dir = config["data"].get("local_dir")
    if local_dir is not None and "local" in config["data"]["sources"] and not Path(local_dir).is_dir():
        problems.append(
            f"config key 'data.local_dir': {local_dir} is not a folder (from {Path.cwd()}); give the folder that "
            "holds the original files, or null"
        )
    for i, entry in enumerate(config.get("external_curves", [])):
        if not Path(entry["path"]).is_dir():
            problems.append(
                f"config key 'external_curves[{i}].path': {entry['path']} is not a folder (from {Path.cwd()})"
            )
        if entry["workload"] not in config["workloads"]:
            problems.append(f"config key 'external_curves[{i}].workload': {entry['workload']} is not a workload")
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
    problems += _own_entry_problems(config)
    for wl, spec in config["workloads"].items():
        problems += _sparsity_problems(f"workloads.{wl}.sparsities", spec["sparsities"])
        problems += _excluded_problems(f"workloads.{wl}.excluded_studies", spec)
    for fig, spec in config["figures"].items():
        for wl in spec["workloads"]:
            if wl in removed.get("workloads", ()):
                problems.append(
                    f"config key 'figures.{fig}.workloads': workload '{wl}' is removed (null) in this experiment "
                    f"(list only its workloads, or set figures.{fig}: null)"
                )
            elif wl not in config["workloads"]:
                known = ", ".join(config["workloads"])
                problems.append(f"config key 'figures.{fig}.workloads': unknown workload '{wl}' (known: {known})")
    for fig, spec in config["figures"].items():
        if any(wl not in config["workloads"] for wl in spec["workloads"]):
            continue
        goal = figure_goal(config, fig)
        missing = [wl for wl in spec["workloads"] if goal not in config["workloads"][wl]["goal_errors"]]
        if goal is None:
            problems.append(
                f"config key 'figures.{fig}': its workloads share no goal error; set figures.{fig}.goal_error"
            )
        elif missing:
            problems.append(
                f"config key 'figures.{fig}.goal_error': {goal} is not among the goal_errors of {', '.join(missing)}"
            )
        problems += _figure_pruning_problems(config, fig)
    for fig in TRIAL_FIGURES:
        spec = config["figures"].get(fig)
        if spec is None:
            continue
        if "studies" not in spec:
            problems.append(
                f"config key 'figures.{fig}': a trial-level figure needs 'studies' ([sparsity, batch size] pairs)"
            )
        needs = registry.FIGURES[fig].needs
        if needs:
            for wl in spec["workloads"]:
                if wl in config["workloads"] and needs not in searched(config["workloads"][wl]):
                    able = [k for k, o in registry.OPTIMIZERS.items() if needs in o.metaparameters]
                    problems.append(
                        f"config key 'figures.{fig}.workloads': {wl} searches no {needs} "
                        f"(allowed: workloads with optimizer {' or '.join(able)})"
                    )
        known = [wl for wl in spec["workloads"] if wl in config["workloads"]]
        for sparsity, batch in spec.get("studies", []):
            method = figure_pruning(config, fig)
            if not any(Study(wl, sparsity, batch, method) in studies(config, [wl]) for wl in known):
                problems.append(
                    f"config key 'figures.{fig}.studies': [{sparsity}, {batch}] is not a study of {spec['workloads']}"
                )
    return problems


def _figure_pruning_problems(config: dict, fig: str) -> list[str]:
    """A figure of sparsities shows one pruning method its workloads all use; a figure of
    pruning methods, one sparsity some of its workloads train."""
    spec = config["figures"][fig]
    workloads = [config["workloads"][wl] for wl in spec["workloads"]]
    if registry.FIGURES[fig].by == "pruning":
        sparsity = spec.get("sparsity")
        if sparsity is None:
            return [f"config key 'figures.{fig}': a figure of pruning methods needs 'sparsity' (one above 0)"]
        if not any(sparsity in w["sparsities"] for w in workloads):
            return [f"config key 'figures.{fig}.sparsity': {sparsity} is not a sparsity of {spec['workloads']}"]
        return []
    method = figure_pruning(config, fig)
    if method is None:
        return [f"config key 'figures.{fig}': its workloads share no pruning method; set figures.{fig}.pruning"]
    missing = [wl for wl, w in zip(spec["workloads"], workloads) if method not in w["pruning"]]
    if missing:
        return [
            f"config key 'figures.{fig}.pruning': {method} is not among the pruning methods of {', '.join(missing)}"
        ]
    return []


def _excluded_problems(key: str, workload: dict) -> list[str]:
    """An excluded pair names a study of the grid (a typo would silently train it), and leaves
    each sparsity at least one batch size."""
    sparsities, batches = [float(s) for s in workload["sparsities"]], [int(b) for b in workload["batch_sizes"]]
    excluded = excluded_pairs(workload)
    problems = [
        f"config key '{key}': [{s}, {b}] is not a study of this workload's grid (its sparsities {sparsities}, "
        f"batch sizes {batches})"
        for s, b in sorted(excluded)
        if s not in sparsities or b not in batches
    ]
    problems += [
        f"config key '{key}': it excludes every batch size at sparsity {s}; remove {s} from sparsities instead"
        for s in sparsities
        if all((s, b) in excluded for b in batches)
    ]
    return problems


def _sparsity_problems(key: str, sparsities) -> list[str]:
    """Each sparsity names a folder (its percentage): the label must give back exactly the
    sparsity, and no two sparsities may share one."""
    problems, labels = [], {}
    for s in sparsities:
        if Decimal(repr(float(s))).as_tuple().exponent < -SPARSITY_DECIMALS:
            problems.append(
                f"config key '{key}': {s!r} has more than {SPARSITY_DECIMALS} decimals; its results folder "
                f"could not tell it from a nearby sparsity (allowed: at most {SPARSITY_DECIMALS} decimals, "
                f"e.g. {round(float(s), SPARSITY_DECIMALS)})"
            )
        elif (label := sparsity_label(s)) in labels:
            problems.append(f"config key '{key}': {labels[label]!r} and {s!r} are the same sparsity ({label}%)")
        else:
            labels[label] = s
    return problems


def load(paths, schema_path: str | Path) -> dict:
    """config.yaml and overlays merged as Snakemake merges --configfile, then validated. For tests
    and scripts; the workflow itself gets the merged config from Snakemake."""
    config = {}
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        merge(config, load_yaml(path))
    return validate(config, schema_path)


def load_yaml(path) -> dict:
    """A config file, with the file and line of a YAML error."""
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f", line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ConfigError(f"config file {path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path}: expected keys at the top level, got {type(loaded).__name__}")
    return loaded


def merge(config: dict, overlay: dict) -> dict:
    """Snakemake's --configfile merge: nested mappings merged key by key, anything else replaced."""
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            merge(config[key], value)
        else:
            config[key] = value
    return config


def sparsity_label(sparsity: float) -> str:
    """0.9 -> '90' (percent, as used in paths): exact, so distinct sparsities never share a folder."""
    percent = Decimal(repr(float(sparsity))) * 100
    return f"{percent.normalize():f}" if percent else "0"


def trial_name(trial: int) -> str:
    return f"{trial:0{TRIAL_DIGITS}d}"


@dataclass(frozen=True)
class Study:
    workload: str
    sparsity: float
    batch_size: int
    pruning: str = "snip"  # the method of its masks; DENSE at sparsity 0, whatever is given
    replicate: int = 0  # its trials' seeds (trial_seed); the same search, other seeds

    def __post_init__(self):
        if self.sparsity == 0:  # every method gives the dense network: one study, trained once
            object.__setattr__(self, "pruning", DENSE)

    @property
    def path(self) -> str:
        """Relative path shared by a study's trial folder and its reduction file."""
        return STUDY_PATH.format(**self.wildcards)

    @property
    def wildcards(self) -> dict:
        """The values of STUDY_PATH's fields."""
        return dict(
            workload=self.workload,
            pruning=self.pruning,
            sparsity=sparsity_label(self.sparsity),
            batch=self.batch_size,
            replicate=replicate_label(self.replicate),
        )


def replicate_label(replicate: int) -> str:
    """A replicate's suffix of its study's folder: none for replicate 0 (the paper's protocol,
    one replicate), so that adding replicates keeps every existing study where it is."""
    return f"-replicate{replicate}" if replicate else ""


def trial_seed(trial: int, replicate: int) -> int:
    """The seed of trial ``trial``'s initialisation, mask and data order in replicate ``replicate``."""
    return trial + replicate * SEED_STRIDE


def studies(config: dict, workloads=None) -> list[Study]:
    """The grid: per workload, its pruning methods x sparsities x batch sizes (sparsity 0 once)
    x replicates, less its excluded [sparsity, batch size] pairs."""
    names = config["workloads"] if workloads is None else workloads
    grid = []
    for wl in names:
        spec = config["workloads"][wl]
        excluded = excluded_pairs(spec)
        for s, method in pruned_networks(spec):
            batches = [int(b) for b in spec["batch_sizes"] if (s, int(b)) not in excluded]
            grid += [Study(wl, s, b, method, r) for b in batches for r in range(spec["replicates"])]
    return grid


def excluded_pairs(workload: dict) -> set[tuple[float, int]]:
    """The (sparsity, batch size) pairs a workload leaves out of its grid."""
    return {(float(s), int(b)) for s, b in workload["excluded_studies"]}


def pruned_networks(workload: dict) -> list[tuple[float, str]]:
    """(sparsity, pruning method) of every network a workload trains: the dense one once (DENSE),
    every other sparsity with each of its methods."""
    return [(float(s), m) for s in workload["sparsities"] for m in ([DENSE] if s == 0 else workload["pruning"])]


def figure_pruning(config: dict, figure: str) -> str | None:
    """The pruning method a figure of sparsities shows: its ``pruning``, else snip where all its
    workloads use it, else the first method they share (None: they share none)."""
    spec = config["figures"][figure]
    if "pruning" in spec:
        return spec["pruning"]
    shared = [m for m in registry.PRUNING if all(m in config["workloads"][wl]["pruning"] for wl in spec["workloads"])]
    return shared[0] if shared else None


def figure_studies(config: dict, figure: str) -> list[Study]:
    """The studies a figure shows: its workloads' at its pruning method (or, for a figure of
    pruning methods, at its sparsity), dense included; for a trial-level figure the chosen ones."""
    spec = config["figures"][figure]
    grid = studies(config, spec["workloads"])
    if registry.FIGURES[figure].by == "pruning":
        grid = [s for s in grid if s.sparsity in (0.0, float(spec["sparsity"]))]
    else:
        grid = [s for s in grid if s.pruning in (DENSE, figure_pruning(config, figure))]
    if "studies" not in spec:
        return grid
    chosen = {(float(s), int(b)) for s, b in spec["studies"]}
    return [s for s in grid if (s.sparsity, s.batch_size) in chosen and s.replicate == 0]


def figure_goal(config: dict, figure: str) -> float:
    """The goal error a figure shows: its ``goal_error``, else the tightest goal every one of its
    workloads measures."""
    spec = config["figures"][figure]
    common = set.intersection(*(set(config["workloads"][wl]["goal_errors"]) for wl in spec["workloads"]))
    return spec.get("goal_error", min(common, default=None))


def study_mode(config: dict, study: Study) -> str:
    """How a study is trained: census when a trial-level figure shows it (every trial's true
    status is plotted), else its workload's mode (race gives the same study result)."""
    for fig in TRIAL_FIGURES:
        if fig in config["figures"] and study in figure_studies(config, fig):
            return "census"
    return config["workloads"][study.workload]["mode"]


def searched(workload: dict) -> tuple[str, ...]:
    return registry.searched(workload["optimizer"], workload["schedule"])


def main(argv=None) -> int:
    """`python -m sparsedp.config [PRESET ...]`: check config.yaml with presets merged over it, as
    `snakemake --configfile=PRESET` would (a YAML error names file and line), and say what it runs."""
    import sys

    repo = Path(__file__).resolve().parents[2]
    presets = sys.argv[1:] if argv is None else argv
    try:
        config = load([repo / "config.yaml", *presets], repo / "workflow/schemas/config.schema.yaml")
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    grid = studies(config)
    print(
        f"experiment {config['experiment']}: {len(config['workloads'])} workloads, {len(grid)} studies, "
        f"{len(grid) * config['search']['n_trials']} trials; results in results/{config['experiment']}/"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
