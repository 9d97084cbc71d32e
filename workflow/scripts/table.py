import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.pipeline import read_trials, setup_logging
from sparsedp.reduce import study_table, trial_table
from sparsedp.results import atomic_path

setup_logging(snakemake.log[0])
make_table = {"studies": study_table, "trials": trial_table}[snakemake.params.kind]
with atomic_path(snakemake.output[0]) as tmp:
    make_table(read_trials(snakemake.input)).to_csv(tmp, index=False)
