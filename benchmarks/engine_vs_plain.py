"""Engine vs the plain loop, in one process on the same data: speed ratios and identical results.

The baseline (sparsedp.baseline.train_plain) is the reference code's structure: one trial at a
time, nn.Module + torch.optim.SGD, the whole validation set checked every eval_every steps.

    python benchmarks/engine_vs_plain.py                  # CPU, 16-trial Momentum study
    python benchmarks/engine_vs_plain.py --device cuda --trials 100
    python benchmarks/engine_vs_plain.py --device cuda --trials 100 --group-sizes 10,25,50,100 --skip-study

Prints (1) training throughput in trial-steps/s at several batch sizes, the trials in one group
and as the pipeline groups them (training.group_examples, groups in lockstep; on CUDA also with
the CUDA graph off, with per-trial convolutions (loop_trials) instead of grouped ones, and with
TF32 allowed for both the plain loop and the engine), (2) with --group-sizes, the engine's
throughput per batch size when that many trials train at once (to choose
training.group_examples from), (3) with --profile-batch B, where the time of the engine's
training step goes at batch B (operations by device time; without the CUDA graph, whose replay
hides them), (4) the wall time of one whole study trained to the goal by each, (5) whether the
study results agree: the engine in race mode must give the baseline's best trial and
steps-to-result, and in census mode every trial's status and steps-to-result, (6) each trial
whose result differs (and those of --explain-trials) trained alone every way: plain and
engine, grouped and per-trial, float32 and float64, to tell float32 rounding (float64 runs
agree, float32 ones scatter) from a fault of one path.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sparsedp import baseline, engine  # noqa: E402
from sparsedp.baseline import train_plain  # noqa: E402
from sparsedp.config import dataset_entry, load, model_entry  # noqa: E402
from sparsedp.data import load_arrays, tensors  # noqa: E402
from sparsedp.engine import StudySettings, TrialSpec, train_study  # noqa: E402
from sparsedp.identity import data_identity  # noqa: E402
from sparsedp.jobs import load_network, prepare_data, trials_per_group  # noqa: E402
from sparsedp.models import init_network  # noqa: E402
from sparsedp.reduce import best_trial  # noqa: E402
from sparsedp.results import BadInput  # noqa: E402
from sparsedp.search import metaparameters  # noqa: E402


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def benchmark_data(config: dict, dataset: str = "mnist") -> Path:
    """The benchmarks' copy of a dataset's split, results/benchmark/data/<dataset>.npz, made by
    the data rule's own code the first time and whenever the split's identity (its code) changes."""
    npz = REPO / "results/benchmark/data" / f"{dataset}.npz"
    identity = data_identity(config, dataset)
    try:
        load_arrays(npz, identity)
    except BadInput:  # missing, or made by other code
        prepare_data(identity, {"data": config["data"], "dataset": dataset_entry(config, dataset), "output": str(npz)})
    return npz


def make_specs(n, config, optimizer, arrays, device="cpu"):
    """Trials 0..n-1 of a dense Simple-CNN study of ``optimizer`` on a split's ``arrays``, each
    initialised as the workflow's masks are (seed k), and the models.Network they share."""
    workload = {"optimizer": optimizer, "schedule": "constant"}
    search = dict(config["search"], n_trials=n)
    model = model_entry(config, "simple_cnn")
    specs = []
    for k, mp in enumerate(metaparameters(workload, search)):
        _, params, buffers = init_network(model, arrays["train_x"].shape[1:], int(arrays["classes"]), k)
        masks = {name: torch.ones_like(p, dtype=torch.bool) for name, p in params.items()}
        specs.append(TrialSpec(k, mp, params, masks, buffers))
    return load_network(model, arrays, device), specs


@contextlib.contextmanager
def tf32_allowed():
    """TF32 for cuDNN convolutions and matrix products in the engine and the plain loop, which
    both set full float32 on CUDA (engine.float32_precision): what TF32 would gain, measured
    before the pipeline offers it (its 10-bit mantissa would also change results)."""
    full = engine.float32_precision
    engine.float32_precision = baseline.float32_precision = functools.partial(full, tf32=True)
    try:
        yield
    finally:
        engine.float32_precision = baseline.float32_precision = full
        full()


