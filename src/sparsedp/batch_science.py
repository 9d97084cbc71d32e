"""Shallue et al. (2019)'s data release, in and out: their documented layout
(google-research/batch_science README), one folder per study and one per trial,

    [group/]dataset/model/optimizer/batch_size/study.json
    [group/]dataset/model/optimizer/batch_size/trial_id/metadata.json     status COMPLETE/INCOMPLETE/INFEASIBLE
    [group/]dataset/model/optimizer/batch_size/trial_id/measurements.csv  step, val/classification_error, ...

so that their dense measurements are drawn beside ours, and ours can be read by their tools.

    python -m sparsedp.batch_science export --results results/quick --out DIR
    python -m sparsedp.batch_science read DIR --goal 0.02 [--rule shallue|sparsedp] [--out FILE.csv]

Steps-to-result of a study, from its measurements, by one of two rules:
- shallue: the first measurement whose error is strictly below the goal, over the COMPLETE trials
  only (their compute_steps_to_result, on what their loader loads by default);
- sparsedp: the first measurement at or below the goal, over every trial's measurements up to
  where it stopped or diverged (reduce.outcome_problems: what this project's reduction counts).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from . import registry
from .config import sparsity_label, trial_name
from .results import PRUNED, atomic_path, read_json, read_record, write_json

STATUSES = ("COMPLETE", "INCOMPLETE", "INFEASIBLE")
ERROR = "val/classification_error"  # the objective of their Simple-CNN and ResNet workloads
RULES = ("shallue", "sparsedp")
# Names that mean the same thing in both; models keep ours (our Simple-CNN is not their simple_cnn_base).
NAMES = {"nesterov": "nesterov_momentum", "cifar10": "cifar_10"}
THEIRS = {v: k for k, v in NAMES.items()}
SCALES = {"log": ("DOUBLE", "LOG_SCALE"), "one_minus_log": ("DOUBLE", "REVERSE_LOG_SCALE"), "integer": ("INTEGER", "")}
COLUMNS = [
    "workload", "dataset", "model", "optimizer", "schedule", "pruning", "sparsity", "batch_size", "replicate",
    "goal_error", "steps_to_result", "n_trials", "best_trial", "source",
]  # fmt: skip


class LayoutError(ValueError):
    """A directory not in Shallue et al.'s layout; the message names the file and what is wrong."""


def trial_status(record: dict) -> str:
    """Their status is the trial's, ours is per goal. Diverged: INFEASIBLE. Trained to its budget,
    or stopped because it reached every goal: COMPLETE (their train_steps is a minimum; ours stop
    early once done). Stopped by the race (pruned) before either: INCOMPLETE, "not completed for
    some reason"; metadata.json's sparsedp block keeps our per-goal statuses."""
    if record["diverged_at_step"] is not None:
        return "INFEASIBLE"
    return "INCOMPLETE" if any(g["status"] == PRUNED for g in record["goals"]) else "COMPLETE"


def _study_dir(ident: dict) -> Path:
    """Dense replicate 0 at the top, as their workloads; other networks and replicates under a
    group folder, as their mnist_subsets/ (the docs name no place for them)."""
    method, replicate = ident["pruning"]["method"], ident["replicate"]
    group = f"{method}_sparsity{sparsity_label(ident['sparsity'])}" + (f"_replicate{replicate}" if replicate else "")
    group = [] if method == registry.DENSE and replicate == 0 else [group]
    names = [NAMES.get(ident[k], ident[k]) for k in ("dataset", "model", "optimizer")]
    return Path(*group, *names, str(ident["batch_size"]))


def _parameter_configs(search: dict) -> dict:
    configs = {}
    for name, m in registry.METAPARAMETERS.items():
        if m.range_key in search:
            kind, scale = SCALES[m.scale]
            low, high = search[m.range_key]["low"], search[m.range_key]["high"]
            configs[name] = {"type": kind, "scale": scale, "min_value": low, "max_value": high}
    return configs


