"""Experiments never mix and nothing is retrained for nothing, shown through the `snakemake`
command on copies of one finished tiny run: what reruns a result, what never does, and what is
refused (records of other settings, corrupt or unsafe files, collapsed layers)."""

import copy
import json
import os
import pickle
import re
from pathlib import Path

import pytest
import torch

from conftest import REPO, copy_run, results, snakemake, tiny_config

# the jobs that compute results
TRAINING = {"train_pack", "train_trial", "prune_pack", "prune_mask", "dataset", "noise_scale"}


def dry_run(workdir, config, *args) -> tuple[dict[str, int], str]:
    """Snakemake's job counts of a dry run ({} when nothing is to be done) and its output."""
    proc = snakemake(workdir, config, "-n", *args)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}, out
    table = out.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}, out


def planned_outputs(out: str, rule: str) -> list[str]:
    """The output files of every job of ``rule`` in a dry run's listing."""
    files, current = [], None
    for line in out.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):$", line):
            current = m[1]
        elif current == rule and line.startswith("    output: "):
            files += line.removeprefix("    output: ").split(", ")
    return sorted(files)


def files(tree: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


def reproducible(tree: Path) -> dict:
    """What two runs making the same results agree on: every file of ``tree`` but the tables'
    pages, each note beside a result without its provenance (when, where, at which commit)."""
    found = {}
    for name, content in files(tree).items():
        if name.endswith((".html", ".html.made")):
            continue
        if name.endswith(".made"):
            content = {key: value for key, value in json.loads(content).items() if key != "provenance"}
        found[name] = content
    return found


def tmp_cache(tmp_path) -> str:
    """The same data cache reached by another path."""
    link = tmp_path / "cache-link"
    link.symlink_to(Path(tiny_config()["data"]["cache"]).resolve())
    return str(link)


# Keys that cannot change any result: after a finished run, changing one plans no job at all.
OPERATIONAL = {
    "training.threads": 2,
    "training.checkpoint_every": 100,
    "training.eval_chunk": 1000,
    "training.pack_size": 1,
    "training.group_examples": 64,
    "training.early_exit": False,
    "device": "auto",
    "data.sources": ["npm", "local"],
    "data.cache": tmp_cache,
    "data.local_dir": lambda tmp_path: str(tmp_path),
    "search.decay_steps": {"low": 1, "high": 2},  # not searched by a constant schedule
    "search.end_factor": {"low": 0.5, "high": 0.6},
}


def _set(config, dotted, value):
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node[key]
    node[last] = value


@pytest.mark.parametrize("key", OPERATIONAL)
def test_an_operational_key_reruns_nothing(tiny_run, tmp_path, key):
    workdir, config = tiny_run
    config = copy.deepcopy(config)
    value = OPERATIONAL[key]
    _set(config, key, value(tmp_path) if callable(value) else value)
    counts, out = dry_run(workdir, config)
    assert counts == {}, out[-3000:]


def test_more_trials_train_only_the_new_trials_and_masks(tiny_run):
    workdir, config = tiny_run
    config = copy.deepcopy(config)
    config["search"]["n_trials"] = 20
    counts, out = dry_run(workdir, config)
    assert counts["prune_pack"] == 2 and "prune_mask" not in counts  # seeds 10-19 of both sparsities
    masks = planned_outputs(out, "prune_pack")
    assert len(masks) == 2 * 10 * 2 and all(re.search(r"/seed01\d\.(pt|json)$", f) for f in masks)
    assert counts["train_pack"] == 4 and "train_trial" not in counts  # one new pack per study
    trained = planned_outputs(out, "train_pack")
    assert len(trained) == 40 and all(re.search(r"trial01\d\.json$", f) for f in trained)


def test_adding_or_dropping_a_batch_size_touches_only_those_studies(tiny_run):
    workdir, config = tiny_run
    config = copy.deepcopy(config)
    config["workloads"]["mnist_momentum"]["batch_sizes"] = [32, 64, 128]
    counts, out = dry_run(workdir, config)
    assert counts["train_pack"] == 2 and not {"prune_pack", "prune_mask"} & set(counts)  # batch 128, both sparsities
    assert all("/batch128/" in f for f in planned_outputs(out, "train_pack"))
    config["workloads"]["mnist_momentum"]["batch_sizes"] = [32]
    counts, _ = dry_run(workdir, config)
    assert not set(counts) & TRAINING and counts["steps_to_result_table"] == 1


def test_two_experiments_in_one_directory_leave_each_other_untouched(tiny_run, tmp_path):
    workdir = copy_run(tiny_run[0], tmp_path / "run")
    first = results(workdir, tiny_run[1])
    before = files(first)
    other = tiny_config()
    other["experiment"] = "other"
    other["search"]["n_trials"] = 2
    other["training"]["pack_size"] = 1
    other["workloads"]["mnist_momentum"].update(goal_errors=[0.6], sparsities=[0.9], batch_sizes=[64])
    other["figures"]["fig4_mnist"]["studies"] = [[0.9, 64]]
    snakemake(workdir, other, "--cores", "2")
    assert files(first) == before
    assert (workdir / "results/other/tables/steps_to_result.csv").exists()
    assert sorted(p.name for p in (workdir / "results").iterdir()) == ["other", "tiny"]
    counts, _ = dry_run(workdir, tiny_run[1])  # and the first experiment is still up to date
    assert counts == {}


def dry_run_with(repo, workdir, config):
    return dry_run(workdir, config, "-s", str(repo / "Snakefile"))[0]


def test_science_code_changes_rerun_training_and_wrapper_changes_never_do(tiny_run, tmp_path, repo_copy):
    workdir = copy_run(tiny_run[0], tmp_path / "run")
    config = tiny_run[1]
    assert dry_run_with(repo_copy, workdir, config) == {}
    # A change of the analysis code redoes the studies, tables and figures, and trains nothing.
    plots = repo_copy / "src/sparsedp/plots.py"
    plots.write_text(plots.read_text().replace("def _style(", "EDITED = True\n\n\ndef _style(", 1))
    counts = dry_run_with(repo_copy, workdir, config)
    assert {"reduce_study", "critical_batch_table", "claims_table", "figure", "noise_scale_figure"} <= set(counts)
    assert not set(counts) & TRAINING
    # Touching or editing the job command, the wrappers and the table/figure scripts trains nothing.
    for path in [*(repo_copy / "workflow/scripts").glob("*.py"), repo_copy / "src/sparsedp/jobs.py"]:
        path.write_text(path.read_text() + "\n# edited\n")
    assert not set(dry_run_with(repo_copy, workdir, config)) & TRAINING
    # A comment or docstring in the engine is not code either.
    engine = repo_copy / "src/sparsedp/engine.py"
    engine.write_text(engine.read_text().replace('"""Training engine', '"""The training engine', 1) + "# why\n")
    assert not set(dry_run_with(repo_copy, workdir, config)) & TRAINING
    # Nor is code no trial runs: a result's code is the functions it calls (identity.code_version).
    engine.write_text(engine.read_text().replace("def max_errors(", "UNUSED = True\n\n\ndef max_errors(", 1))
    assert not set(dry_run_with(repo_copy, workdir, config)) & TRAINING
    # A change of the evaluation code retrains every study, and only trains: masks stay.
    engine.write_text(
        engine.read_text().replace(
            "bound = math.floor(goal_error * n_val) + 1", "bound = 1 + math.floor(goal_error * n_val)", 1
        )
    )
    counts = dry_run_with(repo_copy, workdir, config)
    assert counts["train_pack"] == 4 and not {"prune_pack", "prune_mask", "dataset", "noise_scale"} & set(counts)


def _refused(proc, *needles):
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0, message[-2000:]
    for needle in needles:
        assert needle in message, (needle, message[-3000:])


def _copy(tiny_run, tmp_path):
    """A copy of the finished tiny run: its folder, config and results tree."""
    workdir = copy_run(tiny_run[0], tmp_path / "run")
    return workdir, tiny_run[1], results(workdir, tiny_run[1])


def test_a_truncated_mask_is_named_and_rebuilt_and_costs_no_valid_trial(tiny_run, tmp_path):
    workdir, config, out = _copy(tiny_run, tmp_path)
    mask = out / "masks/snip/mnist/simple_cnn/sparsity90/seed007.pt"
    before = torch.load(mask, weights_only=True)
    mask.write_bytes(mask.read_bytes()[:1000])
    assert dry_run(workdir, config)[0] == {}  # a damaged mask alone triggers nothing
    lost = out / "trials/mnist_momentum/snip/sparsity90/batch64/trial007.json"
    lost.unlink()  # a trial lost: retraining it needs the mask
    trials = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("trials/**/*.json")}
    proc = snakemake(workdir, config, "--cores", "2", check=False)
    name = mask.relative_to(workdir)
    _refused(proc, f"{name}: cannot read this mask file", f"Rebuild it alone, keeping the results already made "
             f"from it: rm {name} && snakemake -s {REPO / 'Snakefile'} -d {workdir} --cores N --configfile=",
             f" {name}; then rerun")  # fmt: skip
    mask.unlink()  # as the message says: the mask alone, then the run
    snakemake(workdir, config, "--cores", "1", str(name))
    after = torch.load(mask, weights_only=True)  # rebuilt exactly from its seed
    assert after["identity"] == before["identity"]
    for part in ("params", "masks"):
        assert all(torch.equal(after[part][k], before[part][k]) for k in before[part])
    snakemake(workdir, config, "--cores", "2")
    assert lost.exists()
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in trials} == trials  # no other trial redone
    assert dry_run(workdir, config)[0] == {}


