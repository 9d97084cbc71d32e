# Data parallelism in training sparse neural networks (Lee, Torr & Jaggi): the pipeline.
#   snakemake --cores 8                                      # the paper's experiment: results/paper/
#   snakemake --cores 2 --configfile=config/quick.yaml       # a preset: results/quick/
#   snakemake --cores 8 results/paper/figures/fig1_mnist.pdf # one figure and what it needs
# The workflow is workflow/Snakefile, where snakedeploy and the workflow catalog look for it; this
# file keeps the commands above working in the repository root (and -s Snakefile from elsewhere),
# with this folder's profiles/default as the workflow profile. It uses the workflow as a module, as
# another project does (README "Use it in your own project"), rather than including it: an
# include would drop its default target (rule all).


module sparsedp:
    snakefile:
        "workflow/Snakefile"
    config:
        config


use rule * from sparsedp
