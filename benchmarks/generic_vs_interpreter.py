"""The generic engine (any nn.Module through torch.func: models.Network) against the layer
interpreter it replaced (models.forward at --baseline-ref) and the plain loop, on a CPU:
Simple-CNN's time per training step and per study, and whether the two engines' studies agree.

    python benchmarks/generic_vs_interpreter.py          # batch 16 and 128, dense and SNIP 90%: about 20 min
    python benchmarks/generic_vs_interpreter.py --batches 16 --sparsities 0 --repeats 5

Both engines are package sparsedp, so the interpreter runs in a subprocess from `git archive
REF src`, and is sent the generic side's data, initialisations, masks and metaparameters:
trials 0..n-1 of the quick preset's mnist_momentum study at each sparsity, initialised and
pruned as the workflow's mask jobs do them (seed k; SNIP for a sparse study), renamed to the
interpreter's parameter names. Each side has one thread, and they take turns (the first of each
turn alternating) --repeats times, so that load from elsewhere on the machine falls on both; the
table shows medians. A step: one engine.train_step of all n trials (no evaluation), or n times
one step of the plain loop (baseline.train_plain, trial 0: runs of s and 2s steps, each with one
validation at its end). A study: a race to goal error --goal within --budget steps, with the
preset's validation settings; the plain loop's (measured once): every trial alone until the
goal or the budget, the whole validation set every eval_every steps. The engines initialise
alike, so their studies must agree trial by trial (status and steps to result): the last column.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
WORKER = "--worker"  # argv[1] of the interpreter's process: it serves measurements of its engine


def measure(engine, network: tuple, specs, data, settings, what: str, steps: int):
    """One measurement of either engine (``network``: the generic engine's extra argument, after
    the settings; none for the interpreter): seconds per training step of ``specs`` together
    ("step": ``steps`` steps after one to warm up, on batches drawn alike on both sides), or
    seconds of the study and each trial's (status, steps to result) ("study")."""
    if what == "study":
        start = time.perf_counter()
        outcomes = engine.train_study(specs, data, settings, *network)
        return time.perf_counter() - start, [(o.status, o.steps_to_result) for o in outcomes]
    state = engine.new_group(specs, settings, "cpu", len(data["train_x"]), len(data["val_x"]))
    gen = torch.Generator().manual_seed(0)
    shape = (len(specs), settings.batch_size)
    batches = [torch.randint(len(data["train_x"]), shape, generator=gen) for _ in range(steps + 1)]
    step = torch.zeros((), dtype=torch.long)
    for i, batch in enumerate(batches):
        if i == 1:  # after the warm-up step
            start = time.perf_counter()
        engine.train_step(state, settings, *network, data, batch, step.fill_(i), True)  # loop: the CPU's way
    return (time.perf_counter() - start) / steps


def serve(payload: str) -> None:
    """The interpreter's side: the trials of ``payload`` under its parameter names, then one
    measurement per line of stdin (JSON), each answered with a line of JSON."""
    from sparsedp import engine, models  # the baseline checkout's (PYTHONPATH)

    torch.set_num_threads(1)
    saved = torch.load(payload)
    shapes = models.parameter_shapes("simple_cnn")  # its names; SimpleCNN lists the same tensors in this order

    def renamed(tensors: dict) -> dict:
        assert [tuple(v.shape[1:]) for v in tensors.values()] == list(shapes.values()), "not its Simple-CNN"
        return dict(zip(shapes, tensors.values()))

    studies = {
        sparsity: [engine.TrialSpec(t["trial"], t["metaparameters"], renamed(t["params"]), renamed(t["masks"]))
                   for t in trials]
        for sparsity, trials in saved["studies"].items()
    }  # fmt: skip
    for line in sys.stdin:
        run = json.loads(line)
        kw = run["settings"]
        settings = engine.StudySettings("simple_cnn", **{**kw, "goal_errors": tuple(kw["goal_errors"])})
        result = measure(engine, (), studies[run["sparsity"]], saved["data"], settings, run["what"], run["steps"])
        print(json.dumps(result), flush=True)


