import pandas as pd
import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.jobs import setup_logging
from sparsedp.plots import render

setup_logging(snakemake.log[0])
# Study-level figures mark each curve's critical batch size; trial-level figures take none.
critical = pd.read_csv(snakemake.input.critical) if "critical" in snakemake.input.keys() else None
render(
    snakemake.wildcards.figure,
    pd.read_csv(snakemake.input.table),
    snakemake.output.pdf,
    snakemake.output.png,
    critical=critical,
    experiment=snakemake.config.get("experiment"),
)
