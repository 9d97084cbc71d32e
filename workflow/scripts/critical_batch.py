import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.analysis import critical_batch_table
from sparsedp.pipeline import read_trials, setup_logging
from sparsedp.reduce import study_table
from sparsedp.results import atomic_path

setup_logging(snakemake.log[0])
table = critical_batch_table(
    study_table(read_trials(snakemake.input)),
    min_saving=snakemake.params.analysis["min_saving"],
    n_bootstrap=snakemake.params.analysis["n_bootstrap"],
)
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)
