# One rule for every figure. Study-level figures (steps against batch size) also take the
# critical batch sizes and mark them; trial-level figures (4, 5) plot every trial of a study.
rule figure:
    input:
        unpack(figure_inputs),
        stale=stale_marker("figure"),
    output:
        pdf=f"{FIGURES}/{{figure}}.pdf",
        png=report(
            f"{FIGURES}/{{figure}}.png",
            caption="../report/figure.rst",
            category="Figures",
            subcategory=figure_subcategory,
            labels=figure_labels,
        ),
    log:
        f"{LOGS}/figures/{{figure}}.log",
    benchmark:
        f"{BENCHMARKS}/figure/{{figure}}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        **external_params(),
        code=ANALYSIS_CODE,
        goal=figure_goal,
        analysis=as_json(config["analysis"]),
        optimizers=figure_optimizers,
        pruning=figure_pruning_labels,
        made=made_param("figure"),
    script:
        "../scripts/figure.py"


# Beyond the paper: both critical batch sizes of every curve against the goal error (one run
# measures every goal of a workload's goal_errors), from critical_batch.csv.
rule critical_batch_figure:
    input:
        critical=f"{TABLES}/critical_batch.csv",
        stale=stale_marker("critical_batch_figure"),
    output:
        pdf=f"{FIGURES}/critical_batch_goal.pdf",
        png=report(
            f"{FIGURES}/critical_batch_goal.png",
            caption="../report/critical_batch_goal.rst",
            category="Figures",
            subcategory="Beyond the paper",
            labels={"figure": "Critical batch size against goal error"},
        ),
    log:
        f"{LOGS}/figures/critical_batch_goal.log",
    benchmark:
        f"{BENCHMARKS}/critical_batch_figure/critical_batch_goal.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        code=ANALYSIS_CODE,
        analysis=as_json(config["analysis"]),
        made=made_param("critical_batch_figure"),
    script:
        "../scripts/critical_batch_figure.py"
