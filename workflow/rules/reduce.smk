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
        f"{TABLES}/steps_to_result.csv",
    log:
        f"{LOGS}/tables/steps_to_result.log",
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
        f"{TABLES}/{{figure}}.csv",
    log:
        f"{LOGS}/tables/{{figure}}.log",
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
        f"{TABLES}/trials.csv",
    log:
        f"{LOGS}/tables/trials.log",
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
        f"{TABLES}/critical_batch.csv",
    log:
        f"{LOGS}/tables/critical_batch.log",
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
        f"{TABLES}/replicates.csv",
    log:
        f"{LOGS}/tables/replicates.log",
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
        f"{TABLES}/claims.csv",
    log:
        f"{LOGS}/tables/claims.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        code=ANALYSIS_CODE,
        analysis=as_json(config["analysis"]),
        made=made_param("claims_table"),
    script:
        "../scripts/claims.py"


# Each table as the report shows it: a page of its rows, sortable, with its description and
# columns from the column dictionary (sparsedp.columns), and the CSV embedded to download.
rule table_page:
    input:
        table=f"{TABLES}/{{table}}.csv",
        stale=stale_marker("table_page"),
    output:
        report(
            f"{TABLES}/{{table}}.html",
            caption="../report/table.rst",
            category="Tables",
            subcategory=table_subcategory,
            labels=table_labels,
        ),
    log:
        f"{LOGS}/tables/{{table}}_page.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        code=PAGE_CODE,
        caption=table_caption,
        made=made_param("table_page"),
    script:
        "../scripts/table_page.py"
