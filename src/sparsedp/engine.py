"""Training engine: the trials of one study trained together, data resident on the device.

Each trial has its own initialisation, mask, metaparameters and data order (seeded by its seed:
its trial number, offset in a replicate), so a trial's result does not depend on which trials
share its pack. Parameters (and buffers) carry a leading trial axis and one forward/backward
pass serves every active trial (models.Network). Finished trials are dropped from the tensors as
they finish.

A group of trials is a GroupState; ``train_step`` advances it by one step. Every eval_every
steps ``evaluate`` counts each trial's validation errors and ``decide`` records which trials are
finished. The groups of a study train in lockstep (each takes every step in turn) and are
evaluated together, so a race stops every trial of a race group at the first step at which one
of that race group reaches the goal: groups bound memory, not the race. Between evaluations the host never waits for the
device: on CUDA the step of a study trained as one group can be one captured graph
(``cuda_graph``).

One run gives steps-to-result at several goal errors (``goal_errors``): a trial trains until
it reaches the tightest goal, and records the first evaluation step at which it reached each.
Statuses, per goal: complete (goal reached at steps_to_result), incomplete (budget spent),
infeasible (non-finite training loss before the goal was reached), pruned (race mode: stopped
at the first step at which another trial of its race group reached the tightest goal, so it
could not have beaten that trial at any goal).

A race group is a fixed block of trial numbers (``race_group``), whichever trials a job trains:
trials of a group trained in another job take part through ``race_bounds``, the step at which
their recorded race ended. So a trial ends the same way whether it is trained with its whole
group or alone after the others were recorded.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import registry
from .models import Network
from .results import COMPLETE, INCOMPLETE, INFEASIBLE, PRUNED
from .search import derived_seed


@dataclass
class TrialSpec:
    trial: int  # its number in the study (its Sobol point)
    metaparameters: dict  # exactly those its optimizer and schedule read (see required_metaparameters)
    params: dict  # name -> [1, ...] initial parameters
    masks: dict  # name -> [1, ...] bool, True = kept
    buffers: dict = field(default_factory=dict)  # name -> [1, ...] initial buffers (BatchNorm's running statistics)
    seed: int | None = None  # of its data order (and of params, made elsewhere); None: its trial number

    @property
    def data_seed(self) -> int:
        return self.trial if self.seed is None else self.seed


@dataclass
class StudySettings:
    optimizer: str  # a key of registry.OPTIMIZERS (its update rule: OPTIMIZERS here)
    schedule: str  # a key of registry.SCHEDULES (its learning rates: SCHEDULES here)
    batch_size: int
    goal_errors: tuple[float, ...]  # steps-to-result at each of these, from one run
    budget_steps: int
    eval_every: int
    mode: str = "race"  # race | census
    race_group: int | None = None  # race mode: trial k races the trials numbered k // race_group too; None: all given
    eval_chunk: int = 1000
    early_exit: bool = True
    max_group: int | None = None  # trials in one forward pass (memory); None = all of them
    loop_trials: bool | None = None  # one forward per trial (None: on CPU, where grouped convs are slow)
    cuda_graph: bool = True  # on CUDA, replay a lone group's step as a captured graph (ignored on a CPU)


@dataclass
class TrialOutcome:
    trial: int
    status: list[str]  # per goal of settings.goal_errors
    steps_to_result: list[int | None]  # per goal: the first evaluation step at which it was met
    steps_trained: int = 0
    diverged_at_step: int | None = None
    curve: dict = field(default_factory=lambda: {"step": [], "val_errors": [], "val_examples": [], "train_loss": []})


def _per_trial(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[T] -> [T, 1, ...], broadcasting over a parameter shaped like ``like``."""
    return values.view((-1,) + (1,) * (like.dim() - 1))


@dataclass(frozen=True)
class Optimizer:
    """A per-trial update rule over trial-axis tensors (its metaparameters: registry.OPTIMIZERS).

    ``init(p)`` gives one parameter's state (named buffers); ``update(p, g, state, mp, lr)``
    updates p [T, ...] in place from its gradient g, with mp the trials' metaparameters and lr
    their learning rates at this step ([T] each). Masked entries of g are exactly zero, and an
    update must leave a weight whose gradient and state are zero unchanged: masked weights stay
    exactly zero. In place and without host sync: a CUDA graph captures it.
    """

    init: Callable[[torch.Tensor], dict[str, torch.Tensor]]
    update: Callable[..., None]


