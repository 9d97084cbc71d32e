import json

import pandas as pd
import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.analysis import this_run
from sparsedp.claims import claims_table
from sparsedp.jobs import setup_logging
from sparsedp.pages import write_table

setup_logging(snakemake.log[0])
coverage = json.loads(snakemake.params.analysis)["coverage"]
table = claims_table(pd.read_csv(snakemake.input.studies), this_run(pd.read_csv(snakemake.input.critical)), coverage)
write_table(table, snakemake.output.csv, snakemake.output.page, snakemake.config, snakemake.params.made)
