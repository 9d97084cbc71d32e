"""The plain way: one trial at a time, nn.Module + torch.optim.SGD, the whole validation set
checked every eval_every steps (the reference code's structure), until the tightest goal. The
engine's yardstick for both speed (benchmarks/) and correctness (tests)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from .engine import StudySettings, TrialOutcome, TrialSpec, float32_precision, max_errors
from .models import Network, channels_last
from .results import COMPLETE, INCOMPLETE, INFEASIBLE
from .search import derived_seed


def trial_module(network: Network, spec: TrialSpec) -> torch.nn.Module:
    """The network's module holding trial ``spec``'s initial parameters and buffers."""
    module = copy.deepcopy(network.module).to(next(iter(spec.params.values())).dtype)
    module.load_state_dict({k: v[0].clone() for k, v in {**spec.params, **spec.buffers}.items()})
    return module


def train_plain(
    spec: TrialSpec, data, settings: StudySettings, network: Network, device="cpu"
) -> tuple[TrialOutcome, torch.nn.Module]:
    if settings.schedule != "constant":
        raise ValueError("the plain loop has the constant schedule only")
    if torch.device(device).type == "cuda":
        float32_precision()  # as the engine
    model = trial_module(network, spec).to(device)
    masks = {k: m[0].to(device) for k, m in spec.masks.items() if not bool(m.all())}
    params = dict(model.named_parameters())
    with torch.no_grad():
        for k, m in masks.items():
            params[k].mul_(m)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=spec.metaparameters["learning_rate"],
        momentum=spec.metaparameters.get("momentum", 0.0),
        nesterov=settings.optimizer == "nesterov",
    )
    gen = torch.Generator().manual_seed(derived_seed(spec.data_seed, "data-order"))
    n, batch = len(data["train_x"]), settings.batch_size
    bounds = [max_errors(goal, len(data["val_x"])) for goal in settings.goal_errors]
    out = TrialOutcome(spec.trial, [INCOMPLETE] * len(bounds), [None] * len(bounds))
    pos, perm = n, None
    for step in range(1, settings.budget_steps + 1):
        if pos + batch > n:
            perm, pos = torch.randperm(n, generator=gen).to(device), 0
        idx = perm[pos : pos + batch]
        pos += batch
        model.train()
        loss = F.cross_entropy(model(channels_last(data["train_x"][idx])), data["train_y"][idx])
        opt.zero_grad()
        loss.backward()
        for k, m in masks.items():
            params[k].grad.mul_(m)
        opt.step()
        out.steps_trained = step
        if not torch.isfinite(loss):
            out.diverged_at_step = step
            out.status = [COMPLETE if s is not None else INFEASIBLE for s in out.steps_to_result]
            return out, model
        if step % settings.eval_every == 0 or step == settings.budget_steps:
            model.eval()
            with torch.no_grad():
                errors = sum(
                    int(
                        (
                            model(channels_last(data["val_x"][i : i + settings.eval_chunk])).argmax(1)
                            != data["val_y"][i : i + settings.eval_chunk]
                        ).sum()
                    )
                    for i in range(0, len(data["val_x"]), settings.eval_chunk)
                )
            out.curve["step"].append(step)
            out.curve["val_errors"].append(errors)
            for j, bound in enumerate(bounds):
                if out.steps_to_result[j] is None and errors <= bound:
                    out.status[j], out.steps_to_result[j] = COMPLETE, step
            if errors <= min(bounds):
                return out, model
    return out, model
