# Parse-time helpers: the experiment's results tree, identities, input functions. No torch here.
# The sparsedp package is this checkout's (REPO, set by workflow/Snakefile), as the jobs' are
# (workflow/scripts/src_path.py).
import functools
import hashlib
import inspect
import json
import os
import re
import shlex
import sys
from pathlib import Path

import sparsedp
from sparsedp import columns
from sparsedp import config as cfg
from sparsedp import identity
from sparsedp import provenance
from sparsedp import registry
from sparsedp import results

cfg.validate(config, REPO / "workflow/schemas/config.schema.yaml")
# Not a setting (the schema rejects it): the workflow's version, for the report, whose global
# page (workflow.rst) is given the config alone.
config["workflow_version"] = sparsedp.__version__


def _slurm_profile_problem(argv):
    """This repository's SLURM profile passes $SBATCH_ACCOUNT and $SBATCH_PARTITION to sbatch;
    unset, Snakemake would submit them literally. Said before any job, with the fix."""
    profiles = [b for a, b in zip(argv, argv[1:]) if a == "--profile"]
    ours = REPO / "slurm"
    if (
        not any(Path(p).resolve() == ours.resolve() for p in profiles)
        or "--default-resources" in argv
    ):
        return None
    unset = [v for v in ("SBATCH_ACCOUNT", "SBATCH_PARTITION") if not os.environ.get(v)]
    if unset:
        return (
            f"--profile slurm: {' and '.join(unset)} not set, and the profile passes them to sbatch "
            "(-A, -p). Set them (export SBATCH_ACCOUNT=myproject SBATCH_PARTITION=gpu), or give "
            "--default-resources slurm_account=... slurm_partition=... mem_mb=2000 runtime=30."
        )


if workflow.is_main_process and (problem := _slurm_profile_problem(sys.argv)):
    raise WorkflowError(problem)

EXPERIMENT = config["experiment"]
RESULTS = f"results/{EXPERIMENT}"  # everything of this experiment, and nothing else
LOGS = f"{RESULTS}/logs"
N_TRIALS = config["search"]["n_trials"]
PACK_SIZE = config["training"]["pack_size"]
PACK_DIGITS = len(str(PACK_SIZE)) - 1  # trial digits that vary inside a pack
STUDY = cfg.STUDY_PATH
DATA_FILE = f"{RESULTS}/data/{{dataset}}.npz"
# What the check of a model on a dataset found (jobs.network_facts): made before any mask of it.
NETWORK_FACTS = f"{RESULTS}/networks/{{dataset}}/{{model}}.json"
NETWORK = cfg.NETWORK_PATH
MASK_STAMP = f"{RESULTS}/{cfg.MASK_STAMP_PATH}"
MASK_FILE = MASK_STAMP.replace(".json", ".pt")
# A data split's or mask's stamp (its identity and content digest): what the rules using it take
# as input, so that only a change of its content reruns them (results.write_stamp).
DATA_STAMP = DATA_FILE.replace(".npz", ".json")
TRIAL_FILE = f"{RESULTS}/{cfg.TRIAL_PATH}"
STUDY_FILE = f"{RESULTS}/{cfg.STUDY_RECORD_PATH}"
NOISE_FILE = f"{RESULTS}/noise/{NETWORK}.json"
# Tracked param of the rules that make studies, tables and figures from trials: a change of
# the analysis code redoes them (seconds), never a training job.
ANALYSIS_CODE = identity.analysis_version(config)
TABLES = f"{RESULTS}/tables"
# Tracked param of the tables' rules: a change of their pages' code redoes the tables (seconds).
PAGE_CODE = identity.page_version()
FIGURES = f"{RESULTS}/figures"
CHECKPOINTS = f"{RESULTS}/checkpoints"  # of training jobs, to resume a killed one
# Each rule's jobs' wall times, in a folder per rule (Snakemake's benchmark files, a table of
# columns s, h:m:s, max_rss, ...), summed up with the run's commit and versions by rule
# provenance into RULE_TIMES and RUN_ENVIRONMENT: beside the tables, not among them, which
# reproduce exactly.
BENCHMARKS = f"{RESULTS}/benchmarks"
RULE_TIMES = f"{RESULTS}/provenance/rule_times.csv"
RUN_ENVIRONMENT = f"{RESULTS}/provenance/environment.json"
# A path's sparsity label names the config's sparsity; it is looked up, never parsed back.
SPARSITY = {
    cfg.sparsity_label(s): float(s)
    for spec in config["workloads"].values()
    for s in spec["sparsities"]
}
# Likewise a study's replicate: "" for replicate 0, "-replicate1", ... (cfg.replicate_label).
REPLICATE = {
    cfg.replicate_label(r): r
    for r in range(max(spec["replicates"] for spec in config["workloads"].values()))
}
REPLICATE_LABELS = "|".join(re.escape(label) for label in sorted(REPLICATE, key=len, reverse=True))
# The command of the rules that compute results (sparsedp/jobs.py). With --use-conda, the
# environment's python; otherwise the one running Snakemake.
_CONDA = "conda" in str(getattr(workflow.deployment_settings, "deployment_method", ""))
_PYTHON = "python" if _CONDA else shlex.quote(sys.executable)
_JOB_SCRIPT = shlex.quote(str(REPO / "workflow/scripts/job.py"))


