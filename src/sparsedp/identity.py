"""What defines each result: the identity of a data split, a network, a mask, a trial and a study.

An identity is a plain dict of everything that determines a result and nothing else: settings
that only change how fast or where a result is computed (threads, packing of trials into jobs,
evaluation chunks, checkpoints, device, data sources, search ranges a workload does not search,
where a user's file lies) are not part of it. The workflow passes identities to jobs as rule
params (Snakemake redoes a result when they change), jobs write them into every record, and every
consumer checks the records it reads against the identity it expects, so results of different
settings are never mixed, with or without Snakemake's metadata.

The code that computes a result is part of its identity (``code``): a digest of exactly the
functions it runs (``code_version``): the science's entry points named per kind of result
below, each with every function, class and constant of the package it uses, followed through
imports, and the entry of each dispatch table the result uses (its model, pruning method,
optimizer, schedule) instead of the whole table. A user's model or data function counts as its
file's code. Comments, docstrings, blank lines and formatting inside a line's tokens do not
count. So adding a model, optimizer or pruning method changes no existing result's code, and
editing one reruns exactly the results that use it. Studies, tables and figures, which cost
seconds, are redone when any analysis module changes, or a registry entry the experiment uses
(``analysis_version``).
Torch-free: imported by the Snakefile at parse time.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import io
import re
import tokenize
from pathlib import Path

from . import registry
from .config import SEARCH_RANGE, Study, dataset_entry, model_entry, search_ranges, searched, study_mode, trial_seed
from .search import metaparameters

PACKAGE = Path(__file__).resolve().parent
# Dispatch tables: a result's code holds the entry it uses (a root "module.TABLE[key]"), not the
# table. The registry holds labels and declarations; what of it decides a result enters the
# identities as values (metaparameters, pruning settings), so its code is no result's. results.py
# writes and reads files (atomically, digest-checked): how, not what.
OPAQUE = {"engine.OPTIMIZERS", "engine.SCHEDULES", "pruning.SCORES", "models.NETWORKS", "data.READERS"}
OPAQUE_MODULES = {"registry", "results"}
# The registry's tables, of which the analysis code holds the entries an experiment uses.
REGISTRY_TABLES = {
    f"registry.{t}" for t in ("DATASETS", "MODELS", "METAPARAMETERS", "OPTIMIZERS", "SCHEDULES", "PRUNING", "FIGURES")
}
# The entry points of each kind of result (model, pruning method, optimizer and schedule roots
# are added per result).
ROOTS = {
    "data": ("data.save_split", "data.check_examples", "data.load_tensors"),
    "network": ("models.init_network", "models.Network"),
    "mask": ("pruning.prune", "pruning.scoring_examples", "pruning.collapsed_layers"),
    "trial": ("engine.train_study",),
    "noise": ("noise.estimate", "noise.masked_sq_norm"),
}
# What turns trials into studies, tables and figures: whole modules, with the registry's
# functions and the entries an experiment uses (a rule param of those rules, not a record's
# identity: they are cheap to redo and never checked by a consumer).
ANALYSIS = ("reduce.py", "analysis.py", "claims.py", "labels.py", "plots.py", "batch_science.py")
PAGES = ("columns.py", "pages.py")  # a table's page and the column dictionary it shows


def _normalised(source: str) -> str:
    """Code without comments, docstrings, blank lines and trailing spaces: the same for every
    Python version that parses it."""
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


class _Module:
    """A module of the package: its top-level definitions and what its names refer to."""

    def __init__(self, name: str):
        self.name = name
        self.source = (PACKAGE / f"{name}.py").read_text()
        tree = ast.parse(self.source)
        self.definitions: dict[str, ast.stmt] = {}
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.definitions[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name):
                        self.definitions[target.id] = node
        # Package-relative imports anywhere in the module: local name -> (module, name) or (module, None).
        self.imports: dict[str, tuple[str, str | None]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for alias in node.names:
                    local = alias.asname or alias.name
                    self.imports[local] = (node.module, alias.name) if node.module else (alias.name, None)

    def text(self, node: ast.AST) -> str:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        lines = self.source.splitlines()[first - 1 : node.end_lineno]
        indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
        return _normalised("\n".join(line[indent:] for line in lines))

    def references(self, node: ast.AST) -> set[tuple[str, str]]:
        """The package definitions ``node`` uses: (module, name)."""
        found = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                if sub.id in self.definitions:
                    found.add((self.name, sub.id))
                elif sub.id in self.imports and self.imports[sub.id][1] is not None:
                    found.add(self.imports[sub.id])
            elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
                imported = self.imports.get(sub.value.id)
                if imported is not None and imported[1] is None:
                    found.add((imported[0], sub.attr))
        return found

    def entry(self, table: str, key: str) -> ast.AST:
        """The value of ``key`` in the dict literal ``table``."""
        node = self.definitions.get(table)
        value = getattr(node, "value", None)
        if isinstance(value, ast.Dict):
            for k, v in zip(value.keys, value.values):
                if isinstance(k, ast.Constant) and k.value == key:
                    return v
        raise KeyError(f"{self.name}.{table} has no entry {key!r}")


@functools.cache
def _module(name: str) -> _Module:
    return _Module(name)


@functools.cache  # per process, like _module: a dry run of the paper's grid asks ~10^4 times
def _code(roots: tuple, opaque=frozenset(OPAQUE), opaque_modules=frozenset(OPAQUE_MODULES)) -> dict[str, str]:
    """The normalised code of ``roots`` ("module.name" or "module.TABLE[key]") and of every
    package definition they use, transitively, but for ``opaque`` names and modules:
    qualified name -> code (not to be changed: cached)."""
    pending, code = [], {}
    for root in roots:
        match = re.fullmatch(r"(\w+)\.(\w+)(?:\[(\w+)\])?", root)
        module, name, key = match.groups()
        if key is None:
            pending.append((module, name))
        else:
            node = _module(module).entry(name, key)
            code[root] = _normalised(ast.get_source_segment(_module(module).source, node))
            pending += _module(module).references(node)
    while pending:
        module, name = pending.pop()
        qualified = f"{module}.{name}"
        if qualified in code or qualified in opaque or module in opaque_modules:
            continue
        node = _module(module).definitions.get(name)
        if node is None:
            continue  # a name bound by other means (a loop variable of the module, say): nothing to follow
        code[qualified] = _module(module).text(node)
        pending += _module(module).references(node)
    return code


def code_version(roots, files=()) -> str:
    """Digest (12 hex digits) of the code of ``roots`` (see _code) and of the user's ``files``."""
    digest = hashlib.sha256()
    for name, text in sorted(_code(tuple(roots)).items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    for path in files:
        stat = Path(path).stat()
        digest.update(b"file\0" + _file_code(str(path), stat.st_size, stat.st_mtime_ns).encode() + b"\0")
    return digest.hexdigest()[:12]


@functools.cache
def _file_code(path: str, size: int, mtime_ns: int) -> str:
    """A user's file's normalised code, once per version of the file."""
    return _normalised(Path(path).read_text())


def _modules_digest(names):
    """sha256, so far, of the package's modules ``names``, whole."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + _normalised((PACKAGE / name).read_text()).encode() + b"\0")
    return digest


def page_version() -> str:
    """Digest of the code of the tables' HTML pages (PAGES): a change of it redoes the pages only."""
    return _modules_digest(PAGES).hexdigest()[:12]


def analysis_version(config: dict) -> str:
    """Digest of the analysis modules (ANALYSIS), whole, and of the registry's functions and the
    entries ``config`` uses: adding an entry to the registry redoes no table or figure."""
    used = [f"registry.FIGURES[{name}]" for name in config["figures"]]
    for spec in config["workloads"].values():
        used += [f"registry.OPTIMIZERS[{spec['optimizer']}]", f"registry.SCHEDULES[{spec['schedule']}]"]
        used += [f"registry.PRUNING[{method}]" for method in spec["pruning"]]
        used += [f"registry.METAPARAMETERS[{name}]" for name in searched(spec)]
        used += [f"registry.MODELS[{spec['model']}]"] if spec["model"] in registry.MODELS else []
        used += [f"registry.DATASETS[{spec['dataset']}]"] if spec["dataset"] in registry.DATASETS else []
    functions = [f"registry.{name}" for name in ("searched", "pruning_label", "DENSE")]
    digest = _modules_digest(ANALYSIS)
    for name, text in sorted(
        _code(tuple(sorted(set(used)) + functions), frozenset(REGISTRY_TABLES), frozenset({"results"})).items()
    ):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:12]


