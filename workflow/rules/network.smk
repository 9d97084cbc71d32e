# Each model checked on each dataset it is trained on, before any mask: it builds, its outputs
# have one column per class, it has prunable parameters and no layer drawing random numbers
# (jobs.network_facts). A model that cannot be trained is refused here, naming its factory and
# what is wrong, and no mask or trial already made is touched.
rule network_facts:
    input:
        data=DATA_STAMP,
        stale=stale_marker("network_facts"),
    output:
        NETWORK_FACTS,
    log:
        f"{LOGS}/networks/{{dataset}}/{{model}}.log",
    benchmark:
        f"{BENCHMARKS}/network_facts/{{dataset}}/{{model}}.tsv"
    conda:
        "../../envs/pipeline.yaml"
    params:
        identity=network_facts_identity,
        job=network_facts_job,
        run=job_command("network"),
        made=made_param("network_facts"),
    shell:
        JOB_SHELL
