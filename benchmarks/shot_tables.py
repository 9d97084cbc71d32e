"""Tables and Figure 1 of whatever studies of an experiment have finished, with each study's
training time from its job log: what a run stopped at a deadline (benchmarks/gpu_shot.sh)
leaves, and the time the whole grid would take.

    python benchmarks/shot_tables.py OUT_DIR config/gpu_shot.yaml    # presets as given to snakemake
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sparsedp.analysis import critical_batch_table  # noqa: E402
from sparsedp.config import Study, load  # noqa: E402
from sparsedp.plots import render  # noqa: E402
from sparsedp.reduce import study_table  # noqa: E402
from sparsedp.results import atomic_path, read_record  # noqa: E402

TRAINED = re.compile(r"trained (\d+) trials in ([0-9.]+) s on (\S+)")


def job_seconds(results: Path, identity: dict) -> float | None:
    """Training seconds of a study's jobs, summed over its job logs (None if none says)."""
    study = Study(identity["workload"], identity["sparsity"], identity["batch_size"], identity["pruning"]["method"])
    logs = (results / "logs/train" / study.path).glob("*.log")
    found = [float(m.group(2)) for p in logs for m in TRAINED.finditer(p.read_text())]
    return sum(found) if found else None


def main(out: str, *presets: str) -> None:
    config = load([REPO / "config.yaml", *presets], REPO / "workflow/schemas/config.schema.yaml")
    results, out = Path("results") / config["experiment"], Path(out)
    out.mkdir(parents=True, exist_ok=True)
    studies = [read_record(p, "study") for p in sorted(results.glob("studies/*/*/*/*.json"))]
    if not studies:
        print(f"no finished study under {results}")
        return
    table = study_table(studies)
    key = ["pruning", "sparsity", "batch_size"]
    seconds = {(s["identity"]["pruning"]["method"], s["identity"]["sparsity"], s["identity"]["batch_size"]):
               job_seconds(results, s["identity"]) for s in studies}  # fmt: skip
    table["train_seconds"] = [seconds[tuple(row)] for row in table[key].itertuples(index=False)]
    critical = critical_batch_table(table, config["analysis"]["min_saving"], config["analysis"]["n_bootstrap"])
    for name, frame in (("steps_to_result", table), ("critical_batch", critical)):
        with atomic_path(out / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
    goal = table["goal_error"].min()
    at_goal = table[table["goal_error"] == goal]
    render("fig1_mnist", at_goal, out / "fig1_mnist.pdf", out / "fig1_mnist.png",
           critical=critical[critical["goal_error"] == goal], experiment=results.name)  # fmt: skip
    per_study = at_goal.drop_duplicates(["workload", "sparsity", "batch_size"])
    print(f"{len(per_study)} studies finished; steps-to-result at goal {goal:g}:")
    print(per_study[["sparsity", "batch_size", "steps_to_result", "learning_rate", "momentum", "train_seconds"]]
          .to_string(index=False))  # fmt: skip
    done = per_study["train_seconds"].dropna()
    print(f"training time of the finished studies: {done.sum():.0f} s (mean {done.mean():.0f} s per study)")


if __name__ == "__main__":
    main(*sys.argv[1:])