def as_float64(spec, data):
    spec = dataclasses.replace(spec, params={k: v.double() for k, v in spec.params.items()})
    return spec, {k: v.double() if v.is_floating_point() else v for k, v in data.items()}


def explain(spec, data, settings, network, device):
    """Trial ``spec`` trained alone every way: (label, outcome) per way."""
    ways = []
    for dtype in ("float32", "float64"):
        s, d = as_float64(spec, data) if dtype == "float64" else (spec, data)
        ways.append((f"plain {dtype}", train_plain(s, d, settings, network, device)[0]))
        for loop in (False, True):
            run = dataclasses.replace(settings, mode="census", loop_trials=loop)
            name = "per-trial convolutions" if loop else "grouped convolution"
            ways.append((f"engine {name} {dtype}", train_study([s], d, run, network, device)[0]))
    return ways


def profile_step(network, specs, data, batch, args) -> str:
    """The engine's training of ``specs`` at ``batch`` (16 steps, CUDA graph off; one validation
    check at the end, against an unreachable goal, so stopped after a few examples) under the torch
    profiler: its 15 costliest kernels and operations by their own device time (CPU time on a CPU)."""
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.device(args.device).type == "cuda"
    settings = StudySettings(
        args.optimizer, "constant", batch, (1e-9,), 16, 16, mode="census", eval_chunk=100, cuda_graph=False
    )
    train_study(specs, data, dataclasses.replace(settings, budget_steps=1), network, args.device)  # warm-up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        train_study(specs, data, settings, network, args.device)
        sync(args.device)
    key = "self_device_time_total" if cuda else "self_cpu_time_total"  # kernels, not the ops calling them
    return prof.key_averages().table(sort_by=key, row_limit=15, max_name_column_width=60)


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
    parser.add_argument("--profile-batch", type=int, help="profile the engine's training step at this batch size")
    parser.add_argument(
        "--explain-trials", default="", help="e.g. 0,3: train these alone every way in (6), besides those that differ"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cuda = torch.device(args.device).type == "cuda"
    config = load([REPO / "config.yaml", args.config], REPO / "workflow/schemas/config.schema.yaml")
    eval_chunk = args.eval_chunk or config["training"]["eval_chunk"]
    arrays = load_arrays(benchmark_data(config))
    data = tensors(arrays, args.device)
    network, specs = make_specs(args.trials, config, args.optimizer, arrays, args.device)
    name = torch.cuda.get_device_name() if cuda else f"CPU, {args.threads} threads"
    print(f"device: {name}; torch {torch.__version__}; {args.trials} trials, {args.optimizer}, dense Simple-CNN, MNIST")
    if cuda:
        print("float32 without TF32 (engine.float32_precision), cuDNN heuristics (benchmark mode off)")

    def plain_trial(settings):
        return train_plain(specs[0], data, settings, network, args.device)

    def engine_of(group):
        return lambda settings: train_study(group, data, settings, network, args.device)

    print("\n(1) training throughput, trial-steps/s (no evaluation)")
    # "engine": all trials in one group; "pipeline": in groups of training.group_examples // batch
    # trials (the config's), in lockstep, as the workflow trains them.
    header = f"{'batch':>6} {'plain':>10} {'engine':>10} {'ratio':>7} {'groups of':>9} {'pipeline':>10} {'ratio':>7}"
    if cuda:  # the engine without the graph, with per-trial convolutions; both with TF32 allowed
        header += f" {'no graph':>10} {'per-trial':>10} {'plain tf32':>10} {'eng. tf32':>10} {'ratio':>7}"
    print(header)
    for batch in map(int, args.throughput_batches.split(",")):
        plain_rate = throughput(plain_trial, 1, args, batch)
        engine_rate = throughput(engine_of(specs), len(specs), args, batch)
        line = f"{batch:>6} {plain_rate:>10.1f} {engine_rate:>10.1f} {engine_rate / plain_rate:>6.2f}x"
        group = min(trials_per_group(config["training"], batch), len(specs))
        pipeline_rate = (
            engine_rate
            if group == len(specs)
            else throughput(engine_of(specs), len(specs), args, batch, max_group=group)
        )
        line += f" {group:>9} {pipeline_rate:>10.1f} {pipeline_rate / plain_rate:>6.2f}x"
        if cuda:
            line += f" {throughput(engine_of(specs), len(specs), args, batch, cuda_graph=False):>10.1f}"
            line += f" {throughput(engine_of(specs), len(specs), args, batch, loop_trials=True):>10.1f}"
            with tf32_allowed():
                plain_tf32 = throughput(plain_trial, 1, args, batch)
                engine_tf32 = throughput(engine_of(specs), len(specs), args, batch)
            line += f" {plain_tf32:>10.1f} {engine_tf32:>10.1f} {engine_tf32 / plain_tf32:>6.2f}x"
        print(line, flush=True)

    if args.group_sizes:
        sizes = [int(g) for g in args.group_sizes.split(",")]
        print("\n(2) engine throughput, trial-steps/s, by trials trained at once (columns)")
        print(f"{'batch':>6}" + "".join(f" {g:>9}" for g in sizes))
        for batch in map(int, args.throughput_batches.split(",")):
            rates = [throughput(engine_of(specs[:g]), min(g, len(specs)), args, batch) for g in sizes]
            print(f"{batch:>6}" + "".join(f" {r:>9.1f}" for r in rates), flush=True)
    if args.profile_batch:
        print(
            f"\n(3) where the engine's training step spends its time: batch {args.profile_batch}, {len(specs)} trials"
        )
        print(profile_step(network, specs, data, args.profile_batch, args), flush=True)
    if args.skip_study:
        return

    settings = StudySettings(
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
        f"\n(4) one whole study: batch {args.study_batch}, goal error {args.goal}, budget {args.budget} steps, "
        f"validation every {args.eval_every} steps in chunks of {eval_chunk}"
    )
    n_plain = min(args.plain_trials or len(specs), len(specs))
    plain, plain_s = timed(
        lambda: [train_plain(s, data, settings, network, args.device)[0] for s in specs[:n_plain]], args.device
    )
    plain_s *= len(specs) / n_plain
    race, race_s = timed(lambda: train_study(specs, data, settings, network, args.device), args.device)
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

    print("\n(5) results")
    if n_plain == len(specs):
        print(f"best (steps-to-result, trial): plain {best(plain)}, engine race {best(race)}: ", end="")
        print("IDENTICAL" if best(plain) == best(race) else "DIFFERENT")
    if not args.skip_census:
        census, census_s = timed(
            lambda: train_study(
                specs[:n_plain], data, dataclasses.replace(settings, mode="census"), network, args.device
            ),
            args.device,
        )
        census_s *= len(specs) / n_plain
        same = [(p.status, p.steps_to_result) == (c.status, c.steps_to_result) for p, c in zip(plain, census)]
        print(
            f"engine census ({census_s:.1f} s, {plain_s / census_s:.2f}x): every trial's status and steps-to-result ",
            end="",
        )
        differ = [p.trial for p, s in zip(plain, same) if not s]
        print("IDENTICAL" if all(same) else f"DIFFERENT for trials {differ}")
        for p, c in zip(plain, census):
            print(
                f"  trial {p.trial:3d}: plain {p.status[0]:>10} {p.steps_to_result[0]!s:>5}   "
                f"engine {c.status[0]:>10} {c.steps_to_result[0]!s:>5}"
            )
        chosen = sorted(set(differ) | {int(t) for t in args.explain_trials.split(",") if t})
        if chosen:
            print("\n(6) trials trained alone every way (status, steps-to-result, steps trained, diverged at)")
        for trial in chosen:
            print(f"  trial {trial}: {specs[trial].metaparameters}")
            for label, o in explain(specs[trial], data, settings, network, args.device):
                print(
                    f"    {label:<40} {o.status[0]:>10} {o.steps_to_result[0]!s:>5} {o.steps_trained:>6} "
                    f"{o.diverged_at_step!s:>6}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
