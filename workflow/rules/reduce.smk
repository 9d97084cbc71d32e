rule reduce_study:
    input:
        study_inputs,
    output:
        f"results/studies/{STUDY}.json",
    log:
        f"results/logs/reduce/{STUDY}.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/reduce_study.py"


rule steps_to_result_table:
    input:
        [study_file(s) for s in cfg.studies(config)],
    output:
        report(
            "results/tables/steps_to_result.csv",
            caption="../report/steps_to_result.rst",
            category="Tables",
            subcategory="Studies and trials",
            labels={"table": "steps_to_result.csv: one row per study"},
        ),
    log:
        "results/logs/tables/steps_to_result.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        kind="studies",
    script:
        "../scripts/table.py"


rule figure_table:
    input:
        unpack(figure_table_inputs),
    output:
        report(
            "results/tables/{figure}.csv",
            caption="../report/figure_table.rst",
            category="Tables",
            subcategory="Figure data",
            labels=figure_table_labels,
        ),
    log:
        "results/logs/tables/{figure}.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        kind=figure_table_kind,
    script:
        "../scripts/table.py"


rule trials_table:
    input:
        trials=all_trial_files(),
        studies=[study_file(s) for s in cfg.studies(config)],
    output:
        report(
            "results/tables/trials.csv",
            caption="../report/trials.rst",
            category="Tables",
            subcategory="Studies and trials",
            labels={"table": "trials.csv: one row per trial"},
        ),
    log:
        "results/logs/tables/trials.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        kind="trials",
    script:
        "../scripts/table.py"


# From the studies themselves, not steps_to_result.csv: then every table and every figure rule
# sits at one depth of the workflow, and the report's rule graph shows each rule once.
rule critical_batch_table:
    input:
        [study_file(s) for s in cfg.studies(config)],
    output:
        report(
            "results/tables/critical_batch.csv",
            caption="../report/critical_batch.rst",
            category="Tables",
            subcategory="Analysis",
            labels={"table": "critical_batch.csv: one row per curve"},
        ),
    log:
        "results/logs/tables/critical_batch.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        analysis=config["analysis"],
    script:
        "../scripts/critical_batch.py"


rule claims_table:
    input:
        studies="results/tables/steps_to_result.csv",
        critical="results/tables/critical_batch.csv",
    output:
        report(
            "results/tables/claims.csv",
            caption="../report/claims.rst",
            category="Tables",
            subcategory="Analysis",
            labels={"table": "claims.csv: one row per claim and scope"},
        ),
    log:
        "results/logs/tables/claims.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/claims.py"
