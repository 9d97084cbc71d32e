# One rule for every figure. Study-level figures (steps against batch size) also take the
# critical batch sizes and mark them; trial-level figures (4, 5) plot every trial of a study.
rule figure:
    input:
        unpack(figure_inputs),
    output:
        pdf=f"{FIGURES}/{{figure}}.pdf",
        png=report(
            f"{FIGURES}/{{figure}}.png",
            caption="../report/figure.rst",
            category="Figures",
            subcategory=figure_subcategory,
            labels=figure_labels,
        ),
    log:
        f"{LOGS}/figures/{{figure}}.log",
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../scripts/figure.py"
