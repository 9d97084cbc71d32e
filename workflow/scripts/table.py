import json

import src_path  # noqa: F401  (this checkout's sparsedp first on sys.path)

from sparsedp.jobs import setup_logging
from sparsedp.pages import write_table
from sparsedp.reduce import read_checked_studies, read_checked_trials, study_table, trial_table

setup_logging(snakemake.log[0])
expected, redo = json.loads(snakemake.params.studies), snakemake.params.redo
studies = read_checked_studies(snakemake.input.studies, expected, redo)
if snakemake.params.kind == "studies":
    table = study_table(studies)
else:  # every trial of the studies, each marked whether its study chose it as best
    table = trial_table(read_checked_trials(snakemake.input.trials, expected, redo), studies)
if "goal" in snakemake.params.keys():  # a figure's table: the rows at the figure's goal error
    table = table[table["goal_error"] == snakemake.params.goal]
write_table(table, snakemake.output.csv, snakemake.output.page, snakemake.config, snakemake.params.made)
