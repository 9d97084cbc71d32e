# The train/validation split of a dataset, from its original files (MD5-verified, cached in
# data.cache and shared by every experiment); where the files come from is no part of it.
rule dataset:
    output:
        DATA_FILE,
        DATA_STAMP,
    log:
        f"{LOGS}/data/{{dataset}}.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        identity=lambda wildcards: as_json(identity.data_identity(wildcards.dataset)),
        job=data_job,
        run=job_command("data"),
    shell:
        JOB_SHELL
