# One SNIP mask + initialisation per (network, sparsity, seed), shared by every optimizer and
# batch size: trial k of every study starts from seed k's file.
rule snip_mask:
    input:
        "results/data/{dataset}.npz",
    output:
        MASK_FILE,
    log:
        "results/logs/masks/{dataset}/{model}/sparsity{sparsity}/seed{seed}.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        snip=config["snip"],
        device=config["device"],
    script:
        "../scripts/snip_mask.py"
