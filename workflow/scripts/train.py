import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)
import torch

from sparsedp.pipeline import choose_device, setup_logging, train_trials

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
train_trials(
    outputs=list(snakemake.output),
    dataset_path=snakemake.input.data,
    mask_paths=list(snakemake.input.masks),
    workload=snakemake.params.workload,
    training=snakemake.params.training,
    search=snakemake.params.search,
    device=choose_device(snakemake.params.device),
    mode=snakemake.params.mode,
)
