"""Carry finished trials from one results tree to another, so that a run too long for one session
resumes in the next: ``save`` copies an experiment's finished trial records (each with its note
of what it was made with) into a folder, e.g. ``reference/cpu_paper/trials``; ``restore`` copies
back those that are exactly what the configuration would train now (identity, digest and outcome
checked, as a training job checks a race mate's record) and names the others.

    python -m sparsedp.restore save    --configfile config/cpu_paper.yaml --trials reference/cpu_paper/trials
    python -m sparsedp.restore restore --configfile config/cpu_paper.yaml --trials reference/cpu_paper/trials

``progress`` writes the tables of such a run so far: the steps-to-result of every study whose
replicates are all finished, and the analysis of them (sparsedp.tables), e.g. into
``reference/cpu_paper/progress``.

    python -m sparsedp.restore progress --configfile config/cpu_paper.yaml --out reference/cpu_paper/progress

Restore needs the trials' masks made first (``snakemake --until prune_pack prune_mask`` with the
same config): Snakemake reruns whatever is made from a job it runs, so masks made in the same run
as restored trials would retrain them. Everything then reruns nothing that was restored.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from pathlib import Path

from . import config as cfg
from .identity import differences, study_identity, trial_identities
from .reduce import outcome_problems, read_checked_studies, study_table
from .results import CorruptResult, atomic_path, made_path, read_json, read_record
from .tables import write_analysis

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"


def expected_trials(config: dict) -> dict[str, dict]:
    """Relative path under the results tree (config.TRIAL_PATH) -> the identity of every trial the
    configuration trains."""
    expected = {}
    for study in cfg.studies(config):
        identities = trial_identities(study_identity(config, study), range(config["search"]["n_trials"]))
        for trial in identities:
            path = cfg.TRIAL_PATH.format(trial=cfg.trial_name(trial["trial"]), **study.wildcards)
            expected[path] = trial
    return expected


def mask_stamp(trial: dict) -> str:
    """The relative path of the stamp of a trial's mask."""
    mask = trial["mask"]
    return cfg.MASK_STAMP_PATH.format(
        pruning=mask["pruning"]["method"],
        dataset=mask["dataset"],
        model=mask["model"],
        sparsity=cfg.sparsity_label(mask["sparsity"]),
        seed=cfg.trial_name(mask["seed"]),
    )


def _copy(source: Path, dest: Path) -> None:
    """A record and its note, each written whole (temporary file + rename)."""
    for src, dst in ((made_path(source), made_path(dest)), (source, dest)):  # the note first: never a bare record
        dst.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)


def problems_of(path: Path, expected: dict) -> list[str]:
    """Why the record at ``path`` cannot stand for the trial ``expected`` (an identity); none if it can."""
    try:
        record = read_record(path, "trial")
        read_json(made_path(path))
    except (CorruptResult, OSError, ValueError) as exc:
        return [str(exc).split(". ", 1)[0]]
    return differences(record["identity"], expected) or outcome_problems(record)


def save(config: dict, results: Path, trials: Path) -> int:
    """Copy the finished trial records of ``config``'s studies (and their notes) from ``results``
    into ``trials``; returns how many."""
    saved = 0
    for rel, trial in expected_trials(config).items():
        source = results / rel
        if source.exists() and made_path(source).exists() and not problems_of(source, trial):
            _copy(source, trials / rel.removeprefix("trials/"))
            saved += 1
    print(f"saved {saved} finished trial records of {results} into {trials}")
    return saved


def restore(config: dict, results: Path, trials: Path) -> int:
    """Copy into ``results`` the records in ``trials`` that are what ``config`` would train now and
    that ``results`` lacks; returns how many. Refuses (naming each) the others."""
    expected = expected_trials(config)
    offered = {f"trials/{p.relative_to(trials)}": p for p in sorted(trials.rglob("trial*.json"))}
    refused = {rel: ["not a trial of this configuration"] for rel in offered if rel not in expected}
    todo = []
    for rel, source in offered.items():
        if rel in expected and not (results / rel).exists():
            found = problems_of(source, expected[rel])
            if found:
                refused[rel] = found
            else:
                todo.append(rel)
    no_mask = sorted({mask_stamp(expected[rel]) for rel in todo if not (results / mask_stamp(expected[rel])).exists()})
    if no_mask:
        raise SystemExit(
            f"{len(no_mask)} mask(s) of the trials to restore are not made yet (e.g. {results / no_mask[0]}); "
            "make them first, with the same config: snakemake --cores N --until prune_pack prune_mask --configfile ..."
        )
    for rel in todo:
        _copy(offered[rel], results / rel)
    for rel, why in refused.items():
        print(f"refused {trials / rel.removeprefix('trials/')}: {'; '.join(why)}", file=sys.stderr)
    print(f"restored {len(todo)} trial records into {results}; {len(refused)} refused; "
          f"{sum(not (results / rel).exists() for rel in expected)} of {len(expected)} still to train")  # fmt: skip
    return len(todo)


def progress(config: dict, results: Path, out: Path) -> int:
    """Write into ``out`` the steps_to_result.csv of the studies of ``results`` whose every
    replicate is finished (their records checked to be ``config``'s studies) and its analysis
    tables; returns how many studies it holds."""
    replicates: dict[cfg.Study, dict[cfg.Study, Path]] = {}  # a point -> its replicates' study records
    for study in cfg.studies(config):
        path = results / cfg.STUDY_RECORD_PATH.format(**study.wildcards)
        replicates.setdefault(dataclasses.replace(study, replicate=0), {})[study] = path
    finished = {
        s: p for members in replicates.values() if all(map(Path.exists, members.values())) for s, p in members.items()
    }
    if not finished:
        raise SystemExit(f"{results} holds no study whose every replicate is finished")
    expected = [{**study_identity(config, s), "n_trials": config["search"]["n_trials"]} for s in finished]
    records = read_checked_studies(finished.values(), expected, redo="snakemake --configfile ... (the same config)")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "steps_to_result.csv") as tmp:
        study_table(records).to_csv(tmp, index=False)
    print(f"wrote {out / 'steps_to_result.csv'}: {len(finished)} of {sum(map(len, replicates.values()))} studies")
    write_analysis(out, config["analysis"])
    return len(finished)


# Each action and the option naming its folder.
ACTIONS = {"save": (save, "trials"), "restore": (restore, "trials"), "progress": (progress, "out")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparsedp.restore", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("--configfile", nargs="*", default=[], help="presets merged over config.yaml, as snakemake's")
    parser.add_argument("--trials", type=Path, help="the folder of saved trial records (save, restore)")
    parser.add_argument("--out", type=Path, help="the folder of the tables so far (progress)")
    parser.add_argument("--results", type=Path, help="the experiment's results tree (default results/<experiment>)")
    args = parser.parse_args(argv)
    action, option = ACTIONS[args.action]
    if getattr(args, option) is None:
        parser.error(f"{args.action} needs --{option}")
    config = cfg.load([CONFIG, *args.configfile], SCHEMA)
    action(config, args.results or Path("results") / config["experiment"], getattr(args, option))
    return 0


if __name__ == "__main__":
    sys.exit(main())
