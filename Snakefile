# Data parallelism in training sparse neural networks (Lee, Torr & Jaggi): the pipeline.
#   snakemake --cores 8                                      # the paper's experiment: results/paper/
#   snakemake --cores 2 --configfile=config/quick.yaml       # a preset: results/quick/
#   snakemake --cores 8 results/paper/figures/fig1_mnist.pdf # one figure and what it needs
import os
import sys

from snakemake.utils import min_version

min_version("9.0")
sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from sparsedp.config import load_yaml  # noqa: E402

# The paper's experiment; a --configfile (a preset) is merged over it, key by key. Read first by
# the workflow's own loader, whose error names the file and line of a YAML mistake.
load_yaml(os.path.join(workflow.basedir, "config.yaml"))


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/network.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/reduce.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/noise.smk"


# On a cluster (snakemake --profile slurm) these run on the submitting machine, not as SLURM
# jobs: the download (compute nodes may be offline) and the small reductions, tables, figures.
localrules:
    all,
    dataset,
    network_facts,
    reduce_study,
    steps_to_result_table,
    critical_batch_table,
    replicates_table,
    claims_table,
    figure_table,
    trials_table,
    figure,
    noise_scale_table,
    noise_scale_figure,
    critical_batch_figure,


rule all:
    default_target: True
    input:
        all_targets(),
