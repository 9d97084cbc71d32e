"""Validation counts: what the engine's two shortcuts save, against the plain way, in one process.

    python benchmarks/evaluation.py                 # CPU, one thread, 10 dense Momentum trials, batch 16

(1) Each trial counting first the examples it missed at its previous check (engine.count_errors
with ``wrong``) against the stored order alone (hardest first), both with early exit at goal
error 0.05: examples counted and seconds per check, at three points of training; the decisions
must agree with a full count. (2) Simple-CNN's 2x2 max pooling without gradients as the maximum
of strided views (models.max_pool2) against F.max_pool2d: seconds per validation forward, and
the logits must be identical.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from engine_vs_plain import benchmark_data, make_specs  # noqa: E402

from sparsedp import models  # noqa: E402
from sparsedp.config import load  # noqa: E402
from sparsedp.data import load_arrays, tensors  # noqa: E402
from sparsedp.engine import StudySettings, count_errors, max_errors, train_study  # noqa: E402


def trained(network, specs, data, settings, steps):
    """Each trial's parameters after ``steps`` steps, as one [T, ...] dict (Simple-CNN has no buffers)."""
    final = {}
    settings = dataclasses.replace(settings, budget_steps=steps, eval_every=steps)
    train_study(specs, data, settings, network, final_params=final)
    return {k: torch.cat([final[s.trial][k] for s in specs]) for k in final[specs[0].trial]}


def timed(fn, repeats):
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        result = fn()
    return result, (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--goal", type=float, default=0.05)
    parser.add_argument("--steps", default="64,128,192", help="checks after these many steps")
    parser.add_argument("--eval-chunk", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load([REPO / "config.yaml", REPO / "config/quick.yaml"], REPO / "workflow/schemas/config.schema.yaml")
    arrays = load_arrays(benchmark_data(config))
    data = tensors(arrays, "cpu")
    val = data["val_x"], data["val_y"]
    n_val = len(val[0])
    network, specs = make_specs(args.trials, config, "momentum", arrays)
    settings = StudySettings("momentum", "constant", args.batch, (args.goal,), 0, 0, mode="census")
    bound = max_errors(args.goal, n_val)
    print(
        f"CPU, {args.threads} thread(s); torch {torch.__version__}; {args.trials} dense Momentum trials, batch {args.batch}"
    )
    print(f"validation {n_val} examples in chunks of {args.eval_chunk}; goal {args.goal} (at most {bound} errors)")

    print("\n(1) per check: examples counted (all trials) and seconds; the previous check 16 steps before")
    print(f"{'step':>5} {'errors':>13} {'stored order':>20} {'missed first':>20} {'ratio':>6}")
    for step in map(int, args.steps.split(",")):
        before = trained(network, specs, data, settings, step - 16)
        params = trained(network, specs, data, settings, step)
        # Counted trial by trial (loop), as the engine counts on a CPU.
        wrong = torch.zeros(args.trials, n_val, dtype=torch.bool)
        count_errors(network, before, {}, *val, 0, args.eval_chunk, early_exit=False, loop=True, wrong=wrong)
        full, _ = count_errors(network, params, {}, *val, 0, args.eval_chunk, early_exit=False, loop=True)

        def check(params=params, wrong=wrong):  # a copy of wrong each time: a count updates it
            wrong = None if wrong is None else wrong.clone()
            return count_errors(network, params, {}, *val, bound, args.eval_chunk, True, loop=True, wrong=wrong)

        (plain, seen_plain), t_plain = timed(lambda: check(wrong=None), args.repeats)
        (first, seen_first), t_first = timed(check, args.repeats)
        assert ((plain <= bound) == (full <= bound)).all() and ((first <= bound) == (full <= bound)).all()
        span = f"{int(full.min())}-{int(full.max())}"
        print(
            f"{step:>5} {span:>13} {int(seen_plain.sum()):>8} {t_plain:>10.3f} s {int(seen_first.sum()):>8}"
            f" {t_first:>10.3f} s {t_plain / t_first:>5.2f}x"
        )

    print("\n(2) one validation forward of every trial on one chunk, seconds")
    x = val[0][: args.eval_chunk]

    def forward():
        return network.logits(params, {}, x, shared=True, loop=True, train=False)

    with torch.no_grad():
        strided, t_strided = timed(forward, 5 * args.repeats)
        # SimpleCNN.forward looks max_pool2 up in the module's globals at each call
        plain_pool = models.max_pool2
        models.max_pool2 = lambda h: F.max_pool2d(h, 2)
        try:
            pooled, t_pooled = timed(forward, 5 * args.repeats)
        finally:
            models.max_pool2 = plain_pool
    assert torch.equal(strided, pooled)
    print(
        f"F.max_pool2d {t_pooled:.4f} s, strided maximum {t_strided:.4f} s: {t_pooled / t_strided:.2f}x (same logits)"
    )


if __name__ == "__main__":
    main()
