from pathlib import Path

import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.columns import table
from sparsedp.jobs import setup_logging
from sparsedp.pages import table_page
from sparsedp.results import atomic_path, made_path, read_json, record_made

setup_logging(snakemake.log[0])
csv = snakemake.input.table
made = made_path(csv)  # what made the table, and where, if its job noted it
provenance = read_json(made).get("provenance") if made.exists() else None
page = table_page(table(snakemake.wildcards.table, snakemake.config), snakemake.config, csv, provenance)
with atomic_path(snakemake.output[0]) as tmp:
    Path(tmp).write_text(page)

record_made(snakemake.output, snakemake.params.made)
