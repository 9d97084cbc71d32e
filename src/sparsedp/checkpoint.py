"""Checkpoints of a training job, so that a killed job resumes where it stopped.

A checkpoint is the whole state of engine.train_study's loop at the top of a step: the groups
still training (each engine.GroupState, field by field: parameters, buffers, masks, metaparameters,
optimizer buffers, each trial's data-order generator, current permutations, position in the
epoch, loss sums, divergences) and the outcomes so far. Resuming from it replays the same
arithmetic, so on a CPU the result is bit-identical to an uninterrupted run.

The file is written atomically and carries a key (a digest of everything that defines the
run: trials, metaparameters, initialisations, masks, settings, data); a checkpoint with any
other key is stale and ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import torch

from .engine import GroupState, TrialOutcome
from .results import atomic_path

log = logging.getLogger(__name__)


def run_key(specs, settings, **extra) -> str:
    """Digest of what defines a training run: specs (with their tensors), settings, ``extra``."""
    digest = hashlib.sha256()
    meta = {
        "settings": dataclasses.asdict(settings),
        "specs": [{"trial": s.trial, "seed": s.data_seed, "metaparameters": s.metaparameters} for s in specs],
        "extra": extra,
    }
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    for spec in specs:
        for tensors in (spec.params, spec.buffers, spec.masks):
            for name in sorted(tensors):
                digest.update(name.encode())
                digest.update(tensors[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class Checkpoint:
    """Where and how often (in steps; 0 = never) a run with key ``key`` saves its state."""

    def __init__(self, path, key: str, every: int):
        self.path, self.key, self.every = Path(path), key, every

    def load(self) -> dict | None:
        """The saved state of this run, or None (no checkpoint, unreadable, or stale)."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # atomic writes make this unlikely; never trust such a file
            log.warning("ignoring unreadable checkpoint %s: %s", self.path, exc)
            return None
        if state.get("key") != self.key:
            log.warning("ignoring stale checkpoint %s (made by a different run)", self.path)
            return None
        log.info("resuming from checkpoint %s at step %d", self.path, state["groups"][0]["step"])
        return state

    def due(self, step: int) -> bool:
        return self.every > 0 and step > 0 and step % self.every == 0

    def save(self, groups: list[GroupState], outcomes: dict, final_params) -> None:
        """Save ``groups`` (all at the top of the same step)."""
        state = {
            "key": self.key,
            "groups": [self._fields(group) for group in groups],
            "outcomes": {t: dataclasses.asdict(o) for t, o in outcomes.items()},
            "final_params": final_params,
        }
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)

    @staticmethod
    def _fields(group: GroupState) -> dict:
        return {
            "trials": list(group.trials),
            "params": {k: v.detach() for k, v in group.params.items()},
            "buffers": group.buffers,
            "masks": group.masks,
            "metaparameters": group.metaparameters,
            "optimizer_state": group.optimizer_state,
            "generators": [gen.get_state() for gen in group.generators],
            "order": group.order,
            "position": group.position,
            "step": group.step,
            "loss_sum": group.loss_sum,
            "since_eval": group.since_eval,
            "diverged_at": group.diverged_at,
            "val_wrong": group.val_wrong,
        }

    @staticmethod
    def restore(state: dict, outcomes: dict, final_params, device) -> list[GroupState]:
        """The groups of a loaded state, on ``device``; its outcomes and final parameters so far
        go into ``outcomes`` and ``final_params``."""
        outcomes.update({t: TrialOutcome(**o) for t, o in state["outcomes"].items()})
        if final_params is not None and state["final_params"] is not None:
            final_params.update(state["final_params"])
        return [Checkpoint._group(g, device) for g in state["groups"]]

    @staticmethod
    def _group(g: dict, device) -> GroupState:
        return GroupState(
            trials=list(g["trials"]),
            params={k: v.to(device).requires_grad_() for k, v in g["params"].items()},
            buffers={k: v.to(device) for k, v in g["buffers"].items()},
            masks={k: v.to(device) for k, v in g["masks"].items()},
            metaparameters={k: v.to(device) for k, v in g["metaparameters"].items()},
            optimizer_state={k: {b: v.to(device) for b, v in s.items()} for k, s in g["optimizer_state"].items()},
            generators=[torch.Generator().set_state(s) for s in g["generators"]],
            order=None if g["order"] is None else g["order"].to(device),
            position=g["position"],
            step=g["step"],
            loss_sum=g["loss_sum"].to(device),
            since_eval=g["since_eval"],
            diverged_at=g["diverged_at"].to(device),
            val_wrong=g["val_wrong"].to(device),
        )

    def remove(self) -> None:
        """Delete the checkpoint and any temporary file a kill left while writing it."""
        for path in [self.path, *self.path.parent.glob(f".{self.path.name}.*.part")]:
            path.unlink(missing_ok=True)
