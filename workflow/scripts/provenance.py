from pathlib import Path

import pandas as pd
import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp import provenance
from sparsedp.jobs import setup_logging
from sparsedp.pages import write_table
from sparsedp.results import record_made, write_json

setup_logging(snakemake.log[0])
results, benchmarks = Path(snakemake.params.results), Path(snakemake.params.benchmarks)
trials = list(snakemake.input.trials)
run = {
    **provenance.made_by(),
    "devices": provenance.devices(trials),
    "trials": len(trials),
    "trials_timed": provenance.timed_trials(trials, results, benchmarks, snakemake.params.pack_digits),
}
write_json(snakemake.output.environment, run)
# Every trial is recorded: what training jobs leave in their checkpoint folders (race locks,
# folders emptied as each job removed its checkpoint) is needed no more.
provenance.remove_empty_folders(Path(snakemake.params.checkpoints))

record_made([snakemake.output.environment], snakemake.params.made)
rule_times = pd.DataFrame(provenance.rule_times(benchmarks), columns=provenance.RULE_TIME_COLUMNS)
write_table(rule_times, snakemake.output.rules, snakemake.output.page, snakemake.config, snakemake.params.made)
