# Training. A pack of PACK_SIZE consecutive trials of one study is one job (trials trained
# together); each trial still has its own result file. The two rules share inputs, script and
# params, so which of them produced a file never triggers a rerun. The mode is census for the
# studies of trial-level figures (config.study_mode), else the workload's.
ruleorder: train_pack > train_trial


rule train_pack:
    input:
        unpack(pack_inputs),
    output:
        [TRIAL_FILE.replace("{trial}", "{chunk}" + pack_member(j)) for j in range(PACK_SIZE)],
    log:
        f"results/logs/train/{STUDY}/pack{{chunk}}.log",
    conda:
        "../../envs/pipeline.yaml"
    threads: config["training"]["threads"]
    params:
        workload=workload_params,
        training=config["training"],
        search=config["search"],
        device=config["device"],
        mode=study_mode,
    script:
        "../scripts/train.py"


rule train_trial:
    input:
        unpack(trial_inputs),
    output:
        TRIAL_FILE,
    log:
        f"results/logs/train/{STUDY}/trial{{trial}}.log",
    conda:
        "../../envs/pipeline.yaml"
    threads: config["training"]["threads"]
    params:
        workload=workload_params,
        training=config["training"],
        search=config["search"],
        device=config["device"],
        mode=study_mode,
    script:
        "../scripts/train.py"
