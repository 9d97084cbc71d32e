import json

import pandas as pd
import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.analysis import critical_batch_table
from sparsedp.jobs import setup_logging
from sparsedp.results import atomic_path

setup_logging(snakemake.log[0])
analysis = json.loads(snakemake.params.analysis)
table = critical_batch_table(pd.read_csv(snakemake.input[0]), analysis["min_saving"], analysis["n_bootstrap"])
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)
