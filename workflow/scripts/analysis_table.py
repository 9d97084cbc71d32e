import json

import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.analysis import critical_batch_table, replicate_table, with_external
from sparsedp.batch_science import read_external
from sparsedp.jobs import setup_logging
from sparsedp.pages import write_table
from sparsedp.reduce import read_checked_studies, study_table

setup_logging(snakemake.log[0])
analysis = json.loads(snakemake.params.analysis)
studies = read_checked_studies(snakemake.input.studies, json.loads(snakemake.params.studies), snakemake.params.redo)
if snakemake.params.kind == "replicates":
    table = replicate_table(study_table(studies), analysis["coverage"])
else:
    goals = json.loads(snakemake.params.get("goals", "{}"))  # per workload, with external_curves
    external = read_external(json.loads(snakemake.params.get("external", "[]")), goals.get)
    table = with_external(critical_batch_table(study_table(studies), **analysis), external, **analysis)
write_table(table, snakemake.output.csv, snakemake.output.page, snakemake.config, snakemake.params.made)