wildcard_constraints:
    workload=r"[a-z][a-z0-9_]*",
    sparsity="|".join(re.escape(label) for label in sorted(SPARSITY, key=len, reverse=True)),
    batch=r"[0-9]+",
    # Non-capturing group: with one replicate the only label is "", and an empty constraint is none.
    replicate=f"(?:{REPLICATE_LABELS})",
    trial=r"[0-9]{%d}" % cfg.TRIAL_DIGITS,
    # A pack's trial (or seed) digits but its last PACK_DIGITS; a replicate's seeds have more.
    chunk=r"[0-9]{%d}[0-9]*" % (cfg.TRIAL_DIGITS - PACK_DIGITS),
    seed=r"[0-9]{%d}[0-9]*" % cfg.TRIAL_DIGITS,
    dataset=r"[a-z][a-z0-9_]*",
    pruning="|".join([registry.DENSE, *registry.PRUNING]),
    model=r"[a-z][a-z0-9_]*",
    figure="|".join(registry.FIGURES),


def as_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def job_command(job):
    """Untracked param (a function of the job's input): the command running sparsedp.jobs.<job>,
    which names this machine's python and checkout, so moving either redoes nothing."""
    return lambda wildcards, input: f"{_PYTHON} {_JOB_SCRIPT} {job}"


# The shell command of every rule that runs a job (params run, identity, job, made; see
# job_command and made_param).
JOB_SHELL = "{params.run} {params.identity:q} {params.job:q} --log {log:q} --made {params.made} --outputs {output:q}"


# A result made with other settings or code than this run's, or edited since, is redone even
# where Snakemake has no metadata of it (.snakemake/ removed, a results tree copied or restored):
# each job notes beside its outputs what it made them with (results.record_made: the digest of
# its rule's tracked params, and their content), and each rule takes one of two markers as input
# (stale_marker): one dated at the epoch where its outputs are what it would make now, one dated
# at this run's start where one is not, which Snakemake, finding it newer than the output, redoes
# with all that was made from it. (The workflow profile leaves out Snakemake's input trigger,
# which would redo a job for a change of marker alone.)
MARKERS = {False: f"{RESULTS}/.made/up_to_date", True: f"{RESULTS}/.made/stale"}
os.makedirs(os.path.dirname(MARKERS[False]), exist_ok=True)
for _stale, _marker in MARKERS.items():
    if workflow.is_main_process or not os.path.exists(_marker):
        Path(_marker).touch()
        os.utime(_marker, None if _stale else (0, 0))


def _tracked(value):
    """Whether a param is tracked by Snakemake (its params trigger): a value, or a function of
    the wildcards alone; functions of input or output files are not."""
    return not callable(value) or set(inspect.signature(value).parameters) <= {"wildcards"}


def made_with(rule_name, wildcards):
    """Digest of what the job of ``rule_name`` for ``wildcards`` makes its results with: its
    rule's tracked params (the identities of what it computes and their code)."""
    params = getattr(rules, rule_name).rule.params
    values = {
        name: value(wildcards) if callable(value) else value
        for name, value in params.items()
        if _tracked(value)
    }
    return hashlib.sha256(as_json(values).encode()).hexdigest()


def made_param(rule_name):
    """Untracked param: made_with, which the job notes beside its outputs."""
    return lambda wildcards, input: made_with(rule_name, wildcards)


