# One mask + initialisation per (pruning method, network, sparsity, seed), shared by every optimizer and
# batch size: trial k of every study starts from seed k's file. The seeds of a training pack are made
# in one job (one import of torch, one load of the data); a pack partly present is completed seed by
# seed. Both rules run the same command with the same tracked param, the network's identity (seeds
# are the files' and the job's business), so which rule made a mask never triggers a rerun.
ruleorder: prune_pack > prune_mask


rule prune_pack:
    input:
        unpack(mask_pack_inputs),
        stale=stale_marker("prune_pack"),
    output:
        masks=pack_files(MASK_FILE, "seed"),
        stamps=pack_files(MASK_STAMP, "seed"),
    log:
        f"{LOGS}/masks/{NETWORK}/pack{{chunk}}.log",
    benchmark:
        f"{BENCHMARKS}/prune_pack/{NETWORK}/pack{{chunk}}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        identity=network_identity,
        job=mask_job,
        run=job_command("mask"),
        made=made_param("prune_pack"),
    shell:
        JOB_SHELL


rule prune_mask:
    input:
        unpack(mask_inputs),
        stale=stale_marker("prune_mask"),
    output:
        masks=[MASK_FILE],  # lists, as prune_pack's
        stamps=[MASK_STAMP],
    log:
        f"{LOGS}/masks/{NETWORK}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/prune_mask/{NETWORK}/seed{{seed}}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        identity=network_identity,
        job=mask_job,
        run=job_command("mask"),
        made=made_param("prune_mask"),
    shell:
        JOB_SHELL