def source_file(reference: str) -> Path:
    """The file of a user's function, "path/file.py:name" (relative to the working directory) or
    "package.module:name" (found on sys.path without importing it). FileNotFoundError if none."""
    where = reference.rpartition(":")[0]
    if where.endswith(".py"):
        path = Path(where)
    else:
        top, *rest = where.split(".")
        spec = importlib.util.find_spec(top)
        if spec is None or spec.origin is None:
            raise FileNotFoundError(f"no module {top!r} on the Python path")
        path = Path(spec.origin).parent.joinpath(*rest) if rest else Path(spec.origin)
        if rest:
            path = path.with_suffix(".py") if path.with_suffix(".py").exists() else path / "__init__.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return path


def _model_code(model: dict) -> tuple[list[str], list[Path]]:
    """The roots and files of a model (a config.model_entry): its factory's."""
    if model["factory"] is None:
        return [*ROOTS["network"], f"models.NETWORKS[{model['name']}]"], []
    return list(ROOTS["network"]), [source_file(model["factory"])]


def network_code(model: dict) -> str:
    """The code that builds and runs a model (config.model_entry)."""
    return code_version(*_model_code(model))


def mask_code(method: str, model: dict) -> str:
    roots, files = _model_code(model)
    scores = [] if method == registry.DENSE else [f"pruning.SCORES[{method}]"]
    return code_version([*ROOTS["mask"], *scores, *roots], files)


