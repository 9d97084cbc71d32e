# Parse-time helpers: config validation, paths and input functions. No torch here.
# Jobs import the sparsedp package from this checkout's src/ (workflow/scripts/src_path.py).
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from sparsedp import config as cfg  # noqa: E402

cfg.validate(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")

N_TRIALS = config["search"]["n_trials"]
PACK_SIZE = config["training"]["pack_size"]
PACK_DIGITS = len(str(PACK_SIZE)) - 1  # trial digits that vary inside a pack
STUDY = "{workload}/sparsity{sparsity}/batch{batch}"
TRIAL_FILE = f"results/trials/{STUDY}/trial{{trial}}.json"
MASK_FILE = "results/masks/{dataset}/{model}/sparsity{sparsity}/seed{seed}.pt"
NOISE_FILE = "results/noise/{dataset}/{model}/sparsity{sparsity}.json"


wildcard_constraints:
    workload=r"[a-z][a-z0-9_]*",
    sparsity=r"[0-9]+(\.[0-9]+)?",
    batch=r"[0-9]+",
    trial=r"[0-9]{%d}" % cfg.TRIAL_DIGITS,
    chunk=r"[0-9]{%d}" % (cfg.TRIAL_DIGITS - PACK_DIGITS),
    seed=r"[0-9]{%d}" % cfg.TRIAL_DIGITS,
    dataset=r"[a-z0-9]+",
    model=r"[a-z0-9_]+",
    figure=r"fig[0-9]+_[a-z0-9]+",


def study_trial_files(study):
    return [
        TRIAL_FILE.format(
            workload=study.workload,
            sparsity=cfg.sparsity_label(study.sparsity),
            batch=study.batch_size,
            trial=cfg.trial_name(k),
        )
        for k in range(N_TRIALS)
    ]


def study_file(study):
    return f"results/studies/{study.path}.json"


def pack_member(j):
    """The trial-name digits of a pack's j-th trial (none when a pack is a single trial)."""
    return f"{j:0{PACK_DIGITS}d}" if PACK_DIGITS else ""


def chunk_trials(chunk):
    """Trial names of a pack (those below n_trials)."""
    names = [chunk + pack_member(j) for j in range(PACK_SIZE)]
    return [t for t in names if int(t) < N_TRIALS]


def training_inputs(wildcards, chunk):
    """The same inputs for a pack and for each of its trials trained alone: Snakemake then
    sees no change of inputs whichever of the two rules made a trial file."""
    spec = config["workloads"][wildcards.workload]
    return {
        "data": f"results/data/{spec['dataset']}.npz",
        "masks": [
            MASK_FILE.format(
                dataset=spec["dataset"],
                model=spec["model"],
                sparsity=wildcards.sparsity,
                seed=t,
            )
            for t in chunk_trials(chunk)
        ],
    }


def pack_inputs(wildcards):
    """Inputs of a whole pack, or an unbuildable file when the pack is partly present or
    reaches past n_trials: Snakemake then builds its missing trials one by one instead
    (rule train_trial), so a lost trial is retrained alone."""
    trials = chunk_trials(wildcards.chunk)
    files = [TRIAL_FILE.format(trial=t, **wildcards) for t in trials]
    present = [os.path.exists(f) for f in files]
    if len(trials) < PACK_SIZE or (any(present) and not all(present)):
        return {"unavailable": "results/.pack-not-applicable"}
    return training_inputs(wildcards, wildcards.chunk)


def trial_inputs(wildcards):
    return training_inputs(wildcards, wildcards.trial[: cfg.TRIAL_DIGITS - PACK_DIGITS])


def workload_params(wildcards):
    return config["workloads"][wildcards.workload]


def wildcard_study(wildcards):
    return cfg.Study(
        wildcards.workload,
        cfg.sparsity_from_label(wildcards.sparsity),
        int(wildcards.batch),
    )


def study_mode(wildcards):
    """census for the studies a trial-level figure shows (every trial's true status), else the
    workload's mode."""
    return cfg.study_mode(config, wildcard_study(wildcards))


def study_inputs(wildcards):
    return study_trial_files(wildcard_study(wildcards))


def figure_table_kind(wildcards):
    """Trial-level figures plot every trial of chosen studies, the others each study's best."""
    return "trials" if wildcards.figure in cfg.TRIAL_FIGURES else "studies"


def figure_inputs(wildcards):
    """A figure's table; study-level figures (steps against batch size) also mark each curve's
    critical batch size."""
    inputs = {"table": f"results/tables/{wildcards.figure}.csv"}
    if figure_table_kind(wildcards) == "studies":
        inputs["critical"] = "results/tables/critical_batch.csv"
    return inputs


FIGURE_TITLES = {
    "fig1_mnist": "Figure 1: steps-to-result, MNIST",
    "fig2_mnist": "Figure 2: optimizers compared, MNIST",
    "fig3_cifar": "Figure 3: steps-to-result, CIFAR-10",
    "fig4_mnist": "Figure 4: every trial, MNIST Momentum",
    "fig5_cifar": "Figure 5: every trial, CIFAR-10",
}


# One report label per result: the report turns a second label whose two values split a
# subcategory in halves into a toggle, which breaks the page of a subcategory of two results.
def figure_labels(wildcards):
    return {"figure": FIGURE_TITLES.get(wildcards.figure, wildcards.figure)}


def figure_subcategory(wildcards):
    if figure_table_kind(wildcards) == "trials":
        return "Every trial of chosen studies"
    return "Steps-to-result against batch size"


def figure_table_labels(wildcards):
    rows = (
        "every trial of the chosen studies"
        if figure_table_kind(wildcards) == "trials"
        else "the best trial per study"
    )
    return {"table": f"{wildcards.figure}.csv: {rows}"}


def figure_table_inputs(wildcards):
    """The chosen studies' reductions; for trial-level figures also their trials, each marked
    whether its study's reduction chose it as best."""
    chosen = cfg.figure_studies(config, wildcards.figure)
    inputs = {"studies": [study_file(s) for s in chosen]}
    if figure_table_kind(wildcards) == "trials":
        inputs["trials"] = [f for s in chosen for f in study_trial_files(s)]
    return inputs


def noise_inputs(wildcards):
    """The training split and the networks (masks + initialisations) of seeds 0..seeds-1."""
    return {
        "data": f"results/data/{wildcards.dataset}.npz",
        "masks": [
            MASK_FILE.format(seed=cfg.trial_name(k), **wildcards)
            for k in range(config["noise_scale"]["seeds"])
        ],
    }


def noise_files():
    """One noise-scale file per (dataset, network, sparsity) of any workload: optimizers share it."""
    networks = {
        (spec["dataset"], spec["model"], cfg.sparsity_label(s))
        for spec in config["workloads"].values()
        for s in spec["sparsities"]
    }
    return [NOISE_FILE.format(dataset=d, model=m, sparsity=s) for d, m, s in sorted(networks)]


def all_trial_files():
    return [f for s in cfg.studies(config) for f in study_trial_files(s)]


def all_targets():
    # Trial files are targets too: Snakemake (>= 7.7) does not rebuild a deleted intermediate
    # file while the files made from it are up to date, and a lost trial must be retrained.
    targets = all_trial_files()
    targets += [
        "results/tables/steps_to_result.csv",
        "results/tables/trials.csv",
        "results/tables/critical_batch.csv",
        "results/tables/noise_scale.csv",
        "results/figures/noise_scale.pdf",
        "results/figures/noise_scale.png",
        "results/tables/claims.csv",
    ]
    for figure in config["figures"]:
        targets += [f"results/figures/{figure}.pdf", f"results/figures/{figure}.png"]
    return targets
