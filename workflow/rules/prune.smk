# One mask + initialisation per (pruning method, network, sparsity, seed), shared by every optimizer and
# batch size: trial k of every study starts from seed k's file.
rule prune_mask:
    input:
        DATA_STAMP,
    output:
        MASK_FILE,
        MASK_STAMP,
    log:
        f"{LOGS}/masks/{NETWORK}/seed{{seed}}.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        identity=mask_identity,
        job=mask_job,
        run=job_command("mask"),
    shell:
        "{params.run} {params.identity:q} {params.job:q} --log {log:q}"
