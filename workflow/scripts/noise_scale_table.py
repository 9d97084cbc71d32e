import json

import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.jobs import setup_logging
from sparsedp.reduce import noise_table, read_checked_noise
from sparsedp.results import atomic_path, record_made

setup_logging(snakemake.log[0])
expected = json.loads(snakemake.params.expected)
records = read_checked_noise(snakemake.input.noise, expected, snakemake.params.redo)
table = noise_table(records, json.loads(snakemake.params.workloads))
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)

record_made(snakemake.output, snakemake.params.made)
