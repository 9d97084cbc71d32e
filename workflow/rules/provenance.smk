# What made this run's results and how long each rule's jobs took (sparsedp/provenance.py): the
# wall time per rule from Snakemake's benchmark files, and the run's commit, versions and devices,
# shown in the report's introduction (common.smk, run_provenance). Made after every result, which
# it takes as input.
rule provenance:
    input:
        trials=all_trial_files(),
        results=result_files(),
        stale=stale_marker("provenance"),
    output:
        rules=RULE_TIMES,
        page=table_page("rule_times", folder=f"{RESULTS}/provenance"),
        environment=RUN_ENVIRONMENT,
    log:
        f"{LOGS}/provenance.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        **table_page_params("rule_times"),
        # Untracked (functions of the job's files): where things are, and how trials are packed
        # into jobs, change no result.
        results=lambda wildcards, input: RESULTS,
        benchmarks=lambda wildcards, input: BENCHMARKS,
        checkpoints=lambda wildcards, input: CHECKPOINTS,
        pack_digits=lambda wildcards, input: PACK_DIGITS,
        made=made_param("provenance"),
    script:
        "../scripts/provenance.py"