def export(results_dir, out_dir) -> int:
    """Every study of the experiment in ``results_dir`` (its study records and their trial records)
    into ``out_dir`` in their layout; returns the number of trials written."""
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    written, seen = 0, {}
    for study_path in sorted((results_dir / "studies").rglob("*.json")):
        study = read_record(study_path, "study")
        ident = study["identity"]
        where = out_dir / _study_dir(ident)
        if where in seen:  # e.g. two workloads differing only in schedule
            raise LayoutError(f"{study_path} and {seen[where]} would both be written to {where}")
        seen[where] = study_path
        trials_dir = results_dir / "trials" / study_path.relative_to(results_dir / "studies").with_suffix("")
        ours = {k: ident[k] for k in ("workload", "schedule", "sparsity", "replicate", "mode", "goal_errors")}
        write_json(
            where / "study.json",
            {
                "batch_size": ident["batch_size"],
                "dataset": NAMES.get(ident["dataset"], ident["dataset"]),
                "model": ident["model"],
                "optimizer": NAMES.get(ident["optimizer"], ident["optimizer"]),
                "early_stopping": ident["mode"] == "race",  # a race stops trials that cannot win
                "parameter_configs": _parameter_configs(ident["search"]),
                "train_steps": ident["budget_steps"],
                "sparsedp": {**ours, "pruning": ident["pruning"]["method"], "code": ident["code"]},
            },
        )
        for k in range(study["n_trials"]):
            record = read_record(trials_dir / f"trial{trial_name(k)}.json", "trial")
            trial = where / str(k)
            write_json(
                trial / "metadata.json",
                {
                    "parameters": record["identity"]["metaparameters"],
                    "status": trial_status(record),
                    "steps": record["steps_trained"],
                    "trial_id": k,
                    "sparsedp": {"seed": record["identity"]["seed"], "goals": record["goals"]},
                },
            )
            curve = record["curve"]
            table = pd.DataFrame({"step": curve["step"]})
            table[ERROR] = [e / record["n_validation"] for e in curve["val_errors"]]
            with atomic_path(trial / "measurements.csv") as tmp:
                table.to_csv(tmp, index=False)
            written += 1
    return written


def _studies(root: Path) -> list[Path]:
    studies = sorted(root.rglob("study.json"))
    if not studies:
        raise LayoutError(f"{root}: no study.json anywhere below it: not in Shallue et al.'s layout")
    return studies


def _trial_dirs(study_dir: Path) -> list[Path]:
    return sorted((d for d in study_dir.iterdir() if d.is_dir()), key=lambda d: int(d.name) if d.name.isdigit() else -1)


def _json(path: Path) -> dict:
    try:
        found = read_json(path)
    except (OSError, ValueError) as exc:
        raise LayoutError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(found, dict):
        raise LayoutError(f"{path}: not a JSON object")
    return found


def check(root) -> None:
    """Refuse a directory not in their layout, naming the first wrong file and what is wrong."""
    for path in _studies(Path(root)):
        study = _json(path)
        missing = [k for k in ("batch_size", "dataset", "model", "optimizer") if k not in study]
        if missing:
            raise LayoutError(f"{path}: lacks {', '.join(missing)}")
        if path.parent.name != str(study["batch_size"]):
            raise LayoutError(f"{path}: batch_size {study['batch_size']} but its folder is {path.parent.name}")
        trials = _trial_dirs(path.parent)
        if not trials:
            raise LayoutError(f"{path.parent}: a study without trial folders")
        for trial in trials:
            meta, csv = trial / "metadata.json", trial / "measurements.csv"
            for f in (meta, csv):
                if not f.is_file():
                    raise LayoutError(f"{f}: missing")
            metadata = _json(meta)
            if metadata.get("status") not in STATUSES:
                raise LayoutError(f"{meta}: status {metadata.get('status')!r} is none of {', '.join(STATUSES)}")
            if str(metadata.get("trial_id")) != trial.name:
                raise LayoutError(f"{meta}: trial_id {metadata.get('trial_id')!r} but its folder is {trial.name}")
            try:
                table = pd.read_csv(csv)
            except (OSError, ValueError) as exc:
                raise LayoutError(f"{csv}: cannot read it as CSV ({exc})") from None
            if "step" not in table or ERROR not in table:
                raise LayoutError(f"{csv}: needs columns step and {ERROR}, has {', '.join(table.columns)}")
            if not table["step"].is_monotonic_increasing or not pd.api.types.is_numeric_dtype(table[ERROR]):
                raise LayoutError(f"{csv}: steps not increasing or {ERROR} not numbers")


