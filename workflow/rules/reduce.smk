# Reductions and tables: every record read is checked against the identity this experiment
# expects of it (a tracked param), so results of other settings are refused, never mixed in.
rule reduce_study:
    input:
        trials=study_inputs,
        stale=stale_marker("reduce_study"),
    output:
        STUDY_FILE,
    log:
        f"{LOGS}/reduce/{STUDY}.log",
    benchmark:
        f"{BENCHMARKS}/reduce_study/{STUDY}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        code=ANALYSIS_CODE,
        identity=expected_study,
        redo=rerun_hint,
        made=made_param("reduce_study"),
    script:
        "../scripts/reduce_study.py"


rule steps_to_result_table:
    input:
        studies=[study_file(s) for s in cfg.studies(config)],
        stale=stale_marker("steps_to_result_table"),
    output:
        csv=f"{TABLES}/steps_to_result.csv",
        page=table_page("steps_to_result"),
    log:
        f"{LOGS}/tables/steps_to_result.log",
    benchmark:
        f"{BENCHMARKS}/steps_to_result_table/steps_to_result.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        **table_page_params("steps_to_result"),
        code=ANALYSIS_CODE,
        kind="studies",
        studies=expected_studies(cfg.studies(config)),
        redo=rerun_hint,
        made=made_param("steps_to_result_table"),
    script:
        "../scripts/table.py"


rule figure_table:
    input:
        unpack(figure_table_inputs),
        stale=stale_marker("figure_table"),
    output:
        csv=f"{TABLES}/{{figure}}.csv",
        page=table_page("{figure}"),
    log:
        f"{LOGS}/tables/{{figure}}.log",
    benchmark:
        f"{BENCHMARKS}/figure_table/{{figure}}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        **table_page_params("{figure}"),
        code=ANALYSIS_CODE,
        kind=figure_table_kind,
        studies=figure_table_studies,
        goal=figure_goal,
        redo=rerun_hint,
        made=made_param("figure_table"),
    script:
        "../scripts/table.py"


rule trials_table:
    input:
        trials=all_trial_files(),
        studies=[study_file(s) for s in cfg.studies(config)],
        stale=stale_marker("trials_table"),
    output:
        csv=f"{TABLES}/trials.csv",
        page=table_page("trials"),
    log:
        f"{LOGS}/tables/trials.log",
    benchmark:
        f"{BENCHMARKS}/trials_table/trials.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        **table_page_params("trials"),
        code=ANALYSIS_CODE,
        kind="trials",
        studies=expected_studies(cfg.studies(config)),
        redo=rerun_hint,
        made=made_param("trials_table"),
    script:
        "../scripts/table.py"


# From the studies themselves, not steps_to_result.csv: then every table and every figure rule
# sits at one depth of the workflow, and the report's rule graph shows each rule once.
rule critical_batch_table:
    input:
        studies=[study_file(s) for s in cfg.studies(config)],
        stale=stale_marker("critical_batch_table"),
    output:
        csv=f"{TABLES}/critical_batch.csv",
        page=table_page("critical_batch"),
    log:
        f"{LOGS}/tables/critical_batch.log",
    benchmark:
        f"{BENCHMARKS}/critical_batch_table/critical_batch.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        **table_page_params("critical_batch"),
        **external_params(),
        code=ANALYSIS_CODE,
        kind="critical",
        analysis=as_json(config["analysis"]),
        studies=expected_studies(cfg.studies(config)),
        redo=rerun_hint,
        made=made_param("critical_batch_table"),
    script:
        "../scripts/analysis_table.py"


# Seed noise: each study's steps-to-result over its replicates (median, interval, spread).
rule replicates_table:
    input:
        studies=[study_file(s) for s in cfg.studies(config)],
        stale=stale_marker("replicates_table"),
    output:
        csv=f"{TABLES}/replicates.csv",
        page=table_page("replicates"),
    log:
        f"{LOGS}/tables/replicates.log",
    benchmark:
        f"{BENCHMARKS}/replicates_table/replicates.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        **table_page_params("replicates"),
        code=ANALYSIS_CODE,
        kind="replicates",
        analysis=as_json(config["analysis"]),
        studies=expected_studies(cfg.studies(config)),
        redo=rerun_hint,
        made=made_param("replicates_table"),
    script:
        "../scripts/analysis_table.py"


rule claims_table:
    input:
        studies=f"{TABLES}/steps_to_result.csv",
        critical=f"{TABLES}/critical_batch.csv",
        stale=stale_marker("claims_table"),
    output:
        csv=f"{TABLES}/claims.csv",
        page=table_page("claims"),
    log:
        f"{LOGS}/tables/claims.log",
    benchmark:
        f"{BENCHMARKS}/claims_table/claims.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        **table_page_params("claims"),
        code=ANALYSIS_CODE,
        analysis=as_json(config["analysis"]),
        made=made_param("claims_table"),
    script:
        "../scripts/claims.py"
