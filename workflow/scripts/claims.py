import json

import pandas as pd
import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.analysis import this_run
from sparsedp.claims import claims_table
from sparsedp.jobs import setup_logging
from sparsedp.results import atomic_path, record_made

setup_logging(snakemake.log[0])
coverage = json.loads(snakemake.params.analysis)["coverage"]
table = claims_table(pd.read_csv(snakemake.input.studies), this_run(pd.read_csv(snakemake.input.critical)), coverage)
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)

record_made(snakemake.output, snakemake.params.made)
