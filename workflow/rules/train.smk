# Training. A pack of PACK_SIZE consecutive trials of one study is one job (trials trained
# together); each trial still has its own result file. Both rules run the same command with the
# same tracked param, the study's identity (the same for every pack), so neither which rule made
# a trial file nor the pack size ever triggers a rerun.
ruleorder: train_pack > train_trial


rule train_pack:
    input:
        unpack(pack_inputs),
        stale=stale_marker("train_pack"),
    output:
        pack_files(TRIAL_FILE, "trial"),
    log:
        f"{LOGS}/train/{STUDY}/pack{{chunk}}.log",
    benchmark:
        f"{BENCHMARKS}/train_pack/{STUDY}/pack{{chunk}}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    threads: config["training"]["threads"]
    params:
        identity=study_identity,
        job=training_job,
        run=job_command("train"),
        made=made_param("train_pack"),
    shell:
        JOB_SHELL


rule train_trial:
    input:
        unpack(training_inputs),
        stale=stale_marker("train_trial"),
    output:
        TRIAL_FILE,
    log:
        f"{LOGS}/train/{STUDY}/trial{{trial}}.log",
    benchmark:
        f"{BENCHMARKS}/train_trial/{STUDY}/trial{{trial}}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    threads: config["training"]["threads"]
    params:
        identity=study_identity,
        job=training_job,
        run=job_command("train"),
        made=made_param("train_trial"),
    shell:
        JOB_SHELL