def _sgd(p, g, state, mp, lr):
    p.sub_(_per_trial(lr, p) * g)


def _momentum(p, g, state, mp, lr, nesterov=False):
    """torch.optim.SGD with momentum (dampening 0)."""
    mu = _per_trial(mp["momentum"], p)
    buf = state["momentum_buffer"].mul_(mu).add_(g)
    p.sub_(_per_trial(lr, p) * (g + mu * buf if nesterov else buf))


def _momentum_buffer(p):
    return {"momentum_buffer": torch.zeros_like(p)}


ADAM_BETA2 = 0.999  # fixed, as in Shallue et al.'s Adam studies (and torch's default)


def _adam(p, g, state, mp, lr):
    """torch.optim.Adam (no weight decay, no amsgrad), per trial: beta1 and epsilon searched.
    A masked weight's moments stay exactly zero, so its update is 0 / (0 + eps) = 0."""
    beta1, eps = _per_trial(mp["beta1"], p), _per_trial(mp["epsilon"], p)
    step = state["step"].add_(1)
    state["exp_avg"].lerp_(g, 1 - beta1)
    state["exp_avg_sq"].mul_(ADAM_BETA2).addcmul_(g, g, value=1 - ADAM_BETA2)
    bias1, bias2 = 1 - beta1**step, 1 - ADAM_BETA2**step
    denom = (state["exp_avg_sq"].sqrt() / bias2.sqrt()).add_(eps)
    p.sub_(_per_trial(lr, p) / bias1 * state["exp_avg"] / denom)


def _adam_state(p):
    """The moments, and the step count per trial (shaped to broadcast, as every buffer has the trial axis)."""
    step = torch.zeros((p.shape[0],) + (1,) * (p.dim() - 1), dtype=p.dtype, device=p.device)
    return {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p), "step": step}


OPTIMIZERS = {
    "sgd": Optimizer(lambda p: {}, _sgd),
    "momentum": Optimizer(_momentum_buffer, _momentum),
    "nesterov": Optimizer(_momentum_buffer, functools.partial(_momentum, nesterov=True)),
    "adam": Optimizer(_adam_state, _adam),
}


def _linear_decay(mp, step):
    """Polynomial decay of power 1 from lr to lr * end_factor over decay_steps steps, then constant.
    (step times the reciprocal: what int / tensor computed when step was a Python int.)"""
    frac = (1 - step * mp["decay_steps"].reciprocal()).clamp(min=0)
    return mp["learning_rate"] * (mp["end_factor"] + (1 - mp["end_factor"]) * frac)


# schedule of registry.SCHEDULES -> the learning rates [T] at a step tensor
SCHEDULES = {
    "constant": lambda mp, step: mp["learning_rate"],
    "linear_decay": _linear_decay,
}


def required_metaparameters(settings: StudySettings) -> set[str]:
    return set(registry.searched(settings.optimizer, settings.schedule))


def max_errors(goal_error: float, n_val: int) -> int:
    """Largest error count e with e / n_val <= goal_error: the goal is met iff errors <= this."""
    bound = math.floor(goal_error * n_val) + 1
    while bound / n_val > goal_error:
        bound -= 1
    return bound


def goal_bounds(settings: StudySettings, data) -> list[int]:
    """The most validation errors that meet each goal of ``settings.goal_errors``."""
    return [max_errors(goal, len(data["val_x"])) for goal in settings.goal_errors]


