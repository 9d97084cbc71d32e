import pandas as pd
import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.jobs import setup_logging
from sparsedp.plots import render

setup_logging(snakemake.log[0])
table = pd.read_csv(snakemake.input.table)
# Study-level figures mark each curve's critical batch size; trial-level figures take none.
critical = pd.read_csv(snakemake.input.critical) if "critical" in snakemake.input.keys() else None
goals = ", ".join(f"{g:g}" for g in sorted(table["goal_error"].unique()))
render(
    snakemake.wildcards.figure,
    table,
    snakemake.output.pdf,
    snakemake.output.png,
    goal_note=f"steps to reach validation error {goals}",
    critical=critical,
)
