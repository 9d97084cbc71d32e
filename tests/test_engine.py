import dataclasses
import math
import random

import pytest
import torch

from sparsedp.baseline import train_plain, trial_module
from sparsedp.engine import StudySettings, TrialSpec, count_errors, max_errors, train_study
from sparsedp.jobs import race_bounds
from sparsedp.pruning import prune
from sparsedp.results import COMPLETE, INCOMPLETE, INFEASIBLE, PRUNED

from conftest import network_of

NETWORK, INIT = network_of("simple_cnn")  # Simple-CNN on MNIST, and trial k's initialisation (params, buffers)


def make_specs(mnist, metaparameters, sparsity=0.0, **extra):
    """Trial k: (learning rate, momentum) = metaparameters[k]; ``extra`` metaparameters for every trial;
    momentum left out for SGD (given as None)."""
    specs = []
    for trial, (lr, mom) in enumerate(metaparameters):
        params, _ = INIT(trial)
        x, y = mnist["train_x"][:100], mnist["train_y"][:100]
        masks = prune("snip", NETWORK, params, sparsity, "weights", images=x, labels=y, batch_size=100, seed=trial)
        mp = {"learning_rate": lr, **({} if mom is None else {"momentum": mom}), **extra}
        specs.append(TrialSpec(trial, mp, params, masks))
    return specs


SETTINGS = StudySettings("momentum", "constant", 32, goal_errors=(0.3,), budget_steps=48, eval_every=16, mode="census")


def test_goal_bound_is_exact():
    assert max_errors(0.02, 6000) == 120
    assert max_errors(0.05, 6000) == 300
    assert max_errors(0.4, 5000) == 2000
    assert max_errors(0.1, 7) == 0


def test_statuses_complete_incomplete_and_forced_divergence(mnist):
    # A good learning rate, one too small to learn anything in 48 steps, one that diverges.
    specs = make_specs(mnist, [(0.05, 0.9), (1e-6, 0.9), (1e30, 0.9)])
    good, slow, diverged = train_study(specs, mnist, SETTINGS, NETWORK)
    assert good.status[0] == COMPLETE and good.steps_to_result[0] in (16, 32, 48)
    assert good.curve["val_errors"][-1] <= max_errors(0.3, 6000)
    assert slow.status[0] == INCOMPLETE and slow.steps_to_result[0] is None and slow.steps_trained == 48
    assert diverged.status[0] == INFEASIBLE and diverged.steps_to_result[0] is None
    assert 1 <= diverged.diverged_at_step <= 16


def _best(outcomes):
    return min((o.steps_to_result[0], o.trial) for o in outcomes if o.status[0] == COMPLETE)


def test_race_gives_the_census_study_result_and_stops_the_rest(mnist):
    specs = make_specs(mnist, [(1e-3, 0.9), (0.05, 0.9), (0.02, 0.95), (1e30, 0.9), (0.1, 0.5)])
    settings = dataclasses.replace(SETTINGS, goal_errors=(0.1,), budget_steps=160)
    census = {o.trial: o for o in train_study(specs, mnist, settings, NETWORK)}
    assert {o.status[0] for o in census.values()} >= {COMPLETE, INFEASIBLE}
    best_steps, _ = _best(census.values())
    # All in one group, and in groups of two, which race in lockstep: the same outcomes, every
    # trial stopped at the first step at which one reached the goal.
    races = [
        train_study(specs, mnist, dataclasses.replace(settings, mode="race", max_group=g), NETWORK) for g in (None, 2)
    ]
    assert [dataclasses.asdict(o) for o in races[0]] == [dataclasses.asdict(o) for o in races[1]]
    for race in races:
        assert _best(race) == _best(census.values())
        for o in race:
            if o.status[0] == COMPLETE:  # a trial that got there has its true steps-to-result
                assert o.steps_to_result[0] == census[o.trial].steps_to_result[0]
            elif o.status[0] == PRUNED:  # stopped when the best got there, and only if it could not win
                assert o.steps_trained == best_steps
                assert census[o.trial].status[0] != COMPLETE or census[o.trial].steps_to_result[0] > o.steps_trained
            else:
                assert o.status[0] == census[o.trial].status[0] == INFEASIBLE
        assert sum(o.steps_trained for o in race) < sum(o.steps_trained for o in census.values())


