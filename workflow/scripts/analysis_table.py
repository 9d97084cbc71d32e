import json

import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.analysis import critical_batch_table, replicate_table
from sparsedp.jobs import setup_logging
from sparsedp.reduce import read_checked_studies, study_table
from sparsedp.results import atomic_path, record_made

setup_logging(snakemake.log[0])
analysis = json.loads(snakemake.params.analysis)
studies = read_checked_studies(snakemake.input.studies, json.loads(snakemake.params.studies), snakemake.params.redo)
if snakemake.params.kind == "replicates":
    table = replicate_table(study_table(studies), analysis["coverage"])
else:
    table = critical_batch_table(study_table(studies), **analysis)
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)

record_made(snakemake.output, snakemake.params.made)