def stale_marker(rule_name):
    """Input function: the marker that makes Snakemake redo the job of ``rule_name`` if one of its
    outputs exists but was not made with what the job would make it with now, or was changed
    since; else the marker that never does."""

    def marker(wildcards):
        outputs, _ = getattr(rules, rule_name).rule.expand_output(wildcards)
        # None made yet: to be made anyway, and no identity is computed (the full grid's dry run).
        if not any(os.path.exists(f) for f in outputs):
            return MARKERS[False]
        stale = results.unmade(outputs, made_with(rule_name, wildcards))
        if stale:
            path, why = stale[0]
            more = f" (and {len(stale) - 1} more of its job's outputs)" if len(stale) > 1 else ""
            print(f"{path}{more}: {why}; redone.", file=sys.stderr)
        return MARKERS[bool(stale)]

    return marker


def study_of(wildcards):
    return cfg.Study(
        wildcards.workload,
        SPARSITY[wildcards.sparsity],
        int(wildcards.batch),
        wildcards.pruning,
        REPLICATE[wildcards.replicate],
    )


def study_trial_files(study):
    return [TRIAL_FILE.format(trial=cfg.trial_name(k), **study.wildcards) for k in range(N_TRIALS)]


def study_file(study):
    return STUDY_FILE.format(**study.wildcards)


def pack_member(j):
    """The trial-name digits of a pack's j-th trial (none when a pack is a single trial)."""
    return f"{j:0{PACK_DIGITS}d}" if PACK_DIGITS else ""


def pack_files(pattern, member):
    """The files of a whole pack: ``pattern`` with its ``member`` wildcard (trial or seed) made
    the pack's ``{chunk}`` and each member's digits."""
    return [
        pattern.replace(f"{{{member}}}", f"{{chunk}}{pack_member(j)}") for j in range(PACK_SIZE)
    ]


def chunk_trials(chunk):
    """Trial (or seed) names of a pack: those of trials below n_trials (a seed's trial is its
    number modulo cfg.SEED_STRIDE)."""
    names = [chunk + pack_member(j) for j in range(PACK_SIZE)]
    return [t for t in names if int(t) % cfg.SEED_STRIDE < N_TRIALS]


def job_trials(wildcards, single="trial"):
    """The trial numbers a job makes results of (trials, or the seeds of their masks): its pack's,
    or the one its ``single`` wildcard names."""
    if single in wildcards.keys():
        return [int(getattr(wildcards, single))]
    return [int(t) for t in chunk_trials(wildcards.chunk)]


@functools.cache
def study_mode(study):
    """cfg.study_mode, once per study (every training job's inputs ask)."""
    return cfg.study_mode(config, study)


