"""Tables and Figure 1 of whatever studies of an experiment have finished, with each study's
training time from its job log: what a run stopped at a deadline (benchmarks/gpu_shot.sh)
leaves, and the time the paper's Figure 1+2 grid would take (config.yaml's MNIST studies).

    python benchmarks/shot_tables.py OUT_DIR config/gpu_shot.yaml    # presets as given to snakemake
    python benchmarks/shot_tables.py --order 16,128,1024 config/gpu_shot.yaml   # the shot's study files, in order
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sparsedp import config as cfg  # noqa: E402
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


def load_config(presets) -> dict:
    return load([REPO / "config.yaml", *presets], REPO / "workflow/schemas/config.schema.yaml")


def shot_order(config: dict, first: list[int]) -> list[Study]:
    """The studies in the order the shot trains them: batch sizes ``first`` (those whose throughput
    the engine benchmark measured, so a study's time and its throughput sit side by side), then
    the others from the smallest; every sparsity of a batch size before the next."""
    studies = cfg.studies(config)
    batches = sorted({s.batch_size for s in studies})
    order = [b for b in first if b in batches] + [b for b in batches if b not in first]
    return sorted(studies, key=lambda s: (order.index(s.batch_size), s.sparsity))


def grid_estimate(per_study, paper: dict) -> str:
    """The Figure 1+2 grid's training time (config.yaml's MNIST studies, every optimizer and
    sparsity) from the mean measured time per study at each batch size; a batch size not
    measured takes the nearest measured one's time, and is named."""
    grid = [s for s in cfg.studies(paper) if paper["workloads"][s.workload]["dataset"] == "mnist"]
    measured = per_study.dropna(subset=["train_seconds"]).groupby("batch_size")["train_seconds"].mean()
    if measured.empty:
        return "no study time measured: no estimate of the grid"
    total, borrowed = 0.0, set()
    for s in grid:
        nearest = min(measured.index, key=lambda b: abs(math.log2(b / s.batch_size)))
        total += measured[nearest]
        if nearest != s.batch_size:
            borrowed.add(s.batch_size)
    note = (
        f"; batch sizes {sorted(borrowed)} not measured: each took its nearest measured one's time" if borrowed else ""
    )
    return f"Figure 1+2 grid ({len(grid)} MNIST studies of config.yaml): about {total / 3600:.1f} h of training{note}"


def main(out: str, *presets: str) -> None:
    config = load_config(presets)
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
    critical = critical_batch_table(table, **config["analysis"])
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
    print(grid_estimate(per_study, load_config([])))


if __name__ == "__main__":
    if sys.argv[1] == "--order":
        first = [int(b) for b in sys.argv[2].split(",") if b]
        config = load_config(sys.argv[3:])
        for study in shot_order(config, first):
            print(f"results/{config['experiment']}/studies/{study.path}.json")
    else:
        main(*sys.argv[1:])