@pytest.mark.parametrize("loop", [False, True])
def test_k_trials_together_equal_k_separate_trainings(mnist, loop):
    specs = make_specs(mnist, [(0.05, 0.9), (0.01, 0.99), (0.2, 0.0)], sparsity=0.7)
    settings = dataclasses.replace(SETTINGS, goal_errors=(0.01,), budget_steps=20, eval_every=10, loop_trials=loop)
    together, alone = {}, {}
    train_study(specs, mnist, settings, NETWORK, final_params=together)
    for spec in specs:
        train_study([spec], mnist, settings, NETWORK, final_params=alone)
    for trial in together:
        for k in together[trial]:
            torch.testing.assert_close(together[trial][k], alone[trial][k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_engine_matches_torch_optim_sgd_on_a_plain_module(mnist, optimizer):
    """Same trajectory as nn.Module + torch.optim.SGD, checked in float64 so that rounding
    (grouped vs plain convolutions) cannot hide a difference in the update rule."""
    data = {k: v.double() if v.is_floating_point() else v for k, v in mnist.items()}
    (spec,) = make_specs(mnist, [(0.03, None if optimizer == "sgd" else 0.9)], sparsity=0.5)
    spec.params = {k: v.double() for k, v in spec.params.items()}
    settings = dataclasses.replace(
        SETTINGS, optimizer=optimizer, goal_errors=(0.01,), budget_steps=30, eval_every=10, early_exit=False
    )
    final = {}
    (engine,) = train_study([spec], data, settings, NETWORK, final_params=final)
    plain, module = train_plain(spec, data, settings, NETWORK)
    assert engine.status[0] == plain.status[0] == INCOMPLETE
    for k, v in module.state_dict().items():
        torch.testing.assert_close(final[0][k][0], v, rtol=1e-9, atol=1e-11)
    assert engine.curve["val_errors"] == plain.curve["val_errors"]


def test_early_exit_evaluation_makes_the_same_decisions_as_a_full_count(mnist):
    specs = make_specs(mnist, [(0.05, 0.9), (0.01, 0.9), (1e-5, 0.9), (0.1, 0.5)])
    final = {}
    train_study(specs, mnist, dataclasses.replace(SETTINGS, budget_steps=32), NETWORK, final_params=final)
    params = {k: torch.cat([final[t][k] for t in sorted(final)]) for k in final[0]}
    full, seen_full = count_errors(NETWORK, params, {}, mnist["val_x"], mnist["val_y"], 0, 700, early_exit=False)
    assert (seen_full == 6000).all()
    for goal in (0.03, 0.1, 0.2, 0.5, 0.9):
        bound = max_errors(goal, 6000)
        early, seen = count_errors(NETWORK, params, {}, mnist["val_x"], mnist["val_y"], bound, 700, early_exit=True)
        assert ((early <= bound) == (full <= bound)).all(), goal
        assert (early[seen < 6000] > bound).all()  # a trial stopped early had already failed
    # A hard goal stops counting long before the end.
    _, seen = count_errors(
        NETWORK, params, {}, mnist["val_x"], mnist["val_y"], max_errors(0.001, 6000), 700, early_exit=True
    )
    assert int(seen.max()) < 6000


def test_examples_missed_last_time_are_counted_first_and_change_no_decision(mnist):
    specs = make_specs(mnist, [(0.05, 0.9), (0.01, 0.9), (0.1, 0.5)])
    final = {}
    train_study(specs, mnist, dataclasses.replace(SETTINGS, budget_steps=32), NETWORK, final_params=final)
    params = {k: torch.cat([final[t][k] for t in sorted(final)]) for k in final[0]}
    val = mnist["val_x"], mnist["val_y"]
    wrong = torch.zeros(3, 6000, dtype=torch.bool)
    full, _ = count_errors(NETWORK, params, {}, *val, 0, 700, early_exit=False, wrong=wrong)
    assert (wrong.sum(1) == full).all()  # a full count marks exactly the examples missed
    for goal in (0.03, 0.1, 0.2, 0.5):
        bound = max_errors(goal, 6000)
        plain, plain_seen = count_errors(NETWORK, params, {}, *val, bound, 700, early_exit=True)
        first, seen = count_errors(NETWORK, params, {}, *val, bound, 700, early_exit=True, wrong=wrong.clone())
        assert ((first <= bound) == (full <= bound)).all(), goal
        failing = full > bound
        # the misses come first, so a failing count stops at the first chunk that passes the bound
        assert (seen[failing] == min(6000, 700 * math.ceil((bound + 1) / 700))).all(), goal
        assert (seen[failing] <= plain_seen[failing]).all() and (seen[~failing] == 6000).all()
        assert (first[~failing] == full[~failing]).all() and (plain[~failing] == full[~failing]).all()


# Outcomes of the engine as it was before its split into state, step and evaluation (commit
# e950a04), on 1024 training and 600 validation examples, one CPU thread: the CPU path must stay
# bit-identical. Per trial: status, steps_to_result, steps_trained, diverged_at_step, validation
# errors per evaluation. Float32 counts: another thread count (its reductions sum in another
# order) changes one of them, and so may another CPU's kernels; so did the module path's linear
# layer (F.linear where the layer interpreter used baddbmm): trial 1's third count, 133 before,
# is 134 since (its float64 trajectory is the interpreter's: test_generic_path_reproduces_...).
FIVE = [(0.05, 0.9), (1e-3, 0.9), (1e30, 0.9), (0.02, 0.95), (0.1, 0.5)]
PINNED = {
    "momentum_census": [
        ("complete", 48, 48, None, [136, 126, 94]),
        ("complete", 64, 64, None, [379, 136, 134, 103]),
        ("infeasible", None, 16, 2, []),
        ("complete", 48, 48, None, [271, 144, 109]),
        ("complete", 32, 32, None, [209, 115]),
    ],
    # The census's curves cut at step 32, where trial 4 reaches the goal: the groups race in
    # lockstep. (Before, each group raced alone, bounded by those before it: the first group's
    # trials went on to step 48, as in the census.)
    "momentum_race_groups": [
        ("pruned", None, 32, None, [136, 126]),
        ("pruned", None, 32, None, [379, 136]),
        ("infeasible", None, 16, 2, []),
        ("pruned", None, 32, None, [271, 144]),
        ("complete", 32, 32, None, [209, 115]),
    ],
    "nesterov_decay_grouped": [
        ("complete", 32, 32, None, [205, 96]),
        ("incomplete", None, 80, None, [363, 173, 164, 164, 163]),
        ("infeasible", None, 16, 2, []),
        ("incomplete", None, 80, None, [347, 226, 171, 172, 172]),
        ("incomplete", None, 80, None, [231, 124, 115, 110, 113]),
    ],
    "sgd_census": [
        ("complete", 48, 48, None, [250, 198, 81]),
        ("complete", 32, 32, None, [220, 134]),
        ("infeasible", None, 16, 2, []),
    ],
}


def _pinned_case(mnist, name):
    base = dataclasses.replace(SETTINGS, goal_errors=(0.2,), budget_steps=80)
    if name == "momentum_census":
        return make_specs(mnist, FIVE, sparsity=0.7), base
    if name == "momentum_race_groups":
        return make_specs(mnist, FIVE, sparsity=0.7), dataclasses.replace(base, mode="race", max_group=2)
    if name == "nesterov_decay_grouped":
        specs = make_specs(mnist, FIVE, sparsity=0.7, decay_steps=40, end_factor=0.01)
        settings = dataclasses.replace(base, optimizer="nesterov", schedule="linear_decay", loop_trials=False)
        return specs, dataclasses.replace(settings, goal_errors=(0.17,))
    specs = make_specs(mnist, [(0.1, None), (0.01, None), (1e30, None)], sparsity=0.7)
    return specs, dataclasses.replace(base, optimizer="sgd", goal_errors=(0.3,))


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", PINNED)
def test_cpu_outcomes_are_those_of_the_engine_before_its_split(mnist, name, one_thread):
    small = {k: v[:1024] if k.startswith("train") else v[::10] for k, v in mnist.items()}
    specs, settings = _pinned_case(mnist, name)
    outcomes = train_study(specs, small, settings, NETWORK)
    got = [
        (o.status[0], o.steps_to_result[0], o.steps_trained, o.diverged_at_step, o.curve["val_errors"])
        for o in outcomes
    ]
    assert got == PINNED[name]


@pytest.fixture(scope="module")
def goals_study(mnist):
    """Six trials (one diverging) on 4096 training and 600 validation examples, three goals
    given out of order; census runs at each goal alone are the reference."""
    data = {k: v[:4096] if k.startswith("train") else v[::10] for k, v in mnist.items()}
    mps = [(0.02, 0.9), (3e-3, 0.9), (0.05, 0.5), (1e30, 0.9), (0.01, 0.95), (0.1, 0.0)]
    specs = make_specs(mnist, mps, sparsity=0.8)
    settings = dataclasses.replace(SETTINGS, goal_errors=(0.15, 0.3, 0.08), budget_steps=160, eval_every=16)
    alone = [
        train_study(specs, data, dataclasses.replace(settings, goal_errors=(goal,)), NETWORK)
        for goal in settings.goal_errors
    ]
    return specs, data, settings, alone


def test_several_goals_in_census_give_each_trial_the_results_of_one_run_per_goal(goals_study):
    specs, data, settings, alone = goals_study
    together = train_study(specs, data, settings, NETWORK)
    for j in range(len(settings.goal_errors)):
        assert [(o.status[j], o.steps_to_result[j]) for o in together] == [
            (o.status[0], o.steps_to_result[0]) for o in alone[j]
        ]
    statuses = {s for o in together for s in o.status}
    assert statuses == {COMPLETE, INCOMPLETE, INFEASIBLE}  # the goals differ within trials
    assert any(len(set(o.status)) > 1 for o in together)


@pytest.mark.parametrize("max_group", [None, 2])
def test_several_goals_in_a_race_give_each_goal_the_study_result_of_its_own_census(goals_study, max_group):
    specs, data, settings, alone = goals_study
    race = train_study(specs, data, dataclasses.replace(settings, mode="race", max_group=max_group), NETWORK)
    for j in range(len(settings.goal_errors)):
        best = min((o.steps_to_result[j], o.trial) for o in race if o.status[j] == COMPLETE)
        assert best == _best(alone[j])
        for o, census in zip(race, alone[j]):
            if o.status[j] == COMPLETE:
                assert o.steps_to_result[j] == census.steps_to_result[0]
            elif o.status[j] == PRUNED:  # stopped before it could have reached this goal
                assert census.status[0] != COMPLETE or census.steps_to_result[0] > o.steps_trained
            else:
                assert o.status[j] == census.status[0] == INFEASIBLE
    assert PRUNED in {s for o in race for s in o.status}


def _torch_adam(spec, data, settings, steps):
    """The plain module trained with torch.optim.Adam on the engine's data order (masked
    gradients zeroed before each step), for ``steps`` steps."""
    from sparsedp.engine import ADAM_BETA2
    from sparsedp.models import channels_last
    from sparsedp.search import derived_seed

    model = trial_module(NETWORK, spec)
    params = dict(model.named_parameters())
    masks = {k: m[0] for k, m in spec.masks.items() if not bool(m.all())}
    with torch.no_grad():
        for k, m in masks.items():
            params[k].mul_(m)
    mp = spec.metaparameters
    opt = torch.optim.Adam(
        model.parameters(), lr=mp["learning_rate"], betas=(mp["beta1"], ADAM_BETA2), eps=mp["epsilon"], foreach=False
    )
    gen = torch.Generator().manual_seed(derived_seed(spec.trial, "data-order"))
    n, batch, pos, perm = len(data["train_x"]), settings.batch_size, len(data["train_x"]), None
    for _ in range(steps):
        if pos + batch > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos : pos + batch]
        pos += batch
        loss = torch.nn.functional.cross_entropy(model(channels_last(data["train_x"][idx])), data["train_y"][idx])
        opt.zero_grad()
        loss.backward()
        for k, m in masks.items():
            params[k].grad.mul_(m)
        opt.step()
    return model


def test_adam_equals_torch_optim_adam_and_keeps_masked_weights_and_moments_zero(mnist):
    """Adam per trial (learning rate, beta1, epsilon) follows torch.optim.Adam's trajectory in
    float64; a pruned weight, its first and its second moment stay exactly zero."""
    data = {k: v.double() if v.is_floating_point() else v for k, v in mnist.items()}
    (spec,) = make_specs(mnist, [(3e-3, None)], sparsity=0.9, beta1=0.8, epsilon=1e-6)
    spec.params = {k: v.double() for k, v in spec.params.items()}
    settings = dataclasses.replace(
        SETTINGS, optimizer="adam", goal_errors=(0.01,), budget_steps=30, eval_every=10, early_exit=False
    )
    final = {}
    (engine,) = train_study([spec], data, settings, NETWORK, final_params=final)
    assert engine.status == [INCOMPLETE]
    module = _torch_adam(spec, data, settings, steps=30)
    for k, v in module.state_dict().items():
        torch.testing.assert_close(final[0][k][0], v, rtol=1e-9, atol=1e-11)
        if not bool(spec.masks[k].all()):
            assert bool((final[0][k][~spec.masks[k]] == 0).all()), k

    from sparsedp.engine import OPTIMIZERS, new_group, train_step

    state = new_group([spec], settings, "cpu", len(data["train_x"]), len(data["val_x"]))
    for step in range(3):
        batch = torch.arange(step * 32, (step + 1) * 32).view(1, -1)
        train_step(state, settings, NETWORK, data, batch, torch.tensor(step), loop=True)
    assert set(state.optimizer_state["conv1.weight"]) == set(OPTIMIZERS["adam"].init(state.params["conv1.weight"]))
    for k, m in state.masks.items():
        for name in ("exp_avg", "exp_avg_sq"):
            assert bool((state.optimizer_state[k][name][~m] == 0).all()), (k, name)


def test_trials_retrained_apart_from_their_race_group_end_as_in_the_uninterrupted_race(goals_study):
    """Randomised: any subset of a race study's trials, retrained with the others' records as
    race bounds (jobs.train), ends exactly as in the run that trained all together, the winner
    included; race groups of three trials race apart."""
    specs, data, settings, _ = goals_study
    race = dataclasses.replace(settings, mode="race", race_group=3)
    whole = {o.trial: dataclasses.asdict(o) for o in train_study(specs, data, race, NETWORK)}
    assert PRUNED in {s for o in whole.values() for s in o["status"]}
    winners = [t for t, o in whole.items() if all(s == COMPLETE for s in o["status"])]
    rng = random.Random(5)
    subsets = [winners[:1], *(rng.sample(sorted(whole), rng.randint(1, len(whole) - 1)) for _ in range(4))]
    for lost in subsets:
        records = [
            {
                "identity": {"trial": t},
                "goals": [{"status": s} for s in o["status"]],
                "steps_trained": o["steps_trained"],
            }
            for t, o in whole.items()
            if t not in lost
        ]
        again = train_study(
            [s for s in specs if s.trial in lost], data, race, NETWORK, race_bounds=race_bounds(records, 3)
        )
        assert {o.trial: dataclasses.asdict(o) for o in again} == {t: whole[t] for t in lost}, lost
