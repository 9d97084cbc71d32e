"""Checkpoints of a training job, so that a killed job resumes where it stopped.

A checkpoint is the whole state of engine.train_study's loop at the top of a step: the group
being trained (parameters, momentum buffers, each trial's data-order generator, current
permutations, position in the epoch, loss sums, divergences), the outcomes so far and the
race bound. Resuming from it replays the same arithmetic, so on a CPU the result is
bit-identical to an uninterrupted run.

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

from .engine import TrialOutcome
from .results import atomic_path

log = logging.getLogger(__name__)


def run_key(specs, settings, **extra) -> str:
    """Digest of what defines a training run: specs (with their tensors), settings, ``extra``."""
    digest = hashlib.sha256()
    meta = {
        "settings": dataclasses.asdict(settings),
        "specs": [{k: v for k, v in vars(s).items() if k not in ("params", "masks")} for s in specs],
        "extra": extra,
    }
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    for spec in specs:
        for tensors in (spec.params, spec.masks):
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
        log.info("resuming from checkpoint %s at step %d of group %d", self.path, state["loop"][0], state["start"])
        return state

    def due(self, step: int) -> bool:
        return self.every > 0 and step > 0 and step % self.every == 0

    def save(self, group, start: int, stop_at, loop, outcomes: dict, final_params) -> None:
        """Save the loop of group ``start`` (index of its first spec) at the top of a step;
        ``loop`` = (step, pos, since_eval, best)."""
        tensors = {
            name: {k: v.detach() for k, v in value.items()} if isinstance(value, dict) else value
            for name, value in vars(group).items()
            if isinstance(value, (torch.Tensor, dict))
        }
        state = {
            "key": self.key,
            "start": start,
            "stop_at": stop_at,
            "loop": list(loop),
            "ids": list(group.ids),
            "generators": [gen.get_state() for gen in group.generators],
            "tensors": tensors,
            "outcomes": {t: dataclasses.asdict(o) for t, o in outcomes.items()},
            "final_params": final_params,
        }
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)

    @staticmethod
    def restore(state: dict, group, outcomes: dict, final_params) -> tuple:
        """Put a loaded state into a freshly built ``group`` and ``outcomes``; returns
        (step, pos, since_eval, best)."""
        device = group.lr.device
        for name, value in state["tensors"].items():
            moved = {k: v.to(device) for k, v in value.items()} if isinstance(value, dict) else value.to(device)
            setattr(group, name, moved)
        group.params = {k: v.requires_grad_() for k, v in group.params.items()}
        group.ids = list(state["ids"])
        group.generators = [torch.Generator().set_state(s) for s in state["generators"]]
        outcomes.update({t: TrialOutcome(**o) for t, o in state["outcomes"].items()})
        if final_params is not None and state["final_params"] is not None:
            final_params.update(state["final_params"])
        return tuple(state["loop"])

    def remove(self) -> None:
        """Delete the checkpoint and any temporary file a kill left while writing it."""
        for path in [self.path, *self.path.parent.glob(f".{self.path.name}.*.part")]:
            path.unlink(missing_ok=True)