def interleaved(runs: dict, repeats: int) -> dict:
    """Each function of ``runs`` called ``repeats`` times, taking turns, the first of each turn
    alternating: name -> its results."""
    results = {name: [] for name in runs}
    for rep in range(repeats):
        for name in list(runs)[:: 1 if rep % 2 == 0 else -1]:
            results[name].append(runs[name]())
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-ref", default="29903ba", help="the commit whose engine is today's")
    parser.add_argument("--batches", default="16,128")
    parser.add_argument("--sparsities", default="0,0.9", help="0: dense; others: SNIP masks")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--steps", type=int, default=8, help="training steps per step measurement")
    parser.add_argument("--goal", type=float, default=0.1)
    parser.add_argument("--budget", type=int, default=160, help="the quick preset's races end by step 112")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]  # this tree's package: the generic side
    from engine_vs_plain import benchmark_data

    from sparsedp import engine
    from sparsedp.baseline import train_plain
    from sparsedp.config import Study, load, model_entry
    from sparsedp.data import load_arrays, tensors
    from sparsedp.identity import study_identity, trial_identities
    from sparsedp.jobs import load_network, study_settings
    from sparsedp.models import init_network
    from sparsedp.pruning import prune, scoring_examples

    config = load([REPO / "config.yaml", REPO / "config/quick.yaml"], REPO / "workflow/schemas/config.schema.yaml")
    arrays = load_arrays(benchmark_data(config))
    data = tensors(arrays, "cpu")
    model = model_entry(config, "simple_cnn")
    network = load_network(model, arrays, "cpu")
    shape, classes = arrays["train_x"].shape[1:], int(arrays["classes"])

    def trials(sparsity: float) -> list:
        """The study's trials (any batch size) as the workflow makes them: its metaparameters,
        trial k initialised and pruned with seed k as by the mask jobs."""
        identity = study_identity(config, Study("mnist_momentum", sparsity, 16))
        pruning, specs = identity["pruning"], []
        for trial in trial_identities(identity, range(args.trials)):
            k = trial["trial"]
            _, params, buffers = init_network(model, shape, classes, k)
            images, labels = scoring_examples(pruning, k, data["train_x"], data["train_y"])
            masks = prune(pruning["method"], network, params, sparsity, pruning.get("scope"), buffers=buffers,
                          input_shape=shape, images=images, labels=labels, batch_size=pruning.get("batch_size"),
                          seed=k)  # fmt: skip
            specs.append(engine.TrialSpec(k, trial["metaparameters"], params, masks, buffers))
        return specs

    def study_settings_at(sparsity: float, batch: int):
        """The training job's settings of the study, its goal and budget those of the command line."""
        settings = study_settings(study_identity(config, Study("mnist_momentum", sparsity, batch)), config["training"])
        return dataclasses.replace(settings, goal_errors=(args.goal,), budget_steps=args.budget)

    def plain_step(spec, settings) -> float:
        """Seconds per step of the plain loop: (t(2s) - t(s)) / s, each run ending with one
        validation, on 100 examples (the whole set's time would vary more than s steps take)."""
        few = {**data, "val_x": data["val_x"][:100], "val_y": data["val_y"][:100]}

        def seconds(budget):
            start = time.perf_counter()
            train_plain(spec, few, dataclasses.replace(settings, budget_steps=budget, eval_every=budget), network)
            return time.perf_counter() - start

        return (seconds(2 * args.steps) - seconds(args.steps)) / args.steps

    studies = {float(s): trials(float(s)) for s in args.sparsities.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.baseline_ref, "src"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        payload = Path(tmp) / "payload.pt"
        sent = {s: [{k: getattr(t, k) for k in ("trial", "metaparameters", "params", "masks")} for t in specs]
                for s, specs in studies.items()}  # fmt: skip
        torch.save({"data": data, "studies": sent}, payload)
        interpreter = subprocess.Popen(
            [sys.executable, __file__, WORKER, str(payload)],
            env={**os.environ, "PYTHONPATH": str(Path(tmp) / "src")},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

        def interpreted(sparsity, settings, what, steps=0):
            run = {"sparsity": sparsity, "settings": dataclasses.asdict(settings), "what": what, "steps": steps}
            interpreter.stdin.write(json.dumps(run) + "\n")
            interpreter.stdin.flush()
            return json.loads(interpreter.stdout.readline())

        def row(sparsity: float, specs: list, batch: int) -> tuple[str, float]:
            """The table's row of a study at ``batch``, and its ratio generic / interpreter per study."""
            settings = study_settings_at(sparsity, batch)
            generic = functools.partial(measure, engine, (network,), specs, data, settings)
            step = interleaved(
                {
                    "generic": lambda: generic("step", args.steps),
                    "interpreter": lambda: interpreted(sparsity, settings, "step", args.steps),
                    "plain": lambda: len(specs) * plain_step(specs[0], settings),
                },
                args.repeats,
            )
            study = interleaved(
                {
                    "generic": lambda: generic("study", 0),
                    "interpreter": lambda: interpreted(sparsity, settings, "study"),
                },
                args.repeats,
            )
            start = time.perf_counter()
            for spec in specs:
                train_plain(spec, data, settings, network)
            plain_study = time.perf_counter() - start
            ms = {side: 1e3 * statistics.median(v) for side, v in step.items()}
            s = {side: statistics.median(seconds for seconds, _ in v) for side, v in study.items()}
            # every run's (status, steps to result) per trial, as JSON: the same on both sides, every time
            outcomes = {json.dumps(out) for runs in study.values() for _, out in runs}
            reached = [steps[0] for _, steps in json.loads(next(iter(outcomes))) if steps[0] is not None]
            verdict = "IDENTICAL" if len(outcomes) == 1 else "DIFFERENT"
            verdict += f" (best {min(reached)} steps)" if reached else " (goal not reached)"
            line = (
                f"{sparsity:>8g} {batch:>5} | {ms['generic']:>16.1f} {ms['interpreter']:>8.1f} {ms['plain']:>8.1f} "
                f"{ms['generic'] / ms['interpreter']:>7.3f} {ms['plain'] / ms['generic']:>9.2f} | "
                f"{s['generic']:>16.2f} {s['interpreter']:>8.2f} {plain_study:>8.2f} "
                f"{s['generic'] / s['interpreter']:>7.3f} {plain_study / s['generic']:>9.2f} | {verdict}"
            )
            return line, s["generic"] / s["interpreter"]

        print(
            f"CPU, 1 thread per side; torch {torch.__version__}; Simple-CNN on MNIST, trials 0-{args.trials - 1} of the "
            f"quick preset's mnist_momentum studies; generic engine (this tree) vs interpreter ({args.baseline_ref}) vs "
            f"plain loop; medians of {args.repeats} interleaved runs"
        )
        print(f"step: one training step of all trials ({args.steps} timed); study: race to goal error {args.goal}, "
              f"budget {args.budget} steps, validation every {config['training']['eval_every']} steps in chunks of "
              f"{config['training']['eval_chunk']}; the plain loop's study: once, every trial, whole validation set")  # fmt: skip
        header = (
            f"{'sparsity':>8} {'batch':>5} | {'step ms: generic':>16} {'interp.':>8} {'plain':>8} {'gen/int':>7} "
            f"{'plain/gen':>9} | {'study s: generic':>16} {'interp.':>8} {'plain':>8} {'gen/int':>7} {'plain/gen':>9} | "
            "outcomes"
        )
        print(header + "\n" + "-" * len(header), flush=True)
        ratios = []
        for sparsity, specs in studies.items():
            for batch in map(int, args.batches.split(",")):
                line, ratio = row(sparsity, specs, batch)
                print(line, flush=True)
                ratios.append(ratio)
        interpreter.stdin.close()
        interpreter.wait()
    worst = max(ratios)
    print(f"slowest generic/interpreter per study: {worst:.3f} ({'within' if worst <= 1.1 else 'NOT within'} 1.10)")


if __name__ == "__main__":
    if sys.argv[1:2] == [WORKER]:
        serve(sys.argv[2])
    else:
        main()
