rule figure:
    input:
        "results/tables/{figure}.csv",
    output:
        pdf=report(
            "results/figures/{figure}.pdf",
            caption="../report/figure.rst",
            labels={"figure": "{figure}"},
            category="Figures",
        ),
        png="results/figures/{figure}.png",
    log:
        "results/logs/figures/{figure}.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/figure.py"
