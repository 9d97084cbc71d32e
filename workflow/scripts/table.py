import json

import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.jobs import setup_logging
from sparsedp.reduce import read_checked_studies, read_checked_trials, study_table, trial_table
from sparsedp.results import atomic_path

setup_logging(snakemake.log[0])
studies, redo = json.loads(snakemake.params.studies), snakemake.params.redo
if snakemake.params.kind == "studies":
    table = study_table(read_checked_studies(snakemake.input, studies, redo))
else:
    table = trial_table(read_checked_trials(snakemake.input, studies, redo))
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)