def count_errors(
    network: Network, params, buffers, val_x, val_y, bound, chunk: int, early_exit: bool, loop: bool = False, wrong=None
):
    """Validation errors per trial, counted chunk by chunk over the whole validation set.

    With ``early_exit`` a trial stops being counted once its count exceeds its ``bound`` (an
    int, or one per trial): its goal decision is already known (not met), so decisions equal
    those of a full count. ``wrong`` ([T, n_val] bool, or None), updated in place, marks the
    examples each trial got wrong when they were last counted; each trial counts those first,
    so that a count that will pass its bound passes it after a few hundred examples rather than
    most of the set. The order changes no full count, so no decision. Returns (errors,
    examples_counted) as CPU int64 tensors.
    """
    trials = next(iter(params.values())).shape[0]
    device = val_x.device
    bound = torch.as_tensor(bound, device=device).expand(trials)
    errors = torch.zeros(trials, dtype=torch.long, device=device)
    seen = torch.zeros(trials, dtype=torch.long, device=device)
    live = torch.arange(trials, device=device)
    # stable: the examples wrong last time, then the others, each in the set's order
    order = None if wrong is None else torch.sort((~wrong).to(torch.uint8), dim=1, stable=True).indices
    sub, sub_buffers = params, buffers
    with torch.no_grad():
        for start in range(0, len(val_x), chunk):
            if order is None:
                x, y = val_x[start : start + chunk], val_y[start : start + chunk]
            else:
                examples = order[live, start : start + chunk]
                x, y = val_x[examples], val_y[examples]
            missed = network.logits(sub, sub_buffers, x, shared=order is None, loop=loop, train=False).argmax(-1) != y
            errors[live] += missed.sum(1)
            seen[live] += missed.shape[1]
            if order is not None:
                wrong[live.unsqueeze(1), examples] = missed
            if early_exit:
                under = errors[live] <= bound[live]
                if not bool(under.all()):
                    live = live[under]
                    if len(live) == 0:
                        break
                    sub = {k: v[live] for k, v in params.items()}
                    sub_buffers = {k: v[live] for k, v in buffers.items()}
    return errors.cpu(), seen.cpu()


@dataclass
class GroupState:
    """The trials trained together and all that changes as they train (what a checkpoint
    saves). Tensors carry the trial axis first."""

    trials: list[int]
    params: dict[str, torch.Tensor]  # leaves requiring grad
    buffers: dict[str, torch.Tensor]  # updated in place by training steps (BatchNorm's running statistics)
    masks: dict[str, torch.Tensor]  # bool, only the tensors that some trial prunes
    metaparameters: dict[str, torch.Tensor]  # name -> [T]
    optimizer_state: dict[str, dict[str, torch.Tensor]]  # parameter name -> its buffers
    generators: list[torch.Generator]  # each trial's data order (on the CPU, so the same on every device)
    order: torch.Tensor | None  # [T, n_train]: this epoch's examples in each trial's order
    position: int  # examples of this epoch already used
    step: int  # steps taken
    loss_sum: torch.Tensor  # [T] finite training losses since the last evaluation
    since_eval: int  # steps since the last evaluation
    diverged_at: torch.Tensor  # [T] long: the step (from 0) of the first non-finite loss, -1 if none
    val_wrong: torch.Tensor  # [T, n_val] bool: examples missed at their last count (see count_errors)

    def keep(self, rows: list[int]) -> None:
        """Keep only the trials at ``rows``."""
        idx = torch.tensor(rows, dtype=torch.long, device=self.loss_sum.device)
        self.trials = [self.trials[i] for i in rows]
        self.generators = [self.generators[i] for i in rows]
        self.params = {k: v.detach()[idx].requires_grad_() for k, v in self.params.items()}
        self.buffers = {k: v[idx] for k, v in self.buffers.items()}
        self.masks = {k: v[idx] for k, v in self.masks.items()}
        self.metaparameters = {k: v[idx] for k, v in self.metaparameters.items()}
        self.optimizer_state = {k: {b: v[idx] for b, v in s.items()} for k, s in self.optimizer_state.items()}
        self.order = None if self.order is None else self.order[idx]
        self.loss_sum, self.diverged_at = self.loss_sum[idx], self.diverged_at[idx]
        self.val_wrong = self.val_wrong[idx]


def new_group(specs, settings: StudySettings, device, n_train: int, n_val: int) -> GroupState:
    required = required_metaparameters(settings)
    for spec in specs:
        if spec.metaparameters.keys() != required:
            raise ValueError(
                f"trial {spec.trial}: metaparameters {sorted(spec.metaparameters)}, expected {sorted(required)}"
            )
        if spec.metaparameters.get("decay_steps", 1) < 1:
            raise ValueError(f"trial {spec.trial}: decay_steps must be at least 1")
    masks = {
        k: torch.cat([s.masks[k] for s in specs]).to(device)
        for k in specs[0].masks
        if not all(bool(s.masks[k].all()) for s in specs)
    }
    params = {}
    for k in specs[0].params:
        p = torch.cat([s.params[k] for s in specs]).to(device)
        if k in masks:
            p = torch.where(masks[k], p, torch.zeros((), device=device))
        params[k] = p.requires_grad_()
    real = dict(device=device, dtype=next(iter(params.values())).dtype)
    init = OPTIMIZERS[settings.optimizer].init
    return GroupState(
        trials=[s.trial for s in specs],
        params=params,
        buffers={k: torch.cat([s.buffers[k] for s in specs]).to(device) for k in specs[0].buffers},
        masks=masks,
        metaparameters={
            name: torch.tensor([s.metaparameters[name] for s in specs], **real) for name in sorted(required)
        },
        optimizer_state={k: init(p) for k, p in params.items()},
        generators=[torch.Generator().manual_seed(derived_seed(s.data_seed, "data-order")) for s in specs],
        order=None,
        position=n_train,  # an epoch starts at the first step
        step=0,
        loss_sum=torch.zeros(len(specs), **real),
        since_eval=0,
        diverged_at=torch.full((len(specs),), -1, dtype=torch.long, device=device),
        val_wrong=torch.zeros(len(specs), n_val, dtype=torch.bool, device=device),
    )


