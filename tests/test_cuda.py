"""The engine on a GPU: the same results as on a CPU, the step without host syncs, the CUDA graph.

Skipped without CUDA. SPARSEDP_TEST_DEVICE=cpu runs the same tests on the CPU (the graph and
sync checks then only run their code), so that this file is exercised where no GPU is.
"""

import dataclasses
import os

import pytest
import torch
from test_engine import NETWORK, SETTINGS, make_specs

from sparsedp import engine
from sparsedp.engine import train_study
from sparsedp.results import COMPLETE, INCOMPLETE, INFEASIBLE, PRUNED

DEVICE = os.environ.get("SPARSEDP_TEST_DEVICE", "cuda")
CUDA = DEVICE == "cuda"
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        CUDA and not torch.cuda.is_available(), reason="no CUDA device (SPARSEDP_TEST_DEVICE=cpu runs these on the CPU)"
    ),
]


@pytest.fixture(autouse=True)
def deterministic_cudnn():
    """cuDNN's deterministic kernels, so that two runs of a trial on the GPU repeat its arithmetic."""
    before = torch.backends.cudnn.deterministic
    torch.backends.cudnn.deterministic = True
    yield
    torch.backends.cudnn.deterministic = before


def _as(data, dtype, device):
    return {k: (v.to(dtype) if v.is_floating_point() else v).to(device) for k, v in data.items()}


@pytest.fixture(scope="module")
def small(mnist):
    """2048 training and 600 validation examples (every tenth, so all difficulties), on the CPU."""
    return {k: v[:2048] if k.startswith("train") else v[::10] for k, v in mnist.items()}


def _in(specs, dtype):
    return [dataclasses.replace(s, params={k: v.to(dtype) for k, v in s.params.items()}) for s in specs]


def assert_trained_alike(got, want, specs, rel):
    """Every trial's parameters moved alike from their initialisation: per tensor,
    max |Δgot - Δwant| <= rel * max |Δwant| (Δ = final - initial) over the finite entries, and
    the others (a diverged trial's) in the same places."""
    for spec in specs:
        for name, init in spec.params.items():
            moved_got = got[spec.trial][name].double() - init.double()
            moved_want = want[spec.trial][name].double() - init.double()
            finite = moved_want.isfinite()
            assert torch.equal(moved_got.isfinite(), finite), (spec.trial, name)
            if finite.any():
                diff, scale = (moved_got - moved_want)[finite].abs().max(), moved_want[finite].abs().max()
                assert diff <= rel * scale, (spec.trial, name, float(diff), float(scale))


def assert_masked_weights_zero(final, specs):
    for spec in specs:
        for name, mask in spec.masks.items():
            assert (final[spec.trial][name][~mask] == 0).all(), (spec.trial, name)


@pytest.mark.parametrize("groups", [1, 100])
def test_full_float32_means_ieee_convolutions_and_products_on_the_device(groups):
    """The precision policy (engine.float32_precision) in effect: float32 convolutions (one, or 100
    grouped as the engine groups trials) and matrix products within float32 rounding of float64
    (1e-6 of the largest output on a CPU), where TF32's 10-bit mantissa is 2.5e-4 off (inputs
    rounded to TF32 on a CPU): the first shot's GPU runs of high-momentum trials went their own
    way where CPU float32 and float64 agreed, and this tells whether TF32 crept in."""
    engine.float32_precision()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, groups * 32, 12, 12, generator=gen, dtype=torch.float64)
    w = torch.randn(groups * 64, 32, 5, 5, generator=gen, dtype=torch.float64)
    a, b = (
        torch.randn(256, 1024, generator=gen, dtype=torch.float64),
        torch.randn(1024, 64, generator=gen, dtype=torch.float64),
    )
    for got, want in [
        (
            torch.nn.functional.conv2d(x.float().to(DEVICE), w.float().to(DEVICE), groups=groups),
            torch.nn.functional.conv2d(x, w, groups=groups),
        ),
        ((a.float().to(DEVICE) @ b.float().to(DEVICE)), a @ b),
    ]:
        error = (got.double().cpu() - want).abs().max() / want.abs().max()
        assert error < 1e-5, float(error)


