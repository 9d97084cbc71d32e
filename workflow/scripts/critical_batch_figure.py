import json

import pandas as pd
import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.analysis import this_run
from sparsedp.jobs import setup_logging
from sparsedp.plots import render_critical_batch_goal
from sparsedp.results import record_made

setup_logging(snakemake.log[0])
render_critical_batch_goal(
    this_run(pd.read_csv(snakemake.input.critical)),
    snakemake.output.pdf,
    snakemake.output.png,
    experiment=snakemake.config.get("experiment"),
    coverage=json.loads(snakemake.params.analysis)["coverage"],  # what each interval claims
)

record_made(snakemake.output, snakemake.params.made)
