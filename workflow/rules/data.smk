rule dataset:
    output:
        "results/data/{dataset}.npz",
    log:
        "results/logs/data/{dataset}.log",
    conda:
        "../../envs/pipeline.yaml"
    params:
        data=config["data"],
    script:
        "../scripts/fetch_dataset.py"
