import json

import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.jobs import read_trials, setup_logging
from sparsedp.reduce import reduce_study
from sparsedp.results import record_made, write_record

setup_logging(snakemake.log[0])
study = reduce_study(read_trials(snakemake.input.trials), json.loads(snakemake.params.identity), snakemake.params.redo)
write_record(snakemake.output[0], study)

record_made(snakemake.output, snakemake.params.made)
