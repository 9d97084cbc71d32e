import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)
import torch

from sparsedp.config import sparsity_from_label
from sparsedp.pipeline import choose_device, setup_logging, snip_mask

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
snip_mask(
    snakemake.input[0],
    snakemake.output[0],
    model=snakemake.wildcards.model,
    sparsity=sparsity_from_label(snakemake.wildcards.sparsity),
    seed=int(snakemake.wildcards.seed),
    snip_config=snakemake.params.snip,
    device=choose_device(snakemake.params.device),
)
