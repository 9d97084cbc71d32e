import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.noise import noise_table
from sparsedp.pipeline import setup_logging
from sparsedp.results import atomic_path, read_json

setup_logging(snakemake.log[0])
table = noise_table([read_json(p) for p in snakemake.input], snakemake.params.workloads)
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)
