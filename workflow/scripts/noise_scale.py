import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)
import torch

from sparsedp.config import sparsity_from_label
from sparsedp.noise import noise_scale_job
from sparsedp.pipeline import choose_device, setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
noise_scale_job(
    snakemake.input.data,
    list(snakemake.input.masks),
    snakemake.output[0],
    dataset=snakemake.wildcards.dataset,
    model=snakemake.wildcards.model,
    sparsity=sparsity_from_label(snakemake.wildcards.sparsity),
    settings=snakemake.params.noise_scale,
    device=choose_device(snakemake.params.device),
)