def trial_code(optimizer: str, schedule: str, model: dict) -> str:
    roots, files = _model_code(model)
    entries = [f"engine.OPTIMIZERS[{optimizer}]", f"engine.SCHEDULES[{schedule}]"]
    return code_version([*ROOTS["trial"], *entries, *roots], files)


def noise_code(model: dict) -> str:
    return code_version([*ROOTS["noise"], *_model_code(model)[0]], _model_code(model)[1])


def data_code(dataset: dict) -> str:
    """The code that reads, checks and splits a dataset (config.dataset_entry) and loads its split."""
    if dataset["source"] == "registry":
        return code_version([*ROOTS["data"], f"data.READERS[{dataset['name']}]"])
    if dataset["source"] == "npz":
        return code_version([*ROOTS["data"], "data.read_npz"])
    return code_version([*ROOTS["data"], "data.call_function"], [source_file(dataset["function"])])


@functools.cache
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    from .results import file_digest

    return file_digest(path)


def data_identity(config: dict, name: str) -> dict:
    """A prepared split: where its examples come from (a registry dataset's original files,
    fixed by their published MD5s; a user's .npz by its content digest; a user's function by its
    file's code and arguments), the split rule, the standardisation, the classes, and the code."""
    dataset = dataset_entry(config, name)
    if dataset["source"] == "registry":
        source = {"files": "published originals, MD5-verified"}
    elif dataset["source"] == "npz":
        stat = Path(dataset["npz"]).stat()
        source = {"npz": _file_digest(str(dataset["npz"]), stat.st_size, stat.st_mtime_ns), "arrays": dataset["arrays"]}
    else:
        source = {"function": dataset["function"].rpartition(":")[2], "kwargs": dataset["kwargs"]}
    return {
        "dataset": name,
        "source": source,
        "split": {"validation": dataset["validation"], "seed": 0},
        "standardise": dataset["standardise"],
        "classes": dataset["classes"],
        "code": data_code(dataset),
    }


