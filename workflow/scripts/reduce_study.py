import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.pipeline import read_trials, setup_logging
from sparsedp.reduce import reduce_study
from sparsedp.results import write_json

setup_logging(snakemake.log[0])
write_json(snakemake.output[0], reduce_study(read_trials(snakemake.input)))
