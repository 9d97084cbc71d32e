# The train/validation split of a dataset: a registry dataset's original files (MD5-verified,
# cached in data.cache and shared by every experiment; where the files come from is no part of
# it), a user's .npz, or what a user's function returns, checked and split by its rule.
rule dataset:
    input:
        data_inputs,
        stale=stale_marker("dataset"),
    output:
        DATA_FILE,
        DATA_STAMP,
    log:
        f"{LOGS}/data/{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/dataset/{{dataset}}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        identity=lambda wildcards: as_json(identity.data_identity(config, wildcards.dataset)),
        job=data_job,
        run=job_command("data"),
        made=made_param("dataset"),
    shell:
        JOB_SHELL
