import json

import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.jobs import setup_logging
from sparsedp.pages import write_table
from sparsedp.reduce import noise_table, read_checked_noise

setup_logging(snakemake.log[0])
expected = json.loads(snakemake.params.expected)
records = read_checked_noise(snakemake.input.noise, expected, snakemake.params.redo)
table = noise_table(records, json.loads(snakemake.params.workloads))
write_table(table, snakemake.output.csv, snakemake.output.page, snakemake.config, snakemake.params.made)