# Three trials with their own learning rate, momentum and SNIP mask (80% sparse), 200 steps,
# evaluated every 50 against an unreachable goal, counted in full: every trial trains to the end.
REFERENCE = dataclasses.replace(
    SETTINGS, goal_errors=(0.0,), budget_steps=200, eval_every=50, early_exit=False, loop_trials=True
)
CASES = {
    "momentum": ("constant", [(0.01, 0.5), (0.001, 0.95), (0.005, 0.8)], {}),
    "nesterov": ("linear_decay", [(0.02, 0.9), (0.005, 0.95), (0.01, 0.8)], {"decay_steps": 150, "end_factor": 0.01}),
}


@pytest.fixture(scope="module")
def reference(mnist, small):
    """Per case: the specs, and the engine's float64 run on the CPU, trial by trial."""
    runs = {}
    for optimizer, (schedule, mps, extra) in CASES.items():
        specs = make_specs(mnist, mps, sparsity=0.8, **extra)
        settings = dataclasses.replace(REFERENCE, optimizer=optimizer, schedule=schedule)
        final = {}
        outcomes = train_study(
            _in(specs, torch.float64), _as(small, torch.float64, "cpu"), settings, NETWORK, final_params=final
        )
        runs[optimizer] = specs, settings, outcomes, final
    return runs


# In float64 the device differs from the reference only in summation order, far below the
# tolerance; in float32, after 200 steps, trajectories differ by float32 rounding, amplified.
@pytest.mark.parametrize(
    "optimizer,dtype,rel,count",
    [("momentum", torch.float64, 1e-6, 0), ("nesterov", torch.float64, 1e-6, 0), ("nesterov", torch.float32, 0.05, 6)],
)
def test_engine_on_the_device_equals_a_float64_cpu_reference(small, reference, optimizer, dtype, rel, count):
    specs, settings, want, want_final = reference[optimizer]
    final = {}
    got = train_study(
        _in(specs, dtype),
        _as(small, dtype, DEVICE),
        dataclasses.replace(settings, loop_trials=None),
        NETWORK,
        DEVICE,
        final_params=final,
    )
    assert_trained_alike(final, want_final, specs, rel)
    assert_masked_weights_zero(final, specs)
    for g, w in zip(got, want):
        assert g.status == w.status and g.steps_trained == w.steps_trained == 200
        assert max(abs(a - b) for a, b in zip(g.curve["val_errors"], w.curve["val_errors"])) <= count


def _grouped_and_looped(specs, data, settings, dtype, device):
    """Final parameters and outcomes of the trials trained grouped (one convolution for all), then
    one by one."""
    runs = []
    for loop in (False, True):
        final = {}
        run = dataclasses.replace(settings, loop_trials=loop)
        outcomes = train_study(_in(specs, dtype), _as(data, dtype, device), run, NETWORK, device, final_params=final)
        runs.append((final, outcomes))
    return runs


# Two large learning rates (0.05 with momentum 0.9, 0.2 without) for 30 steps: float32 rounding
# grows fast, so grouped and per-trial runs are compared in float64, where they must compute the
# same numbers, and in float32 each against the float64 reference, within float32's tolerance
# (on an H200 they differed by 0.4% of the weights' movement, more than they differ on a CPU).
GROUPED = dataclasses.replace(SETTINGS, goal_errors=(0.01,), budget_steps=30, eval_every=10)


def test_grouped_trials_equal_trials_run_one_by_one(mnist, small):
    specs = make_specs(mnist, [(0.05, 0.9), (0.01, 0.99), (0.2, 0.0)], sparsity=0.7)
    (grouped, a), (looped, b) = _grouped_and_looped(specs, small, GROUPED, torch.float64, DEVICE)
    assert_trained_alike(grouped, looped, specs, 1e-6)
    assert [(o.status, o.curve["val_errors"]) for o in a] == [(o.status, o.curve["val_errors"]) for o in b]
    (grouped32, a32), (looped32, b32) = _grouped_and_looped(specs, small, GROUPED, torch.float32, DEVICE)
    for final in (grouped32, looped32):
        assert_trained_alike(final, grouped, specs, 0.05)
    assert [o.status for o in a32] == [o.status for o in b32] == [o.status for o in a]