def train_step(
    state: GroupState,
    settings: StudySettings,
    network: Network,
    data,
    batch: torch.Tensor,
    step: torch.Tensor,
    loop: bool,
):
    """One step of every trial of ``state`` on its examples ``batch`` ([T, B] indices); ``step``
    (a 0-dim long tensor) is state.step. Tensors only, updated in place, no host sync: a CUDA
    graph can capture it."""
    logits = network.logits(state.params, state.buffers, data["train_x"][batch], loop=loop)
    losses = F.cross_entropy(logits.flatten(0, 1), data["train_y"][batch].flatten(), reduction="none")
    losses = losses.view(len(state.trials), -1).mean(1)
    grads = torch.autograd.grad(losses.sum(), list(state.params.values()))
    lr = SCHEDULES[settings.schedule](state.metaparameters, step)
    update = OPTIMIZERS[settings.optimizer].update
    with torch.no_grad():
        for (k, p), g in zip(state.params.items(), grads):
            if k in state.masks:  # where, not multiply: NaN * 0 is NaN
                g = torch.where(state.masks[k], g, torch.zeros((), device=g.device))
            update(p, g, state.optimizer_state[k], state.metaparameters, lr)
        bad = ~torch.isfinite(losses)
        state.diverged_at.copy_(torch.where((state.diverged_at < 0) & bad, step, state.diverged_at))
        state.loss_sum += torch.where(bad, 0.0, losses)


def _step_runner(state: GroupState, settings: StudySettings, network: Network, data, loop: bool, graph: bool):
    """train_step as a function of (batch, step as an int): run as it is, or by replaying a CUDA
    graph captured over static inputs. The graph updates the state's tensors themselves, so it
    must be captured anew whenever they are replaced (trials dropped)."""
    device = state.loss_sum.device
    step_input = torch.zeros((), dtype=torch.long, device=device)
    if not graph:

        def run(batch, step: int):
            train_step(state, settings, network, data, batch, step_input.fill_(step), loop)

        return run
    batch_input = torch.zeros((len(state.trials), settings.batch_size), dtype=torch.long, device=device)
    # Warm up on a side stream before capture (torch.cuda.graphs' rule), then undo the warm-up's updates.
    updated = [*state.params.values(), *state.buffers.values()]
    updated += [b for s in state.optimizer_state.values() for b in s.values()]
    updated += [state.loss_sum, state.diverged_at]
    before = [t.detach().clone() for t in updated]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            train_step(state, settings, network, data, batch_input, step_input, loop)
    torch.cuda.current_stream().wait_stream(side)
    with torch.no_grad():
        for t, value in zip(updated, before):
            t.copy_(value)
    captured = torch.cuda.CUDAGraph()
    with torch.cuda.graph(captured, stream=side):  # the warm-up's stream: its library handles are set up
        train_step(state, settings, network, data, batch_input, step_input, loop)

    def replay(batch, step: int):
        batch_input.copy_(batch)
        step_input.fill_(step)
        captured.replay()

    return replay


@dataclass
class Evaluation:
    """One group's trials at an evaluation step, row by row."""

    diverged_at: list[int]  # see GroupState.diverged_at
    mean_loss: list[float]  # mean finite training loss since the last evaluation
    errors: list[int]  # validation errors counted (0 for a diverged trial: not counted)
    seen: list[int]  # validation examples counted
    done: list[bool]  # every goal reached (healthy, errors within the tightest bound)


