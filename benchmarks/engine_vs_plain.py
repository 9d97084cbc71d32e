"""Engine vs the plain loop, in one process on the same data: speed ratios and identical results.

The baseline (sparsedp.baseline.train_plain) is the reference code's structure: one trial at a
time, nn.Module + torch.optim.SGD, the whole validation set checked every eval_every steps.

    python benchmarks/engine_vs_plain.py                  # CPU, 16-trial Momentum study
    python benchmarks/engine_vs_plain.py --device cuda --trials 100
    python benchmarks/engine_vs_plain.py --device cuda --trials 100 --group-sizes 10,25,50,100 --skip-study

Prints (1) training throughput in trial-steps/s at several batch sizes (on CUDA also with the
CUDA graph off), (2) with --group-sizes, the engine's throughput per batch size when that many
trials train at once (to choose training.group_examples from), (3) the wall time of one whole
study trained to the goal by each, (4) whether the study results agree: the engine in race
mode must give the baseline's best trial and steps-to-result, and in census mode every
trial's status and steps-to-result.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sparsedp.baseline import train_plain  # noqa: E402
from sparsedp.config import load  # noqa: E402
from sparsedp.data import load_tensors  # noqa: E402
from sparsedp.engine import StudySettings, TrialSpec, train_study  # noqa: E402
from sparsedp.identity import data_identity  # noqa: E402
from sparsedp.jobs import prepare_data  # noqa: E402
from sparsedp.models import init_parameters  # noqa: E402
from sparsedp.reduce import best_trial  # noqa: E402
from sparsedp.search import metaparameters  # noqa: E402


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def benchmark_data(config: dict, dataset: str = "mnist") -> Path:
    """The benchmarks' copy of a dataset's split, results/benchmark/data/<dataset>.npz, made the
    first time by the data rule's own code."""
    npz = REPO / "results/benchmark/data" / f"{dataset}.npz"
    if not npz.exists():
        prepare_data(data_identity(dataset), {"data": config["data"], "output": str(npz)})
    return npz


def make_specs(n, config, optimizer):
    workload = {"optimizer": optimizer, "schedule": "constant"}
    search = dict(config["search"], n_trials=n)
    specs = []
    for k, mp in enumerate(metaparameters(workload, search)):
        params = init_parameters("simple_cnn", k)
        masks = {name: torch.ones_like(p, dtype=torch.bool) for name, p in params.items()}
        specs.append(TrialSpec(k, mp, params, masks))
    return specs


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return result, time.perf_counter() - start