def test_a_truncated_data_split_is_named(tiny_run, tmp_path):
    workdir, config, out = _copy(tiny_run, tmp_path)
    npz = out / "data/mnist.npz"
    npz.write_bytes(npz.read_bytes()[:1000])
    (out / "trials/mnist_momentum/none/sparsity0/batch32/trial004.json").unlink()
    _refused(snakemake(workdir, config, "--cores", "2", check=False),
             f"{npz.relative_to(workdir)}: cannot read this prepared data split", "Rebuild it alone",
             f"snakemake -s {REPO / 'Snakefile'} -d {workdir} --cores N --configfile=")  # the command that was run  # fmt: skip


class Payload:
    """Runs a command when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_mask_holding_a_pickled_payload_is_refused_unrun(tiny_run, tmp_path):
    workdir, config, out = _copy(tiny_run, tmp_path)
    mask = out / "masks/none/mnist/simple_cnn/sparsity0/seed002.pt"
    saved = torch.load(mask, weights_only=True)
    marker = tmp_path / "pwned"
    saved["identity"] = {**saved["identity"], "payload": Payload(marker)}
    torch.save(saved, mask, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    (out / "trials/mnist_momentum/none/sparsity0/batch64/trial002.json").unlink()
    _refused(snakemake(workdir, config, "--cores", "2", check=False),
             f"{mask.relative_to(workdir)}: refused: it holds Python objects other than tensors")  # fmt: skip
    assert not marker.exists()


def test_colliding_sparsities_are_rejected_before_any_job(tmp_path):
    config = tiny_config()
    config["workloads"]["mnist_momentum"]["sparsities"] = [0.9, 0.9000001]
    _refused(snakemake(tmp_path, config, "-n", check=False),
             "config key 'workloads.mnist_momentum.sparsities': 0.9000001 has more than 5 decimals")  # fmt: skip
    assert not (tmp_path / "results").exists()


def collapse_config() -> dict:
    config = tiny_config()
    config["search"]["n_trials"] = 1
    config["training"]["pack_size"] = 1
    config["workloads"]["mnist_momentum"].update(sparsities=[0.999], batch_sizes=[64], budget_steps=16)
    config["figures"]["fig4_mnist"]["studies"] = [[0.999, 64]]
    config["noise_scale"]["seeds"] = 1
    return config


def test_a_mask_pruning_a_whole_layer_is_an_error_unless_allowed_and_then_flagged(tmp_path):
    config = collapse_config()
    mask = "results/tiny/masks/snip/mnist/simple_cnn/sparsity99.9/seed000.pt"
    _refused(snakemake(tmp_path, config, "--cores", "2", check=False),
             f"{mask}: at sparsity 0.999 snip prunes every weight of conv2.weight", "allow_layer_collapse: true")  # fmt: skip
    assert not (tmp_path / mask).exists()
    config["masks"]["allow_layer_collapse"] = True
    snakemake(tmp_path, config, "--cores", "2")
    trial = (tmp_path / "results/tiny/trials/mnist_momentum/snip/sparsity99.9/batch64/trial000.json").read_text()
    assert '"collapsed_layers": [\n  "conv2.weight"\n ]' in trial
    assert torch.load(tmp_path / mask, weights_only=True)["collapsed_layers"] == ["conv2.weight"]