def evaluate(
    state: GroupState, settings: StudySettings, network: Network, data, outcomes: dict, loop: bool
) -> Evaluation:
    """Count the validation errors of the trials of ``state`` at this step.

    A trial's errors are counted against the bound of the loosest goal it has not reached yet,
    which decides all its open goals: a count that passes it meets none of them, a full count
    decides all. (Against the loosest goal of all, a trial past it would be counted in full at
    every check: most of the work at small batch sizes.)
    """
    diverged_at = state.diverged_at.tolist()
    mean_loss = (state.loss_sum / state.since_eval).tolist()
    state.loss_sum.zero_()
    state.since_eval = 0
    bounds = goal_bounds(settings, data)
    open_bound = [
        max(b for b, steps in zip(bounds, outcomes[trial].steps_to_result) if steps is None) for trial in state.trials
    ]
    healthy = [i for i, d in enumerate(diverged_at) if d < 0]
    errors, seen = torch.zeros(len(state.trials), dtype=torch.long), torch.zeros(len(state.trials), dtype=torch.long)
    if healthy:
        everyone = len(healthy) == len(state.trials)
        params = state.params if everyone else {k: v[healthy] for k, v in state.params.items()}
        buffers = state.buffers if everyone else {k: v[healthy] for k, v in state.buffers.items()}
        wrong = state.val_wrong[healthy]  # a copy, written back below
        e, s = count_errors(
            network,
            params,
            buffers,
            data["val_x"],
            data["val_y"],
            [open_bound[i] for i in healthy],
            settings.eval_chunk,
            settings.early_exit,
            loop,
            wrong,
        )
        errors[healthy], seen[healthy] = e, s
        state.val_wrong[healthy] = wrong
    errors, seen = errors.tolist(), seen.tolist()
    done = [diverged_at[i] < 0 and errors[i] <= min(bounds) for i in range(len(state.trials))]
    return Evaluation(diverged_at, mean_loss, errors, seen, done)


def decide(state: GroupState, counted: Evaluation, settings: StudySettings, data, outcomes: dict, race_over: list):
    """Record the fate of every trial of ``state`` at this step in ``outcomes`` (``race_over``,
    per trial: a trial of its race group has reached every goal, so it is pruned unless it has
    too); return the rows of the trials that train on."""
    step = state.step
    bounds = goal_bounds(settings, data)
    rows = []
    for i, trial in enumerate(state.trials):
        out = outcomes[trial]
        out.steps_trained = step
        if counted.diverged_at[i] >= 0:
            out.diverged_at_step = counted.diverged_at[i] + 1
            _finish(out, INFEASIBLE)
            continue
        out.curve["step"].append(step)
        out.curve["val_errors"].append(counted.errors[i])
        out.curve["val_examples"].append(counted.seen[i])
        out.curve["train_loss"].append(counted.mean_loss[i])
        for j, bound in enumerate(bounds):
            if out.steps_to_result[j] is None and counted.errors[i] <= bound:
                out.status[j], out.steps_to_result[j] = COMPLETE, step
        if counted.done[i]:  # every goal is reached now
            continue
        if race_over[i]:
            _finish(out, PRUNED)
        elif step >= settings.budget_steps:
            _finish(out, INCOMPLETE)
        else:
            rows.append(i)
    return rows


def _finish(out: TrialOutcome, status: str) -> None:
    """A stopped trial: ``status`` for every goal it has not reached."""
    out.status = [COMPLETE if steps is not None else status for steps in out.steps_to_result]


def _epoch_order(generators, n_train: int, device) -> torch.Tensor:
    """Each trial's order of the training examples for a new epoch, drawn from its CPU generator
    (the same order on every device); on CUDA copied from pinned memory without waiting."""
    order = torch.stack([torch.randperm(n_train, generator=g) for g in generators])
    if torch.device(device).type == "cuda":
        return order.pin_memory().to(device, non_blocking=True)
    return order.to(device)


def float32_precision(tf32: bool = False) -> None:
    """Full float32 on CUDA, no TF32: matrix products and cuDNN convolutions in IEEE float32
    (cuDNN's default allows TF32). A trial's trajectory then differs between devices only by
    summation order, as between CPUs, not by TF32's 10-bit mantissa, which can move a trial
    across a goal's boundary and so change steps-to-result. The price: slower convolutions on
    Ampere and later. ``tf32`` allows TF32 instead (benchmarks only: what it would gain)."""
    if hasattr(torch.backends.cudnn, "conv"):  # torch >= 2.9, which refuses a mix with the older flags
        torch.backends.cuda.matmul.fp32_precision = "tf32" if tf32 else "ieee"
        torch.backends.cudnn.conv.fp32_precision = "tf32" if tf32 else "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def race_group_of(trial: int, settings: StudySettings) -> int:
    """The race group of trial number ``trial`` (all trials given are one group without race_group)."""
    return trial // settings.race_group if settings.race_group else 0


