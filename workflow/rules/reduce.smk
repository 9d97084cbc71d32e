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
        report(
            f"{TABLES}/steps_to_result.csv",
            caption="../report/steps_to_result.rst",
            category="Tables",
            subcategory="Studies and trials",
            labels={"table": "steps_to_result.csv: one row per study and goal"},
        ),
    log:
        f"{LOGS}/tables/steps_to_result.log",
    benchmark:
        f"{BENCHMARKS}/steps_to_result_table/steps_to_result.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
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
        report(
            f"{TABLES}/{{figure}}.csv",
            caption="../report/figure_table.rst",
            category="Tables",
            subcategory="Figure data",
            labels=figure_table_labels,
        ),
    log:
        f"{LOGS}/tables/{{figure}}.log",
    benchmark:
        f"{BENCHMARKS}/figure_table/{{figure}}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
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
        report(
            f"{TABLES}/trials.csv",
            caption="../report/trials.rst",
            category="Tables",
            subcategory="Studies and trials",
            labels={"table": "trials.csv: one row per trial and goal"},
        ),
    log:
        f"{LOGS}/tables/trials.log",
    benchmark:
        f"{BENCHMARKS}/trials_table/trials.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
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
        report(
            f"{TABLES}/critical_batch.csv",
            caption="../report/critical_batch.rst",
            category="Tables",
            subcategory="Analysis",
            labels={"table": "critical_batch.csv: one row per curve and goal"},
        ),
    log:
        f"{LOGS}/tables/critical_batch.log",
    benchmark:
        f"{BENCHMARKS}/critical_batch_table/critical_batch.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
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
        report(
            f"{TABLES}/replicates.csv",
            caption="../report/replicates.rst",
            category="Tables",
            subcategory="Analysis",
            labels={"table": "replicates.csv: one row per study and goal, over its replicates"},
        ),
    log:
        f"{LOGS}/tables/replicates.log",
    benchmark:
        f"{BENCHMARKS}/replicates_table/replicates.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
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
        report(
            f"{TABLES}/claims.csv",
            caption="../report/claims.rst",
            category="Tables",
            subcategory="Analysis",
            labels={"table": "claims.csv: one row per claim and scope"},
        ),
    log:
        f"{LOGS}/tables/claims.log",
    benchmark:
        f"{BENCHMARKS}/claims_table/claims.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        code=ANALYSIS_CODE,
        analysis=as_json(config["analysis"]),
        made=made_param("claims_table"),
    script:
        "../scripts/claims.py"
