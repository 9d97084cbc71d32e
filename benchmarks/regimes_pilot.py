"""Pilot a preset's dense steps-to-result curve outside the workflow, with its settings overridden:
how many trials, how often to evaluate, which goals and batch sizes it would take to show the
paper's three regimes, before a preset is fixed (and before its 15 minutes are spent).

    python benchmarks/regimes_pilot.py --config config/quick.yaml                 # the preset as it is
    python benchmarks/regimes_pilot.py --config config/quick.yaml --trials 20 --eval-every 8

Each study is the workflow's dense study of that workload and batch size: the same identity
(metaparameters of trials 0..n-1, initialisation seed k, data order, race mode), so with no
override its steps-to-result equal the workflow's. Studies run one per process, ``--jobs`` at
a time, one thread each (as the workflow's jobs do). Prints per goal the best steps at each batch
size, each doubling's saving of steps, and the three-regimes verdict (analysis.three_regimes);
then the seconds per study.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from engine_vs_plain import benchmark_data  # noqa: E402

from sparsedp.analysis import doubling_savings, three_regimes  # noqa: E402
from sparsedp.config import Study, load  # noqa: E402
from sparsedp.identity import study_identity, trial_identities  # noqa: E402
from sparsedp.jobs import study_settings  # noqa: E402


def study(config: dict, workload: str, batch: int, npz: Path) -> tuple[int, list, float]:
    """(batch size, the study's best steps per goal, seconds) of one dense study, on the data
    file ``npz``."""
    import torch

    from sparsedp.config import model_entry
    from sparsedp.data import load_arrays, tensors
    from sparsedp.engine import TrialSpec, train_study
    from sparsedp.jobs import load_network
    from sparsedp.models import init_network

    torch.set_num_threads(1)
    identity = study_identity(config, Study(workload, 0.0, batch))
    trials = trial_identities(identity, range(config["search"]["n_trials"]))
    model, arrays = model_entry(config, identity["model"]), load_arrays(npz)
    specs = []
    for trial in trials:  # trial k is initialised with seed k
        _, params, buffers = init_network(model, arrays["train_x"].shape[1:], int(arrays["classes"]), trial["trial"])
        masks = {name: torch.ones_like(p, dtype=torch.bool) for name, p in params.items()}
        specs.append(TrialSpec(trial["trial"], trial["metaparameters"], params, masks, buffers))
    settings = study_settings(identity, config["training"])  # as the workflow's training job
    data = tensors(arrays, "cpu")
    start = time.perf_counter()
    outcomes = train_study(specs, data, settings, load_network(model, arrays, "cpu"), "cpu")
    seconds = time.perf_counter() - start
    best = [
        min((o.steps_to_result[j] for o in outcomes if o.steps_to_result[j] is not None), default=None)
        for j in range(len(settings.goal_errors))
    ]
    return batch, best, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=REPO / "config/quick.yaml", help="the preset, merged over config.yaml")
    parser.add_argument("--workload", default="mnist_momentum")
    parser.add_argument("--trials", type=int, help="trials per study (default: the preset's)")
    parser.add_argument("--eval-every", type=int, help="steps between validation checks (default: the preset's)")
    parser.add_argument("--goals", help="goal errors, comma-separated (default: the workload's)")
    parser.add_argument("--batches", help="batch sizes, comma-separated (default: the workload's)")
    parser.add_argument("--jobs", type=int, default=2, help="studies trained at once")
    args = parser.parse_args()
    config = load([REPO / "config.yaml", args.config], REPO / "workflow/schemas/config.schema.yaml")
    spec = config["workloads"][args.workload]
    if args.trials:
        config["search"]["n_trials"] = args.trials
    if args.eval_every:
        config["training"]["eval_every"] = args.eval_every
    if args.goals:
        spec["goal_errors"] = sorted((float(g) for g in args.goals.split(",")), reverse=True)
    batches = [int(b) for b in args.batches.split(",")] if args.batches else spec["batch_sizes"]
    npz = benchmark_data(config, spec["dataset"])
    print(
        f"{args.workload} dense, {config['search']['n_trials']} trials per study, validation every "
        f"{config['training']['eval_every']} steps, batch sizes {batches}"
    )
    # The largest batch sizes first: they take longest, so two processes finish together.
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = [(config, args.workload, batch, npz) for batch in batches[::-1]]
        results = sorted(pool.map(study, *zip(*runs)))
    for j, goal in enumerate(spec["goal_errors"]):
        curve = {b: best[j] for b, best, _ in results if best[j] is not None}
        saved = dict(doubling_savings(list(curve), list(curve.values())))
        cells = [f"{b}: {curve[b]}" + (f" ({saved[b // 2]:.0%})" if b // 2 in saved else "") for b in curve]
        verdict = three_regimes(list(curve), list(curve.values()))
        print(f"goal {goal:g}: " + ", ".join(cells) + f"; three regimes: {verdict}")
    print("seconds per study: " + ", ".join(f"{b}: {s:.0f}" for b, _, s in results))


if __name__ == "__main__":
    main()
