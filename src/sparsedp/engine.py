"""Training engine: the trials of one study trained together, data resident on the device.

Each trial has its own initialisation, mask, metaparameters and data order (seeded by its
trial number), so a trial's result does not depend on which trials share its pack. Parameters
carry a leading trial axis and one forward/backward pass serves every active trial (see
models.forward). Finished trials are dropped from the tensors as they finish.

Statuses: complete (goal reached at steps_to_result), incomplete (budget spent), infeasible
(non-finite training loss), pruned (race mode: stopped at the step where another trial of the
study had already reached the goal, so it could not have beaten that trial).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .models import forward
from .results import COMPLETE, INCOMPLETE, INFEASIBLE, PRUNED
from .search import derived_seed


@dataclass
class TrialSpec:
    trial: int  # also the seed of its initialisation and data order
    learning_rate: float
    momentum: float  # 0 for plain SGD
    params: dict  # name -> [1, ...] initial parameters
    masks: dict  # name -> [1, ...] bool, True = kept
    decay_steps: int | None = None  # linear decay: steps from lr to lr * end_factor
    end_factor: float = 1.0


@dataclass
class StudySettings:
    model: str
    optimizer: str  # sgd | momentum | nesterov
    batch_size: int
    goal_error: float
    budget_steps: int
    eval_every: int
    mode: str = "race"  # race | census
    eval_chunk: int = 1000
    early_exit: bool = True
    max_group: int | None = None  # trials trained at once; None = all of them
    loop_trials: bool | None = None  # one forward per trial (None: on CPU, where grouped convs are slow)


@dataclass
class TrialOutcome:
    trial: int
    status: str = INCOMPLETE
    steps_to_result: int | None = None
    steps_trained: int = 0
    diverged_at_step: int | None = None
    curve: dict = field(default_factory=lambda: {"step": [], "val_errors": [], "val_examples": [], "train_loss": []})


def max_errors(goal_error: float, n_val: int) -> int:
    """Largest error count e with e / n_val <= goal_error: the goal is met iff errors <= this."""
    bound = math.floor(goal_error * n_val) + 1
    while bound / n_val > goal_error:
        bound -= 1
    return bound


def count_errors(model, params, val_x, val_y, bound: int, chunk: int, early_exit: bool, loop: bool = False):
    """Validation errors per trial, counted chunk by chunk over the whole validation set.

    With ``early_exit`` a trial stops being counted once its count exceeds ``bound``: its
    goal decision is already known (not met), so decisions equal those of a full count.
    Returns (errors, examples_counted) as CPU int64 tensors.
    """
    trials = next(iter(params.values())).shape[0]
    errors = torch.zeros(trials, dtype=torch.long, device=val_x.device)
    seen = torch.zeros(trials, dtype=torch.long)
    live = torch.arange(trials, device=val_x.device)
    sub = params
    with torch.no_grad():
        for start in range(0, len(val_x), chunk):
            logits = forward(model, sub, val_x[start : start + chunk], loop)
            errors[live] += (logits.argmax(-1) != val_y[start : start + chunk]).sum(1)
            seen[live.cpu()] += len(logits[0])
            if early_exit:
                under = errors[live] <= bound
                if not bool(under.all()):
                    live = live[under]
                    if len(live) == 0:
                        break
                    sub = {k: v[live] for k, v in params.items()}
    return errors.cpu(), seen


class _Group:
    """The state of the trials trained together: every tensor has the trial axis first."""

    def __init__(self, specs, settings: StudySettings, device):
        self.ids = [s.trial for s in specs]
        self.momentum = settings.optimizer != "sgd"
        self.masks = {
            k: torch.cat([s.masks[k] for s in specs]).to(device)
            for k in specs[0].masks
            if not all(bool(s.masks[k].all()) for s in specs)
        }
        self.params = {}
        for k in specs[0].params:
            p = torch.cat([s.params[k] for s in specs]).to(device)
            if k in self.masks:
                p = torch.where(self.masks[k], p, torch.zeros((), device=device))
            self.params[k] = p.requires_grad_()
        self.bufs = {k: torch.zeros_like(p) for k, p in self.params.items()} if self.momentum else {}
        real = dict(device=device, dtype=next(iter(self.params.values())).dtype)
        self.lr = torch.tensor([s.learning_rate for s in specs], **real)
        self.mu = torch.tensor([s.momentum for s in specs], **real)
        self.decay = torch.tensor([float(s.decay_steps or 0) for s in specs], **real)
        self.end_factor = torch.tensor([s.end_factor for s in specs], **real)
        self.generators = [torch.Generator().manual_seed(derived_seed(s.trial, "data-order")) for s in specs]
        self.diverged_at = torch.full((len(specs),), -1, dtype=torch.long, device=device)
        self.loss_sum = torch.zeros(len(specs), **real)
        self.perms = None

    def keep(self, keep: list[bool]) -> None:
        idx = torch.tensor([i for i, k in enumerate(keep) if k], dtype=torch.long)
        dev_idx = idx.to(self.lr.device)
        self.ids = [self.ids[i] for i in idx.tolist()]
        self.generators = [self.generators[i] for i in idx.tolist()]
        self.params = {k: v.detach()[dev_idx].requires_grad_() for k, v in self.params.items()}
        for name in ("bufs", "masks"):
            setattr(self, name, {k: v[dev_idx] for k, v in getattr(self, name).items()})
        for name in ("lr", "mu", "decay", "end_factor", "diverged_at", "loss_sum", "perms"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value[dev_idx])

    def learning_rates(self, step: int) -> torch.Tensor:
        """Polynomial decay of power 1 from lr to lr * end_factor over decay steps, then
        constant; trials without decay (decay = 0) keep lr."""
        frac = torch.where(self.decay > 0, (1 - step / self.decay.clamp(min=1)).clamp(min=0), 1.0)
        return self.lr * (self.end_factor + (1 - self.end_factor) * frac)

    def sgd_step(self, grads, step: int, nesterov: bool) -> None:
        """torch.optim.SGD (dampening 0) per trial; masked gradients are zeroed so masked
        weights and their momentum stay exactly zero (where, not multiply: NaN * 0 is NaN)."""
        lr = self.learning_rates(step)
        with torch.no_grad():
            for (k, p), g in zip(self.params.items(), grads):
                shape = (-1,) + (1,) * (p.dim() - 1)
                if k in self.masks:
                    g = torch.where(self.masks[k], g, torch.zeros((), device=g.device))
                if self.momentum:
                    mu = self.mu.view(shape)
                    buf = self.bufs[k].mul_(mu).add_(g)
                    g = g + mu * buf if nesterov else buf
                p.sub_(lr.view(shape) * g)


def train_study(
    specs, data, settings: StudySettings, device="cpu", stop_at: int | None = None, final_params=None, checkpoint=None
):
    """Train the trials ``specs`` of one study; returns a TrialOutcome per trial, in order.

    ``final_params``, if a dict, receives each trial's parameters ([1, ...], on the CPU) as
    they were when it stopped.

    Groups of ``settings.max_group`` trials run one after the other; in race mode the best
    step found so far (``stop_at``, also accepted from outside) bounds every later trial.

    ``checkpoint`` (a checkpoint.Checkpoint) saves the loop's state at intervals, and a run
    that finds its own checkpoint resumes from it.
    """
    outcomes = {}
    group_size = settings.max_group or len(specs)
    resume = checkpoint.load() if checkpoint is not None else None
    first = 0
    if resume is not None:  # skip the groups the killed run had finished
        first, stop_at = resume["start"], resume["stop_at"]
    for start in range(first, len(specs), group_size):
        group = specs[start : start + group_size]
        found = _train_group(group, data, settings, device, stop_at, outcomes, final_params, checkpoint, start, resume)
        resume = None
        if settings.mode == "race" and found is not None:
            stop_at = found if stop_at is None else min(stop_at, found)
    return [outcomes[s.trial] for s in specs]


def _train_group(
    specs, data, settings: StudySettings, device, stop_at, outcomes, final_params, checkpoint=None, start=0, resume=None
) -> int | None:
    g = _Group(specs, settings, device)
    for trial in g.ids:
        outcomes[trial] = TrialOutcome(trial)
    train_x, train_y = data["train_x"], data["train_y"]
    n_train, batch = len(train_x), settings.batch_size
    if batch > n_train:
        raise ValueError(f"batch size {batch} exceeds the {n_train} training examples")
    bound = max_errors(settings.goal_error, len(data["val_x"]))
    nesterov = settings.optimizer == "nesterov"
    loop = settings.loop_trials if settings.loop_trials is not None else torch.device(device).type == "cpu"
    best = None
    step, pos, since_eval = 0, n_train, 0
    if resume is not None:
        step, pos, since_eval, best = checkpoint.restore(resume, g, outcomes, final_params)
    while g.ids:
        if checkpoint is not None and checkpoint.due(step):
            checkpoint.save(g, start, stop_at, (step, pos, since_eval, best), outcomes, final_params)
        if pos + batch > n_train:  # new epoch: a fresh permutation per trial, remainder dropped
            g.perms = torch.stack([torch.randperm(n_train, generator=gen) for gen in g.generators]).to(device)
            pos = 0
        idx = g.perms[:, pos : pos + batch]
        pos += batch
        logits = forward(settings.model, g.params, train_x[idx], loop)
        losses = F.cross_entropy(logits.flatten(0, 1), train_y[idx].flatten(), reduction="none")
        losses = losses.view(len(g.ids), batch).mean(1)
        grads = torch.autograd.grad(losses.sum(), list(g.params.values()))
        g.sgd_step(grads, step, nesterov)
        with torch.no_grad():
            bad = ~torch.isfinite(losses)
            g.diverged_at = torch.where((g.diverged_at < 0) & bad, step, g.diverged_at)
            g.loss_sum += torch.where(bad, 0.0, losses)
        step += 1
        since_eval += 1
        if step % settings.eval_every and step < settings.budget_steps:
            continue

        # Evaluation: decide every active trial's fate at this step.
        diverged = (g.diverged_at >= 0).tolist()
        diverged_at = g.diverged_at.tolist()
        mean_loss = (g.loss_sum / since_eval).tolist()
        g.loss_sum.zero_()
        since_eval = 0
        healthy = [i for i, d in enumerate(diverged) if not d]
        errors, seen = torch.zeros(len(g.ids), dtype=torch.long), torch.zeros(len(g.ids), dtype=torch.long)
        if healthy:
            sub = g.params if len(healthy) == len(g.ids) else {k: v[healthy] for k, v in g.params.items()}
            e, s = count_errors(
                settings.model, sub, data["val_x"], data["val_y"], bound, settings.eval_chunk, settings.early_exit, loop
            )
            errors[healthy], seen[healthy] = e, s
        met = [not diverged[i] and int(errors[i]) <= bound for i in range(len(g.ids))]
        race_over = settings.mode == "race" and (any(met) or (stop_at is not None and step >= stop_at))
        keep = []
        for i, trial in enumerate(g.ids):
            out = outcomes[trial]
            out.steps_trained = step
            if diverged[i]:
                out.status, out.diverged_at_step = INFEASIBLE, diverged_at[i] + 1
            else:
                out.curve["step"].append(step)
                out.curve["val_errors"].append(int(errors[i]))
                out.curve["val_examples"].append(int(seen[i]))
                out.curve["train_loss"].append(mean_loss[i])
                if met[i]:
                    out.status, out.steps_to_result = COMPLETE, step
                    best = step if best is None else min(best, step)
                elif race_over:
                    out.status = PRUNED
                elif step >= settings.budget_steps:
                    out.status = INCOMPLETE
                else:
                    keep.append(True)
                    continue
            keep.append(False)
        if not all(keep):
            if final_params is not None:
                for i, trial in enumerate(g.ids):
                    if not keep[i]:
                        final_params[trial] = {k: v[i : i + 1].detach().cpu() for k, v in g.params.items()}
            g.keep(keep)
    return best
