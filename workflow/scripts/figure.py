import json

import pandas as pd
import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.analysis import this_run
from sparsedp.batch_science import read_external
from sparsedp.jobs import setup_logging
from sparsedp.plots import render
from sparsedp.results import record_made

setup_logging(snakemake.log[0])
table = pd.read_csv(snakemake.input.table)  # the rows at the figure's goal error
# Study-level figures mark each curve's critical batch sizes (at the same goal); trial-level none.
critical = None
if "critical" in snakemake.input.keys():
    critical = this_run(pd.read_csv(snakemake.input.critical))
    critical = critical[critical["goal_error"].isin(table["goal_error"])]
render(
    snakemake.wildcards.figure,
    table,
    snakemake.output.pdf,
    snakemake.output.png,
    critical=critical,
    experiment=snakemake.config.get("experiment"),
    coverage=json.loads(snakemake.params.analysis)["coverage"],  # what each interval claims
    external=read_external(json.loads(snakemake.params.get("external", "[]")), lambda wl: table["goal_error"].unique()),
)

record_made(snakemake.output, snakemake.params.made)