def race_mates(wildcards):
    """Race mode: the trials of the job's race groups (search.race_group) that it does not make.
    It races them through their records, or trains those not recorded with its own (jobs.train)."""
    study = study_of(wildcards)
    if study_mode(study) != "race":
        return []
    size, own = config["search"]["race_group"], job_trials(wildcards)
    groups = {k // size for k in own}
    return [
        k
        for g in sorted(groups)
        for k in range(g * size, min((g + 1) * size, N_TRIALS))
        if k not in own
    ]


def mask_stamps(wildcards, trials):
    """The stamps of the masks of trials ``trials`` of the job's study (its replicate's seeds)."""
    spec = config["workloads"][wildcards.workload]
    replicate = REPLICATE[wildcards.replicate]
    return [
        MASK_STAMP.format(
            pruning=wildcards.pruning,
            dataset=spec["dataset"],
            model=spec["model"],
            sparsity=wildcards.sparsity,
            seed=cfg.trial_name(cfg.trial_seed(k, replicate)),
        )
        for k in trials
    ]


def training_inputs(wildcards):
    """The stamps of the data split and of each trial's mask (both part of the trial's identity),
    and of the masks of its race mates (trained with it if not recorded)."""
    spec = config["workloads"][wildcards.workload]
    return {
        "data": DATA_STAMP.format(dataset=spec["dataset"]),
        "masks": mask_stamps(wildcards, job_trials(wildcards)),
        "mate_masks": mask_stamps(wildcards, race_mates(wildcards)),
    }


def whole_pack(files_of, wildcards):
    """Whether the pack ``wildcards.chunk`` is built as one job: all of it below n_trials and none
    or all of its files present (``files_of(name)``: a member's files). Otherwise Snakemake builds
    its missing members one by one instead, so a lost file is redone alone."""
    members = chunk_trials(wildcards.chunk)
    present = [os.path.exists(f) for name in members for f in files_of(name)]
    return len(members) == PACK_SIZE and (all(present) or not any(present))


NOT_A_PACK = {"unavailable": f"{RESULTS}/.pack-not-applicable"}  # an input no rule makes


def pack_inputs(wildcards):
    """Inputs of a whole pack of trials, or an unbuildable file (rule train_trial then trains
    its missing trials)."""
    if not whole_pack(lambda t: [TRIAL_FILE.format(trial=t, **wildcards)], wildcards):
        return NOT_A_PACK
    return training_inputs(wildcards)


def mask_inputs(wildcards):
    """The data split and the check of the model on it (jobs.network_facts: a model that cannot
    be trained is refused before any mask)."""
    return {
        "data": DATA_STAMP.format(dataset=wildcards.dataset),
        "network": network_facts_file(wildcards.dataset, wildcards.model),
    }


def mask_pack_inputs(wildcards):
    """mask_inputs for a whole pack of seeds, or an unbuildable file (rule prune_mask then
    makes its missing masks)."""
    files = [MASK_FILE, MASK_STAMP]
    if not whole_pack(lambda s: [f.format(seed=s, **wildcards) for f in files], wildcards):
        return NOT_A_PACK
    return mask_inputs(wildcards)


def study_identity(wildcards):
    """Tracked param: what defines the trials of this study (the same for every pack of it)."""
    return as_json(identity.study_identity(config, study_of(wildcards)))


def training_job(wildcards, input, output, threads):
    """Untracked param (a function of the job's files): files and operational settings."""
    trials = job_trials(wildcards)
    study = study_of(wildcards)
    model = config["workloads"][wildcards.workload]["model"]
    checkpoints = f"{CHECKPOINTS}/{study.path}"
    mates = race_mates(wildcards)
    return as_json(
        {
            **operational(),
            "model": cfg.model_entry(config, model),
            "trials": trials,
            "outputs": list(output),
            "data": input.data,
            "masks": list(input.masks),
            "mates": mates,
            "mate_records": [study_trial_files(study)[k] for k in mates],
            "mate_masks": list(input.mate_masks),
            "raced": f"{checkpoints}/raced",
            "checkpoint": f"{checkpoints}/{cfg.trial_name(trials[0])}-{cfg.trial_name(trials[-1])}.pt",
            "threads": threads,
            "training": {
                k: config["training"][k]
                for k in ("eval_chunk", "early_exit", "group_examples", "checkpoint_every")
            },
        }
    )


def network_identity(wildcards):
    """Tracked param of both mask rules: the network as pruned (each seed's mask adds its seed)."""
    return as_json(
        identity.network_identity(
            config,
            wildcards.dataset,
            wildcards.model,
            SPARSITY[wildcards.sparsity],
            wildcards.pruning,
        )
    )


def mask_job(wildcards, input, output, threads):
    """Untracked param: the seeds to make (a pack's, or the one seed) and their files."""
    return as_json(
        {
            **operational(),
            "model": cfg.model_entry(config, wildcards.model),
            "data": input.data,
            "seeds": job_trials(wildcards, single="seed"),
            "outputs": list(output.masks),
            "threads": threads,
        }
    )


def data_job(wildcards, output):
    return as_json(
        {
            "data": config["data"],
            "dataset": cfg.dataset_entry(config, wildcards.dataset),
            "output": output[0],
        }
    )


def data_inputs(wildcards):
    """A user's dataset file (.npz, or the file of its function); none for a registry dataset,
    whose original files the job fetches."""
    dataset = cfg.dataset_entry(config, wildcards.dataset)
    if dataset["source"] == "npz":
        return [dataset["npz"]]
    if dataset["source"] == "function":
        return [str(identity.source_file(dataset["function"]))]
    return []


def network_facts_identity(wildcards):
    return as_json(identity.network_check_identity(config, wildcards.dataset, wildcards.model))


def network_facts_job(wildcards, input, output):
    return as_json(
        {
            "model": cfg.model_entry(config, wildcards.model),
            "data": input.data,
            "output": output[0],
        }
    )


def network_facts_file(dataset, model):
    return NETWORK_FACTS.format(dataset=dataset, model=model)


def noise_identity(wildcards):
    return as_json(
        identity.noise_identity(
            config,
            wildcards.dataset,
            wildcards.model,
            wildcards.pruning,
            SPARSITY[wildcards.sparsity],
        )
    )


def noise_inputs(wildcards):
    """The stamps of the training split and of the networks (masks + initialisations) of seeds
    0..seeds-1."""
    return {
        "data": DATA_STAMP.format(dataset=wildcards.dataset),
        "masks": [
            MASK_STAMP.format(seed=cfg.trial_name(k), **wildcards)
            for k in range(config["noise_scale"]["seeds"])
        ],
    }


def noise_job(wildcards, input, output, threads):
    return as_json(
        {
            **operational(),
            "model": cfg.model_entry(config, wildcards.model),
            "data": input.data,
            "masks": list(input.masks),
            "output": output[0],
            "threads": threads,
        }
    )


def operational():
    """What the jobs need that cannot change a result, passed in an untracked param (a function of
    the job's files), so changing it redoes nothing."""
    return {
        "device": config["device"],
        "allow_layer_collapse": config["masks"]["allow_layer_collapse"],
        "redo": snakemake_command(),
    }


def snakemake_command():
    """This run's command, for the messages that say how to redo a result."""
    files = " ".join(
        f"--configfile={shlex.quote(str(f))}" for f in workflow.config_settings.configfiles
    )
    where = (
        ""  # -s and -d as the run was given them, when the Snakefile is not the working folder's
    )
    if Path(workflow.main_snakefile).resolve() != (Path.cwd() / "Snakefile").resolve():
        where = f"-s {shlex.quote(str(workflow.main_snakefile))} -d {shlex.quote(os.getcwd())} "
    return f"snakemake {where}--cores N {files}".strip()


def rerun_hint(wildcards, input):
    """Untracked param: the command that redoes refused records."""
    return snakemake_command()


def expected_study(wildcards):
    """Tracked param of a reduction: the identity every trial of the study must carry."""
    return as_json(identity.study_identity(config, study_of(wildcards)))


def expected_studies(studies):
    """Tracked param of a table: the identity and size of each study it holds, in order."""
    return as_json([{**identity.study_identity(config, s), "n_trials": N_TRIALS} for s in studies])


def study_inputs(wildcards):
    return study_trial_files(study_of(wildcards))


def figure_table_kind(wildcards):
    """Trial-level figures plot every trial of chosen studies, the others each study's best."""
    return "trials" if wildcards.figure in cfg.TRIAL_FIGURES else "studies"


def figure_inputs(wildcards):
    """A figure's table; study-level figures (steps against batch size) also mark each curve's
    critical batch size."""
    inputs = {"table": f"{TABLES}/{wildcards.figure}.csv"}
    if figure_table_kind(wildcards) == "studies":
        inputs["critical"] = f"{TABLES}/critical_batch.csv"
    return inputs


# One report label per result: the report turns a second label whose two values split a
# subcategory in halves into a toggle, which breaks the page of a subcategory of two results.
def figure_labels(wildcards):
    return {"figure": registry.FIGURES[wildcards.figure].title}


def figure_subcategory(wildcards):
    if figure_table_kind(wildcards) == "trials":
        return "Every trial of chosen studies"
    return "Steps-to-result against batch size"


def _table_entry(name):
    """The column dictionary's entry of the table ``name`` ("{figure}": a figure's) of a job."""
    return lambda wildcards: columns.table(name.format(**dict(wildcards.items())), config)


def table_page(name, folder=TABLES):
    """The page the report shows of a table (sparsedp.pages), made by the table's own job beside
    its CSV: then every page sits at its table's depth, and the report's graph of the workflow
    shows each rule once."""
    entry = _table_entry(name)
    return report(
        f"{folder}/{name}.html",
        caption="../report/table.rst",
        category="Tables",
        subcategory=lambda wildcards: entry(wildcards).group,
        labels=lambda wildcards: {"table": f"{entry(wildcards).name}.csv: {entry(wildcards).rows}"},
    )


def table_page_params(name):
    """Tracked params of a table's page: its code, and its description (the report's caption)
    from the column dictionary with this run's settings."""
    entry = _table_entry(name)
    return {
        "page_code": PAGE_CODE,
        "caption": lambda wildcards: columns.caption(entry(wildcards), config),
    }


def figure_table_inputs(wildcards):
    """The chosen studies' reductions; for trial-level figures also their trials, each marked
    whether its study's reduction chose it as best."""
    chosen = cfg.figure_studies(config, wildcards.figure)
    inputs = {"studies": [study_file(s) for s in chosen]}
    if figure_table_kind(wildcards) == "trials":
        inputs["trials"] = [f for s in chosen for f in study_trial_files(s)]
    return inputs


def figure_table_studies(wildcards):
    return expected_studies(cfg.figure_studies(config, wildcards.figure))


def figure_optimizers(wildcards):
    """Param for the caption: the optimizers a figure shows, by their registry labels."""
    spec = config["figures"][wildcards.figure]
    names = [config["workloads"][wl]["optimizer"] for wl in spec["workloads"]]
    return ", ".join(registry.OPTIMIZERS[n].label for n in dict.fromkeys(names))


def figure_pruning_labels(wildcards):
    """Param for the caption: the pruning method(s) a figure shows, by their registry labels."""
    methods = {s.pruning for s in cfg.figure_studies(config, wildcards.figure)}
    return ", ".join(registry.pruning_label(m) for m in registry.PRUNING if m in methods) or "dense"


def external_params():
    """Params of the rules that draw or tabulate other sources' curves (config key
    external_curves): none without them, so that adding the key changes no result made before."""
    entries = config.get("external_curves", [])
    if not entries:
        return {}
    goals = {wl: spec["goal_errors"] for wl, spec in config["workloads"].items()}
    return {"external": as_json(entries), "goals": as_json(goals)}


def figure_goal(wildcards):
    """Tracked param of a figure and its table: the goal error it shows."""
    return cfg.figure_goal(config, wildcards.figure)


# One noise-scale estimate per network as pruned (dataset, model, pruning method, sparsity) of any
# workload: optimizers share it.
NETWORKS = sorted(
    {
        (spec["dataset"], spec["model"], method, cfg.sparsity_label(s))
        for spec in config["workloads"].values()
        for s, method in cfg.pruned_networks(spec)
    }
)


def noise_files():
    return [NOISE_FILE.format(dataset=d, model=m, pruning=p, sparsity=s) for d, m, p, s in NETWORKS]


def noise_expected():
    """Tracked param of the noise table: the identity of each noise file, in order."""
    return as_json(
        [identity.noise_identity(config, d, m, p, SPARSITY[s]) for d, m, p, s in NETWORKS]
    )


def all_trial_files():
    return [f for s in cfg.studies(config) for f in study_trial_files(s)]


def result_files():
    """Every table and figure of the experiment."""
    targets = [
        f"{TABLES}/steps_to_result.csv",
        f"{TABLES}/trials.csv",
        f"{TABLES}/critical_batch.csv",
        f"{TABLES}/replicates.csv",
        f"{TABLES}/noise_scale.csv",
        f"{FIGURES}/noise_scale.pdf",
        f"{FIGURES}/noise_scale.png",
        f"{FIGURES}/critical_batch_goal.pdf",
        f"{FIGURES}/critical_batch_goal.png",
        f"{TABLES}/claims.csv",
    ]
    for figure in config["figures"]:
        targets += [f"{FIGURES}/{figure}.pdf", f"{FIGURES}/{figure}.png"]
    return targets


def all_targets():
    # Trial files are targets too: Snakemake (>= 7.7) does not rebuild a deleted intermediate
    # file while the files made from it are up to date, and a lost trial must be retrained.
    return [*all_trial_files(), *result_files(), RULE_TIMES, RUN_ENVIRONMENT]


def run_provenance():
    """What the provenance job recorded of the run that made the results (environment: commit,
    versions, devices; rules: wall time per rule), for the report's introduction, which sees only
    the config; none before it ran. Read, never compared: no result depends on it."""
    try:
        return {
            "environment": results.read_json(RUN_ENVIRONMENT),
            "rules": provenance.read_rule_times(RULE_TIMES),
        }
    except (OSError, ValueError):
        return None


# Not a setting (the schema rejects the key): what the report's introduction (workflow.rst) shows.
if _provenance := run_provenance():
    config["provenance"] = _provenance
