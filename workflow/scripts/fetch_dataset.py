import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.pipeline import fetch_dataset, setup_logging

setup_logging(snakemake.log[0])
fetch_dataset(snakemake.wildcards.dataset, snakemake.output[0], snakemake.params.data)