def first_step(steps, errors, goal: float, rule: str):
    """The first step whose error meets ``goal`` by ``rule``; None if none."""
    meets = (lambda e: e < goal) if rule == "shallue" else (lambda e: e <= goal)
    return next((int(s) for s, e in zip(steps, errors) if meets(e)), None)


def read(root, goal_errors, rule: str = "shallue", workload: str | None = None, source: str | None = None):
    """Steps-to-result of every study below ``root`` (checked first) at each goal, by ``rule``, in
    the shape of steps_to_result.csv's rows. Studies of their data are dense, replicate 0, of
    workload ``workload`` (else dataset_optimizer); ours (exported) keep their own."""
    if rule not in RULES:
        raise ValueError(f"rule {rule!r} is none of {', '.join(RULES)}")
    root = Path(root)
    check(root)
    goals = [goal_errors] if isinstance(goal_errors, (int, float)) else list(goal_errors)
    rows = []
    for path in _studies(root):
        study = read_json(path)
        ours = study.get("sparsedp", {})
        dataset, optimizer = (THEIRS.get(study[k], study[k]) for k in ("dataset", "optimizer"))
        base = {
            "workload": ours.get("workload", workload or f"{dataset}_{optimizer}"),
            "dataset": dataset,
            "model": study["model"],
            "optimizer": optimizer,
            "schedule": ours.get("schedule", ""),  # their schedules differ by workload; the docs name none
            "pruning": ours.get("pruning", registry.DENSE),
            "sparsity": float(ours.get("sparsity", 0.0)),
            "batch_size": int(study["batch_size"]),
            "replicate": ours.get("replicate", 0),
        }
        trials = []
        for trial in _trial_dirs(path.parent):
            status = read_json(trial / "metadata.json")["status"]
            if rule == "sparsedp" or status == "COMPLETE":
                trials.append((int(trial.name), pd.read_csv(trial / "measurements.csv")))
        for goal in goals:
            reached = [(first_step(m["step"], m[ERROR], goal, rule), k) for k, m in trials]
            best = min(((s, k) for s, k in reached if s is not None), default=(None, None))  # ties: lowest trial
            rows.append({**base, "goal_error": goal, "steps_to_result": best[0], "best_trial": best[1],
                         "n_trials": len(_trial_dirs(path.parent)), "source": source or str(root)})  # fmt: skip
    table = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("steps_to_result", "best_trial"):
        table[col] = table[col].astype("Int64")
    return table.sort_values(["workload", "sparsity", "pruning", "batch_size", "goal_error", "replicate"]).reset_index(
        drop=True
    )


def read_external(entries: list[dict], goals) -> pd.DataFrame | None:
    """The rows of config key external_curves' entries (path, label, workload, rule), each at the
    goals ``goals(workload)`` gives; None without entries."""
    tables = [read(e["path"], goals(e["workload"]), e["rule"], e["workload"], e["label"]) for e in entries]
    return pd.concat(tables, ignore_index=True) if tables else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparsedp.batch_science", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    out = commands.add_parser("export", help="write an experiment's studies and trials in their layout")
    out.add_argument("--results", type=Path, required=True, help="an experiment's results folder")
    out.add_argument("--out", type=Path, required=True)
    into = commands.add_parser("read", help="check a folder in their layout and print its steps-to-result")
    into.add_argument("dir", type=Path)
    into.add_argument("--goal", type=float, action="append", required=True, help="goal error (repeatable)")
    into.add_argument("--rule", choices=RULES, default="shallue")
    into.add_argument("--workload", help="the workload name of their studies (default dataset_optimizer)")
    into.add_argument("--out", type=Path, help="write the CSV here rather than print it")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            print(f"wrote {export(args.results, args.out)} trials under {args.out}")
            return 0
        table = read(args.dir, args.goal, args.rule, args.workload)
    except LayoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.out:
        with atomic_path(args.out) as tmp:
            table.to_csv(tmp, index=False)
        print(f"wrote {args.out}: {len(table)} rows")
    else:
        print(table.to_csv(index=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
