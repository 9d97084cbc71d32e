# Beyond the paper: the gradient noise scale B_simple = tr(Σ)/|G|² at initialisation
# (McCandlish et al. 2018) of the networks trial 0..seeds-1 start from, once per (dataset,
# network, sparsity) since it does not depend on the optimizer; compared with the measured
# critical batch size of each workload.
rule noise_scale:
    input:
        unpack(noise_inputs),
    output:
        NOISE_FILE,
    log:
        "results/logs/noise/{dataset}/{model}/sparsity{sparsity}.log",
    conda:
        "../../envs/pipeline.yaml"
    threads: config["training"]["threads"]
    params:
        noise_scale=config["noise_scale"],
        device=config["device"],
    script:
        "../scripts/noise_scale.py"


rule noise_scale_table:
    input:
        noise_files(),
    output:
        report(
            "results/tables/noise_scale.csv",
            caption="../report/noise_scale_table.rst",
            category="Tables",
            subcategory="Analysis",
            labels={"table": "noise_scale.csv: one row per workload and sparsity"},
        ),
    log:
        "results/logs/tables/noise_scale.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        workloads=config["workloads"],
    script:
        "../scripts/noise_scale_table.py"


rule noise_scale_figure:
    input:
        noise="results/tables/noise_scale.csv",
        critical="results/tables/critical_batch.csv",
    output:
        pdf="results/figures/noise_scale.pdf",
        png=report(
            "results/figures/noise_scale.png",
            caption="../report/noise_scale.rst",
            category="Figures",
            subcategory="Beyond the paper",
            labels={"figure": "Gradient noise scale and critical batch size"},
        ),
    log:
        "results/logs/figures/noise_scale.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/noise_scale_figure.py"
