"""Checkpoints: a training run killed at any checkpoint resumes to a bit-identical result."""

import dataclasses
import logging

import pytest
import torch
from test_engine import NETWORK, SETTINGS, make_specs

from sparsedp.checkpoint import Checkpoint, run_key
from sparsedp.engine import train_study


class Killed(Exception):
    pass


class KilledAfter(Checkpoint):
    """Saves like a Checkpoint, then dies right after its n-th save (a SIGKILL, in-process)."""

    def __init__(self, path, key, every, saves):
        super().__init__(path, key, every)
        self.saves = saves

    def save(self, *args):
        super().save(*args)
        self.saves -= 1
        if self.saves == 0:
            raise Killed


@pytest.fixture(scope="module")
def small(mnist):
    """320 training examples (an epoch is 10 steps, so resumes land inside and across
    epochs) and 600 validation examples, every tenth of the hardest-first order (its first
    600 are the hardest): cheap."""
    return {k: v[:320] if k.startswith("train") else v[::10] for k, v in mnist.items()}


@pytest.fixture(scope="module")
def race(mnist):
    # A good trial, a slow one, a diverging one and two more, in groups of two (racing in
    # lockstep), evaluated every 16 steps, checkpointed every 5: saves at steps 5, 10, .., 30.
    specs = make_specs(mnist, [(0.05, 0.9), (1e-3, 0.9), (1e30, 0.9), (0.02, 0.95), (0.1, 0.5)], sparsity=0.7)
    settings = dataclasses.replace(SETTINGS, goal_errors=(0.3,), budget_steps=64, mode="race", max_group=2)
    return specs, settings


@pytest.fixture(scope="module")
def uninterrupted(small, race):
    final = {}
    return train_study(*race[:1], small, race[1], NETWORK, final_params=final), final


@pytest.mark.parametrize("saves", [1, 3, 6])  # killed at step 5, 15 (one before a check), 30
def test_a_run_killed_after_a_checkpoint_resumes_bit_identically(tmp_path, small, race, uninterrupted, saves, caplog):
    specs, settings = race
    expected, expected_params = uninterrupted
    key = run_key(specs, settings, data="test")
    path = tmp_path / "run.pt"
    with pytest.raises(Killed):
        train_study(specs, small, settings, NETWORK, final_params={}, checkpoint=KilledAfter(path, key, 5, saves))
    params = {}
    with caplog.at_level(logging.INFO, logger="sparsedp"):
        resumed = train_study(specs, small, settings, NETWORK, final_params=params, checkpoint=Checkpoint(path, key, 5))
    assert "resuming from checkpoint" in caplog.text
    assert [dataclasses.asdict(o) for o in resumed] == [dataclasses.asdict(o) for o in expected]
    assert {o.status[0] for o in expected} >= {"complete", "infeasible"}
    assert params.keys() == expected_params.keys()
    for trial, tensors in expected_params.items():
        for name, value in tensors.items():
            torch.testing.assert_close(params[trial][name], value, rtol=0, atol=0, equal_nan=True)


def test_a_stale_or_unreadable_checkpoint_is_never_used(tmp_path, small, race, caplog):
    specs, settings = race
    path = tmp_path / "run.pt"
    with pytest.raises(Killed):
        train_study(specs, small, settings, NETWORK, checkpoint=KilledAfter(path, run_key(specs, settings), 5, 2))
    other = dataclasses.replace(settings, budget_steps=48)  # any change of the run changes the key
    assert run_key(specs, other) != run_key(specs, settings)
    assert run_key(specs, settings, data="a") != run_key(specs, settings, data="b")
    with caplog.at_level(logging.WARNING, logger="sparsedp"):
        assert Checkpoint(path, run_key(specs, other), 5).load() is None
        path.write_bytes(path.read_bytes()[:100])
        assert Checkpoint(path, run_key(specs, settings), 5).load() is None
    assert "stale checkpoint" in caplog.text and "unreadable checkpoint" in caplog.text
