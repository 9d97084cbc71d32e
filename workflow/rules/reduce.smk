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
        figure_table_inputs,
    output:
        "results/tables/{figure}.csv",
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
        all_trial_files(),
    output:
        "results/tables/trials.csv",
    log:
        "results/logs/tables/trials.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        kind="trials",
    script:
        "../scripts/table.py"


rule critical_batch_table:
    input:
        "results/tables/steps_to_result.csv",
    output:
        report(
            "results/tables/critical_batch.csv",
            caption="../report/critical_batch.rst",
            category="Tables",
        ),
    log:
        "results/logs/tables/critical_batch.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        analysis=config["analysis"],
    script:
        "../scripts/critical_batch.py"
