# Beyond the paper: the gradient noise scale B_simple = tr(Σ)/|G|² at initialisation
# (McCandlish et al. 2018) of the networks trial 0..seeds-1 start from, once per (dataset,
# network, sparsity) since it does not depend on the optimizer; compared with the measured
# critical batch size of each workload.
rule noise_scale:
    input:
        unpack(noise_inputs),
        stale=stale_marker("noise_scale"),
    output:
        NOISE_FILE,
    log:
        f"{LOGS}/noise/{NETWORK}.log",
    benchmark:
        f"{BENCHMARKS}/noise_scale/{NETWORK}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    threads: config["training"]["threads"]
    params:
        identity=noise_identity,
        job=noise_job,
        run=job_command("noise_scale"),
        made=made_param("noise_scale"),
    shell:
        JOB_SHELL


rule noise_scale_table:
    input:
        noise=noise_files(),
        stale=stale_marker("noise_scale_table"),
    output:
        csv=f"{TABLES}/noise_scale.csv",
        page=table_page("noise_scale"),
    log:
        f"{LOGS}/tables/noise_scale.log",
    benchmark:
        f"{BENCHMARKS}/noise_scale_table/noise_scale.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        **table_page_params("noise_scale"),
        code=ANALYSIS_CODE,
        workloads=as_json(config["workloads"]),
        expected=noise_expected(),
        redo=rerun_hint,
        made=made_param("noise_scale_table"),
    script:
        "../scripts/noise_scale_table.py"


rule noise_scale_figure:
    input:
        noise=f"{TABLES}/noise_scale.csv",
        critical=f"{TABLES}/critical_batch.csv",
        stale=stale_marker("noise_scale_figure"),
    output:
        pdf=f"{FIGURES}/noise_scale.pdf",
        png=report(
            f"{FIGURES}/noise_scale.png",
            caption="../report/noise_scale.rst",
            category="Figures",
            subcategory="Beyond the paper",
            labels={"figure": "Gradient noise scale and critical batch size"},
        ),
    log:
        f"{LOGS}/figures/noise_scale.log",
    benchmark:
        f"{BENCHMARKS}/noise_scale_figure/noise_scale.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        code=ANALYSIS_CODE,
        analysis=as_json(config["analysis"]),
        made=made_param("noise_scale_figure"),
    script:
        "../scripts/noise_scale_figure.py"
