import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.pipeline import read_trials, setup_logging
from sparsedp.reduce import study_table, trial_table
from sparsedp.results import atomic_path

setup_logging(snakemake.log[0])
if snakemake.params.kind == "studies":
    table = study_table(read_trials(snakemake.input))
else:
    table = trial_table(read_trials(snakemake.input.trials), read_trials(snakemake.input.studies))
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)