def train_study(
    specs,
    data,
    settings: StudySettings,
    network: Network,
    device="cpu",
    final_params=None,
    checkpoint=None,
    race_bounds=None,
):
    """Train the trials ``specs`` of one study of ``network``; returns a TrialOutcome per trial,
    in order.

    ``final_params``, if a dict, receives each trial's parameters and buffers ([1, ...], on the
    CPU) as they were when it stopped.

    The trials train in groups of ``settings.max_group``, in lockstep: every group takes each
    step, and all are evaluated at the same steps, so a race ends for every trial of a race group
    at the first step at which one of that race group reaches every goal, however the trials are
    grouped.

    ``checkpoint`` (a checkpoint.Checkpoint) saves the loop's state at intervals, and a run
    that finds its own checkpoint resumes from it.

    ``race_bounds`` (race mode): race group -> the evaluation step at which recorded trials of
    that group, not among ``specs``, ended its race; the group's trials here stop there.
    """
    n_train, batch = len(data["train_x"]), settings.batch_size
    if not settings.goal_errors:
        raise ValueError("no goal errors")
    if batch > n_train:
        raise ValueError(f"batch size {batch} exceeds the {n_train} training examples")
    cuda = torch.device(device).type == "cuda"
    if cuda:
        float32_precision()
    loop = settings.loop_trials if settings.loop_trials is not None else not cuda
    outcomes = {}
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        groups = checkpoint.restore(saved, outcomes, final_params, device)
    else:
        goals = len(settings.goal_errors)
        outcomes = {s.trial: TrialOutcome(s.trial, [INCOMPLETE] * goals, [None] * goals) for s in specs}
        size = settings.max_group or len(specs)
        n_val = len(data["val_x"])
        groups = [new_group(specs[i : i + size], settings, device, n_train, n_val) for i in range(0, len(specs), size)]
    # One captured graph per group would hold each group's activations in its own memory pool:
    # graphs only for a study trained as one group (small batches, where launches cost most).
    graph = cuda and settings.cuda_graph and len(groups) == 1
    runs = [None] * len(groups)  # each group's step (captured anew when its tensors are replaced)
    while groups:
        if checkpoint is not None and checkpoint.due(groups[0].step):
            checkpoint.save(groups, outcomes, final_params)
        for i, state in enumerate(groups):
            if state.position + batch > n_train:  # new epoch: a fresh permutation per trial, remainder dropped
                state.order = _epoch_order(state.generators, n_train, device)
                state.position = 0
            if runs[i] is None:
                runs[i] = _step_runner(state, settings, network, data, loop, graph)
            runs[i](state.order[:, state.position : state.position + batch], state.step)
            state.position += batch
            state.step += 1
            state.since_eval += 1
        step = groups[0].step
        if step % settings.eval_every and step < settings.budget_steps:
            continue
        counted = [evaluate(state, settings, network, data, outcomes, loop) for state in groups]
        over = set()  # race groups whose race ends at this step
        if settings.mode == "race":
            over = {g for g, bound in (race_bounds or {}).items() if step >= bound}
            over |= {race_group_of(t, settings) for s, c in zip(groups, counted) for t, d in zip(s.trials, c.done) if d}
        for i, (state, c) in enumerate(zip(groups, counted)):
            rows = decide(
                state, c, settings, data, outcomes, [race_group_of(t, settings) in over for t in state.trials]
            )
            if len(rows) < len(state.trials):
                if final_params is not None:
                    for row, trial in enumerate(state.trials):
                        if row not in rows:
                            tensors = {**state.params, **state.buffers}
                            final_params[trial] = {k: v[row : row + 1].detach().cpu() for k, v in tensors.items()}
                state.keep(rows)
                runs[i] = None  # a captured graph holds the tensors just replaced
        runs = [run for run, state in zip(runs, groups) if state.trials]
        groups = [state for state in groups if state.trials]
    return [outcomes[s.trial] for s in specs]