def throughput(train, trials, args, batch, **extra):
    """Training alone, in trial-steps/s, of ``train(settings)`` over ``trials`` trials: runs of n
    and 2n steps each end with one validation check (and, on CUDA, start with one graph capture),
    so (t(2n) - t(n)) / n is the time of n training steps."""
    steps = max(2, args.examples // batch)

    def seconds(budget):
        settings = StudySettings(
            "simple_cnn",
            args.optimizer,
            "constant",
            batch,
            goal_errors=(1e-9,),
            budget_steps=budget,
            eval_every=budget,
            mode="census",
            **extra,
        )
        return timed(lambda: train(settings), args.device)[1]

    seconds(1)  # warm-up
    return trials * steps / (seconds(2 * steps) - seconds(steps))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--config", default=str(REPO / "config/quick.yaml"), help="preset (over config.yaml): search space, data"
    )
    parser.add_argument("--optimizer", default="momentum")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--throughput-batches", default="16,128,1024")
    parser.add_argument("--examples", type=int, default=4096, help="training examples per trial per throughput run")
    parser.add_argument(
        "--group-sizes", help="e.g. 10,25,50,100: the engine's throughput with that many trials at once"
    )
    parser.add_argument("--study-batch", type=int, default=64)
    parser.add_argument("--goal", type=float, default=0.05)
    parser.add_argument("--budget", type=int, default=480)
    parser.add_argument("--eval-every", type=int, default=16)
    parser.add_argument("--eval-chunk", type=int, help="validation examples per forward (default: the config's)")
    parser.add_argument("--skip-census", action="store_true", help="do not check every trial in census mode")
    parser.add_argument("--skip-study", action="store_true", help="throughput only")
    parser.add_argument(
        "--plain-trials", type=int, help="the plain loop trains only the first N trials (its time is scaled up)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cuda = torch.device(args.device).type == "cuda"
    config = load([REPO / "config.yaml", args.config], REPO / "workflow/schemas/config.schema.yaml")
    eval_chunk = args.eval_chunk or config["training"]["eval_chunk"]
    data = load_tensors(benchmark_data(config), args.device)
    specs = make_specs(args.trials, config, args.optimizer)
    name = torch.cuda.get_device_name() if cuda else f"CPU, {args.threads} threads"
    print(f"device: {name}; torch {torch.__version__}; {args.trials} trials, {args.optimizer}, dense Simple-CNN, MNIST")
    if cuda:
        print("float32 without TF32 (engine.full_float32), cuDNN heuristics (benchmark mode off)")

    def plain_trial(settings):
        return train_plain(specs[0], data, settings, args.device)

    def engine(group):
        return lambda settings: train_study(group, data, settings, args.device)

    print("\n(1) training throughput, trial-steps/s (no evaluation)")
    print(f"{'batch':>6} {'plain':>10} {'engine':>10} {'ratio':>7}" + (f" {'no graph':>10}" if cuda else ""))
    for batch in map(int, args.throughput_batches.split(",")):
        plain_rate = throughput(plain_trial, 1, args, batch)
        engine_rate = throughput(engine(specs), len(specs), args, batch)
        line = f"{batch:>6} {plain_rate:>10.1f} {engine_rate:>10.1f} {engine_rate / plain_rate:>6.2f}x"
        if cuda:
            line += f" {throughput(engine(specs), len(specs), args, batch, cuda_graph=False):>10.1f}"
        print(line, flush=True)

    if args.group_sizes:
        sizes = [int(g) for g in args.group_sizes.split(",")]
        print("\n(2) engine throughput, trial-steps/s, by trials trained at once (columns)")
        print(f"{'batch':>6}" + "".join(f" {g:>9}" for g in sizes))
        for batch in map(int, args.throughput_batches.split(",")):
            rates = [throughput(engine(specs[:g]), min(g, len(specs)), args, batch) for g in sizes]
            print(f"{batch:>6}" + "".join(f" {r:>9.1f}" for r in rates), flush=True)
    if args.skip_study:
        return

    settings = StudySettings(
        "simple_cnn",
        args.optimizer,
        "constant",
        args.study_batch,
        (args.goal,),
        args.budget,
        args.eval_every,
        mode="race",
        eval_chunk=eval_chunk,
    )
    print(
        f"\n(3) one whole study: batch {args.study_batch}, goal error {args.goal}, budget {args.budget} steps, "
        f"validation every {args.eval_every} steps in chunks of {eval_chunk}"
    )
    n_plain = min(args.plain_trials or len(specs), len(specs))
    plain, plain_s = timed(
        lambda: [train_plain(s, data, settings, args.device)[0] for s in specs[:n_plain]], args.device
    )
    plain_s *= len(specs) / n_plain
    race, race_s = timed(lambda: train_study(specs, data, settings, args.device), args.device)
    scaled = f" (the first {n_plain} trials' time x {len(specs) / n_plain:g})" if n_plain < len(specs) else ""
    print(f"plain loop (one trial at a time, full validation): {plain_s:8.1f} s{scaled}")
    print(f"engine, race + early exit:                         {race_s:8.1f} s   {plain_s / race_s:5.2f}x")
    counted = sum(sum(o.curve["val_examples"]) for o in race)
    checked = sum(len(o.curve["val_examples"]) for o in race) * len(data["val_x"])
    print(
        f"  early exit counted {counted} of the {checked} validation examples a full check would ({counted / checked:.0%})"
    )

    def best(outcomes):
        rows = [{"trial": o.trial, "status": o.status[0], "steps_to_result": o.steps_to_result[0]} for o in outcomes]
        chosen = best_trial(rows)  # the pipeline's own rule
        return (chosen["steps_to_result"], chosen["trial"]) if chosen else None

    print("\n(4) results")
    if n_plain == len(specs):
        print(f"best (steps-to-result, trial): plain {best(plain)}, engine race {best(race)}: ", end="")
        print("IDENTICAL" if best(plain) == best(race) else "DIFFERENT")
    if not args.skip_census:
        census, census_s = timed(
            lambda: train_study(specs[:n_plain], data, dataclasses.replace(settings, mode="census"), args.device),
            args.device,
        )
        census_s *= len(specs) / n_plain
        same = [(p.status, p.steps_to_result) == (c.status, c.steps_to_result) for p, c in zip(plain, census)]
        print(
            f"engine census ({census_s:.1f} s, {plain_s / census_s:.2f}x): every trial's status and steps-to-result ",
            end="",
        )
        print("IDENTICAL" if all(same) else f"DIFFERENT for trials {[p.trial for p, s in zip(plain, same) if not s]}")
        for p, c in zip(plain, census):
            print(
                f"  trial {p.trial:3d}: plain {p.status[0]:>10} {p.steps_to_result[0]!s:>5}   "
                f"engine {c.status[0]:>10} {c.steps_to_result[0]!s:>5}"
            )


if __name__ == "__main__":
    main()
