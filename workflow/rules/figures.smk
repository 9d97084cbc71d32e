# One rule for every figure. Study-level figures (steps against batch size) also take the
# critical batch sizes and mark them; trial-level figures (4, 5) plot every trial of a study.
rule figure:
    input:
        unpack(figure_inputs),
    output:
        pdf="results/figures/{figure}.pdf",
        png=report(
            "results/figures/{figure}.png",
            caption="../report/figure.rst",
            category="Figures",
            subcategory=figure_subcategory,
            labels=figure_labels,
        ),
    log:
        "results/logs/figures/{figure}.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/figure.py"