def model_identity(config: dict, name: str) -> dict:
    """A model as the config defines it besides its code: its factory's arguments and initialisation."""
    model = model_entry(config, name)
    return {"name": name, "kwargs": model["kwargs"], "init": model["init"]}


def network_check_identity(config: dict, dataset: str, model: str) -> dict:
    """The check that a model builds, fits a dataset's examples and classes and can be trained
    here (jobs.check_network)."""
    return {
        "data": data_identity(config, dataset),
        "model": model_identity(config, model),
        "code": network_code(model_entry(config, model)),
    }


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


def network_identity(config: dict, dataset: str, model: str, sparsity: float, method: str) -> dict:
    """A network as pruned, whatever the seed: what the masks of every seed share (the mask
    rules' tracked param, the same for a pack of seeds and for one seed)."""
    return {
        "dataset": dataset,
        "model": model,
        "model_spec": model_identity(config, model),
        "sparsity": float(sparsity),
        "pruning": pruning_settings(config, method),
        "data": data_identity(config, dataset),
        "code": mask_code(method, model_entry(config, model)),
    }


def seeded(network: dict, seed: int) -> dict:
    """The identity of seed ``seed``'s mask (and initialisation) of the network ``network`` (a
    network_identity): trial ``seed`` starts from it in every study of the network."""
    return {**network, "seed": seed}


def study_identity(config: dict, study: Study) -> dict:
    """Everything shared by the trials of one study; a trial adds its number (its Sobol point),
    its seed (of initialisation, mask and data order: config.trial_seed), its metaparameters and
    its mask."""
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
        "replicate": study.replicate,
        "goal_errors": list(spec["goal_errors"]),
        "budget_steps": spec["budget_steps"],
        "eval_every": config["training"]["eval_every"],
        "mode": study_mode(config, study),
        **race_settings(config, study),
        # Only the ranges this workload searches: trial k's metaparameters come from them.
        "search": {SEARCH_RANGE[name]: ranges[SEARCH_RANGE[name]] for name in searched(spec)},
        "pruning": pruning_settings(config, study.pruning),
        "network": network_identity(config, spec["dataset"], spec["model"], study.sparsity, study.pruning),
        "code": trial_code(spec["optimizer"], spec["schedule"], model_entry(config, spec["model"])),
    }


def race_settings(config: dict, study: Study) -> dict:
    """A race study's race group (search.race_group); census studies have none."""
    return {"race_group": config["search"]["race_group"]} if study_mode(config, study) == "race" else {}


def trial_identities(study: dict, trials) -> list[dict]:
    """The identities of trials ``trials`` (numbers) of the study whose identity is ``study``."""
    search = {**study["search"], "n_trials": max(trials) + 1}
    values = metaparameters(study, search)
    shared = {k: v for k, v in study.items() if k not in ("search", "network")}
    seeds = [trial_seed(k, study["replicate"]) for k in trials]
    return [
        {**shared, "trial": k, "seed": seed, "metaparameters": values[k], "mask": seeded(study["network"], seed)}
        for k, seed in zip(trials, seeds)
    ]


def noise_identity(config: dict, dataset: str, model: str, method: str, sparsity: float) -> dict:
    """The noise-scale estimate of one network, pruning method and sparsity, over the masks of
    seeds 0..seeds-1."""
    settings = config["noise_scale"]
    network = network_identity(config, dataset, model, sparsity, method)
    return {
        "dataset": dataset,
        "model": model,
        "pruning_method": method,
        "sparsity": float(sparsity),
        **{k: settings[k] for k in ("batch_small", "batch_big", "draws", "seeds")},
        "masks": [seeded(network, seed) for seed in range(settings["seeds"])],
        "code": noise_code(model_entry(config, model)),
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


def check_code(identity: dict, current: str, kind: str) -> None:
    """The code running a job (``current``, its code version now) must be the code its identity
    names: an edit of the package or of a user's file between planning a run and running its job
    would otherwise be recorded under the old name."""
    if identity["code"] != current:
        raise IdentityError(
            f"the {kind} code changed since this run was planned ({identity['code']} -> {current}); "
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
