import json

import pandas as pd
import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.analysis import at_goals, headline_goals, this_run
from sparsedp.jobs import setup_logging
from sparsedp.plots import render_noise_scale
from sparsedp.results import record_made

setup_logging(snakemake.log[0])
critical = this_run(pd.read_csv(snakemake.input.critical))
render_noise_scale(
    pd.read_csv(snakemake.input.noise),
    at_goals(critical, headline_goals(critical)),  # each workload's B_crit at its headline goal
    snakemake.output.pdf,
    snakemake.output.png,
    experiment=snakemake.config.get("experiment"),
    coverage=json.loads(snakemake.params.analysis)["coverage"],  # what each interval claims
)

record_made(snakemake.output, snakemake.params.made)