@pytest.fixture(scope="module")
def study(mnist, small):
    """Six trials, one diverging, one that barely learns (so a race always has a trial to prune,
    on every device), two goals: a small study that finishes within its budget."""
    mps = [(0.02, 0.9), (3e-3, 0.9), (1e30, 0.9), (0.05, 0.5), (0.1, 0.0), (1e-6, 0.0)]
    specs = make_specs(mnist, mps, sparsity=0.8)
    settings = dataclasses.replace(SETTINGS, goal_errors=(0.2, 0.12), budget_steps=160, eval_every=16)
    return specs, _as(small, torch.float32, DEVICE), settings


def test_race_gives_every_goal_the_study_result_of_the_census(study):
    """Trial by trial (on a GPU a grouped convolution's kernel, so its rounding, can depend on how
    many trials share it, and race and census drop trials at different steps)."""
    specs, data, settings = study
    settings = dataclasses.replace(settings, loop_trials=True)
    census = train_study(specs, data, settings, NETWORK, DEVICE)
    for max_group in (None, 2):
        race = train_study(
            specs, data, dataclasses.replace(settings, mode="race", max_group=max_group), NETWORK, DEVICE
        )
        for j in range(len(settings.goal_errors)):
            best = [min((o.steps_to_result[j], o.trial) for o in r if o.status[j] == COMPLETE) for r in (race, census)]
            assert best[0] == best[1]
        assert PRUNED in {s for o in race for s in o.status}
    assert {s for o in census for s in o.status} >= {COMPLETE, INFEASIBLE, INCOMPLETE}


def test_masked_weights_stay_exactly_zero_even_beside_a_diverging_trial(study):
    specs, data, settings = study
    final = {}
    outcomes = train_study(
        specs,
        data,
        dataclasses.replace(settings, goal_errors=(0.0,), budget_steps=64),
        NETWORK,
        DEVICE,
        final_params=final,
    )
    assert outcomes[2].status == [INFEASIBLE]
    assert_masked_weights_zero(final, specs)


def test_cuda_graph_on_equals_off(study, monkeypatch):
    specs, data, settings = study
    replays = []
    if CUDA:  # count the replays of captured graphs
        replay = torch.cuda.CUDAGraph.replay
        monkeypatch.setattr(torch.cuda.CUDAGraph, "replay", lambda self: replays.append(1) or replay(self))
    results = {}
    for graph in (True, False):
        final = {}
        outcomes = train_study(
            specs, data, dataclasses.replace(settings, cuda_graph=graph), NETWORK, DEVICE, final_params=final
        )
        results[graph] = outcomes, final
        if CUDA:
            assert (len(replays) > 0) == graph
            replays.clear()
    if CUDA:  # groups in lockstep train without graphs (a graph's memory pool per group)
        train_study(specs, data, dataclasses.replace(settings, max_group=2, budget_steps=16), NETWORK, DEVICE)
        assert not replays
    (on, on_final), (off, off_final) = results[True], results[False]
    assert [(o.status, o.steps_to_result, o.steps_trained) for o in on] == [
        (o.status, o.steps_to_result, o.steps_trained) for o in off
    ]
    assert_trained_alike(on_final, off_final, specs, 1e-4)


@pytest.mark.parametrize("graph", [True, False])
def test_training_steps_never_wait_for_the_device(study, graph):
    """Steps and new epochs' orders (20 steps, epochs of 8), with CUDA's sync debug mode set to
    raise on any host sync."""
    specs, data, settings = study
    data = {k: v[:256] if k.startswith("train") else v for k, v in data.items()}
    state = engine.new_group(specs, settings, DEVICE, 256, len(data["val_x"]))
    run = engine._step_runner(state, settings, NETWORK, data, False, graph=CUDA and graph)  # captures before the check
    if CUDA:
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
    try:
        for step in range(20):
            if state.position + settings.batch_size > 256:
                state.order = engine._epoch_order(state.generators, 256, DEVICE)
                state.position = 0
            run(state.order[:, state.position : state.position + settings.batch_size], step)
            state.position += settings.batch_size
    finally:
        if CUDA:
            torch.cuda.set_sync_debug_mode("default")
    assert int(state.diverged_at[2]) >= 0 and (state.diverged_at[[0, 1, 3, 4, 5]] < 0).all()
