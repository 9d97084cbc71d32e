"""The column dictionary: every table the workflow writes, what one row of it is and what each
column means, written once and rendered into docs/tables.md, the report's captions and each
table's HTML page (pages.py). Torch-free: the Snakefile reads it at parse time.

    python -m sparsedp.columns docs/tables.md    # rewrites the tables' documentation

Markup of the texts: `name` is a column, value or file name (code); {analysis.min_saving:%} is a
config setting, rendered as its value (``%``: as a percentage) followed by its key.
"""

from __future__ import annotations

import html
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import registry
from .config import TRIAL_FIGURES, figure_goal, load_yaml

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Column:
    names: tuple[str, ...]  # consecutive columns sharing one meaning
    meaning: str


@dataclass(frozen=True)
class Table:
    name: str  # the file's stem: <name>.csv
    rows: str  # what one row is, e.g. "one row per claim, scope and definition"
    group: str  # the report's subcategory
    description: str
    columns: tuple[Column, ...]
    folder: str = "tables"  # under results/<experiment>/

    @property
    def column_names(self) -> list[str]:
        return [name for column in self.columns for name in column.names]


def _columns(*entries) -> tuple[Column, ...]:
    """Columns from (names, meaning) pairs; names separated by spaces."""
    return tuple(Column(tuple(names.split()), meaning) for names, meaning in entries)


def _code_list(names) -> str:
    return ", ".join(f"`{n}`" for n in names)


STUDIES, ANALYSIS, FIGURE_DATA = "Studies and trials", "Analysis", "Figure data"
WORKLOAD = _columns(
    ("workload", "the config's name for a (dataset, model, optimizer, schedule) combination"),
    ("dataset model optimizer", "what the workload trains, and with which optimizer"),
)
PRUNING = _columns(
    (
        "pruning",
        # Named, not listed from the registry: a method added there changes no caption, so redoes no table.
        "how the masks were made at initialisation: a pruning method of `sparsedp.registry.PRUNING` (the paper's: "
        f"`snip`); `{registry.DENSE}` for the dense network (sparsity 0), trained once and shared by every method",
    ),
    ("sparsity", "the fraction of prunable weights removed at initialisation"),
)
# What a study is and how its trials were trained: the first columns of steps_to_result.csv and trials.csv.
STUDY = (
    *WORKLOAD,
    *_columns(("schedule", "the learning rate schedule: `constant` or `linear_decay`")),
    *PRUNING,
    *_columns(
        ("batch_size", "the study's batch size"),
        (
            "replicate",
            "which repeat of the study (0 to `replicates` − 1): the same search with other seeds (initialisations, "
            "masks, data order), an independent best-of-`n_trials` measurement; 0 is the paper's single study",
        ),
        (
            "mode",
            "`race` (once a trial reaches the tightest goal at step S, the others of its race group stop at S, "
            "status `pruned`: the study's result is exact) or `census` (every trial to the goal or its budget: the "
            "studies a trial-level figure shows)",
        ),
        ("budget_steps", "the most steps a trial may train"),
        ("eval_every", "training steps between validation checks"),
    ),
)
GOAL = (
    "goal_error",
    "the validation error this row is about (one run measures every goal of the workload's `goal_errors`)",
)
METAPARAMETERS = " ".join(registry.METAPARAMETERS)
NOT_SEARCHED = (
    "empty where the workload does not search them (`momentum`: Momentum and Nesterov only; `beta1` and "
    "`epsilon`: Adam only; `decay_steps` and `end_factor`: a `linear_decay` schedule only)"
)
# A steps-to-result curve: one workload, pruning method, sparsity and goal (analysis.KEYS).
CURVE = _columns(
    ("workload dataset model optimizer pruning sparsity goal_error", "the curve, as in `steps_to_result.csv`")
)
INTERVAL = "median over replicates and its interval"
COVERAGE = (
    "the interval holds the median with probability at least {analysis.coverage:%}, by order statistics: the k-th "
    "smallest and k-th largest replicate (75% with 3 replicates at the default, none with one or two)"
)

TABLES = {
    table.name: table
    for table in (
        Table(
            "steps_to_result",
            "one row per study and goal error",
            STUDIES,
            "Steps-to-result of every study (workload, pruning method, sparsity, batch size, replicate): its best "
            "trial, that trial's metaparameters, and how many of the study's trials ended in each status. The "
            "study's result is the best trial's steps to reach the goal error.",
            (
                *STUDY,
                *_columns(
                    ("n_trials", "trials in the study"),
                    GOAL,
                    (
                        "best_trial",
                        "the complete trial with the lowest steps-to-result (ties to the lowest number); empty if "
                        "none reached the goal",
                    ),
                    (
                        "steps_to_result",
                        "the best trial's training steps to reach `goal_error`: the study's result; empty if no "
                        "trial reached it",
                    ),
                    (METAPARAMETERS, f"the best trial's metaparameters; {NOT_SEARCHED}"),
                    (
                        "n_complete n_incomplete n_infeasible n_pruned",
                        "how many trials ended complete (reached the goal), incomplete (spent the budget), "
                        "infeasible (diverged) and pruned (stopped by a race): a race study typically reads 1 "
                        "complete and the rest pruned, a census study counts every trial's own status",
                    ),
                    (
                        "best_at_edge",
                        "the searched metaparameters whose best value is the lowest or highest any trial tried "
                        "(e.g. `learning_rate highest`): the optimum may lie outside the search space; empty if none",
                    ),
                    ("code", "digest of the training code that made the trials (a change of it retrains them)"),
                ),
            ),
        ),
        Table(
            "trials",
            "one row per trial and goal error",
            STUDIES,
            "Every trial of every study: what it tried and what came of it at each goal error.",
            (
                *STUDY,
                *_columns(
                    ("trial", "its number in the study: its Sobol point, the same in every replicate"),
                    ("seed", "the seed of its initialisation, mask and data order: `trial` + 1000 × `replicate`"),
                    (METAPARAMETERS, f"its metaparameters; {NOT_SEARCHED}"),
                    GOAL,
                    (
                        "status",
                        "`complete` (reached `goal_error`), `incomplete` (spent `budget_steps` first), `infeasible` "
                        "(diverged: a non-finite training loss) or `pruned` (race mode only: stopped where another "
                        "trial of its race group, {search.race_group} consecutive trial numbers, had already reached "
                        "the goal, so it could not have had the lowest steps-to-result)",
                    ),
                    (
                        "best",
                        "whether its study's reduction chose it as the best trial (`best_trial` in "
                        "`steps_to_result.csv`): the gold star of the trial-level figures",
                    ),
                    ("steps_to_result", "steps to reach `goal_error`, only when complete"),
                    ("steps_trained", "steps it trained before it stopped"),
                    ("diverged_at_step", "the step of the non-finite loss, only when infeasible"),
                    ("code", "digest of the training code that made it (a change of it retrains it)"),
                ),
            ),
        ),
        Table(
            "replicates",
            "one row per study and goal error, over its replicates",
            ANALYSIS,
            "Steps-to-result over each study's replicates: each replicate searches the same metaparameters with "
            f"other seeds, so its best-of-`n_trials` result is an independent measurement; {COVERAGE}.",
            (
                *CURVE,
                *_columns(
                    ("batch_size", "the study's batch size"),
                    ("n_replicates", "its replicates"),
                    ("n_reached", "those whose best trial reached the goal"),
                    (
                        "steps_median",
                        "the median of their steps-to-result (the lower one for an even count; a replicate that "
                        "missed the goal counts as infinitely many steps); empty if that median missed it",
                    ),
                    (
                        "steps_lo steps_hi",
                        "the median's interval (`inf`: beyond the budget); empty with too few replicates",
                    ),
                    ("interval_coverage", "the probability that interval holds the median; empty without one"),
                    (
                        "saving saving_lo saving_hi",
                        "the saving of steps from the batch size half as large, 1 − steps(B) / steps(B/2), per "
                        "replicate (replicate r against replicate r), then median and interval; perfect scaling "
                        "saves 0.5; empty where B/2 was not measured",
                    ),
                ),
            ),
        ),
        Table(
            "critical_batch",
            "one row per curve and goal error",
            ANALYSIS,
            "Critical batch sizes of every steps-to-result curve whose median reached the goal at some batch size, "
            "by two definitions: the paper's (the end of perfect scaling) and the fit's (McCandlish et al. 2018). "
            f"Each is measured on every replicate of the curve and reported as the {INTERVAL}: {COVERAGE}.",
            (
                *CURVE,
                *_columns(
                    ("n_replicates", "replicates of its studies"),
                    ("n_points", "batch sizes whose median steps-to-result reached the goal"),
                    ("batch_min batch_max", "the smallest and largest of them"),
                    (
                        "b_crit_paper b_crit_paper_lo b_crit_paper_hi",
                        "the paper's critical batch size, the end of perfect scaling: the last batch size before a "
                        "doubling saves less than {analysis.min_saving:%} of the steps (perfect scaling saves 50%); "
                        f"{INTERVAL} (`-inf`: below the measured batch sizes, `inf`: beyond them); empty unless the "
                        "median was observed inside the measured batch sizes",
                    ),
                    (
                        "perfect_scaling_end",
                        "where the median end of perfect scaling lies: `observed`; `below_range` (the first measured "
                        "doubling already saves too little); `above_range` (every measured doubling saves enough); "
                        "`no_doubling` (no two reached batch sizes a doubling apart)",
                    ),
                    ("n_fits", "replicates reaching the goal at three or more batch sizes, each fitted"),
                    (
                        "s_min s_min_lo s_min_hi",
                        "S_min of the fit steps(B) = S_min (1 + B_crit / B), the fewest steps any batch size could "
                        f"take: {INTERVAL} over the fitted replicates",
                    ),
                    (
                        "b_crit_fit b_crit_fit_lo b_crit_fit_hi",
                        f"B_crit of that fit, where it needs twice S_min: {INTERVAL}",
                    ),
                    (
                        "b_crit_fit_range",
                        "`inside` (`batch_min` to `batch_max`), `above` or `below` them: then `b_crit_fit` is the "
                        "fit's extrapolation, not a measurement (figures name it without drawing it; claims do not "
                        "decide on it); empty without a fit",
                    ),
                    (
                        "plateau_start",
                        "the smallest batch size from which two doublings in a row each save less than "
                        "{analysis.plateau_saving:%} of the median steps; empty if the measured batch sizes do not "
                        "reach such a plateau",
                    ),
                    (
                        "three_regimes",
                        "`yes` if the intervals of the savings (`replicates.csv`) show the paper's three regimes "
                        "(two consecutive doublings each saving at least {analysis.min_saving:%}, then a later one "
                        "saving less than {analysis.plateau_saving:%}), `no` if not even their other ends could, "
                        "`undecided` otherwise (always with a single replicate, and where the batch sizes have "
                        "too few doublings to show them)",
                    ),
                    ("interval_coverage", "the least coverage of the curve's intervals; empty without intervals"),
                    (
                        "source",
                        "whose curve: `this run`, or the label of another source's data (config key "
                        "`external_curves`: dense curves in Shallue et al.'s data layout); the claims, the figures' "
                        "marks and the other tables use this run's rows only",
                    ),
                ),
            ),
        ),
        Table(
            "claims",
            "one row per claim, scope and definition",
            ANALYSIS,
            "The paper's claims against this run's results. Every verdict is taken from intervals over each "
            "study's replicates, never from one best-of-n point: with a single replicate every claim is "
            "undecided. Each workload is judged at one goal error: the paper's where measured, else its tightest.",
            _columns(
                (
                    "claim",
                    "which claim: `a_sparse_steps_ratio` (MNIST, each workload: a 90% sparse network needs about "
                    "2^1.5 times the steps of the dense one at small batch sizes), `b_sparse_critical_batch` (MNIST "
                    "Momentum and CIFAR-10: the critical batch size at 90% sparsity exceeds the dense one's, paper "
                    "2^11 against 2^9), `c_momentum_vs_sgd` (MNIST, each sparsity: Momentum and Nesterov exploit "
                    "larger batch sizes than SGD), `d_three_regimes` (each curve: perfect scaling, diminishing "
                    "returns, a plateau)",
                ),
                ("scope", "the workload, or workloads and sparsity, it is checked for"),
                (
                    "definition",
                    "for the critical batch size claims b and c, which one: `paper: end of perfect scaling` or "
                    "`fit: S_min (1 + B_crit / B)`; empty otherwise",
                ),
                (
                    "pruning",
                    "the pruning method whose sparse networks are judged (against the same dense ones); "
                    f"`{registry.DENSE}` where the experiment has no sparse network",
                ),
                ("statement", "the claim in words"),
                ("paper_value", "what the paper reports"),
                ("our_value", "what this run measured: the median over replicates, its interval in brackets"),
                (
                    "holds",
                    "`yes`, `no` or `undecided`, by the claim's rule. a: the ratio of steps at 90% over 0% "
                    "sparsity, per replicate, at the smallest batch size whose median both reached; holds if its "
                    "interval lies within a factor 2^0.5 of the paper's 2^1.5 (2.0 to 4.0), fails if wholly "
                    "outside. b: holds if the interval of B_crit at 90% lies wholly above the dense one's, fails "
                    "if wholly below. c: the same rule for Momentum and for Nesterov against SGD; holds if every "
                    "pair holds, fails if any fails. d: the curve's `three_regimes` in `critical_batch.csv`. "
                    "Otherwise undecided: overlapping intervals, or a fit extrapolated beyond its batch sizes",
                ),
                (
                    "note",
                    "the rule applied and, for undecided, why (one replicate, a missing study or workload, fewer "
                    "than three reached batch sizes to fit, a critical batch size outside the measured batch "
                    "sizes, overlapping intervals); also where this run's protocol differs from the paper's (goal "
                    "error, trials per study, replicates)",
                ),
                ("smallest_experiment", "the least a configuration must train to decide this claim (yes or no)"),
            ),
        ),
        Table(
            "noise_scale",
            "one row per workload, pruning method and sparsity",
            ANALYSIS,
            "The gradient noise scale at initialisation (McCandlish et al. 2018) of the networks the first "
            "{noise_scale.seeds} trials start from, pruned by each method: estimated from squared gradient norms "
            "at two batch sizes, per network, averaged over draws. It does not depend on the optimizer: workloads "
            "that share a network share its values.",
            (
                *WORKLOAD,
                *PRUNING,
                *_columns(
                    ("batch_small batch_big", "the two batch sizes whose squared gradient norms give the estimates"),
                    ("draws", "pairs of batches drawn per network"),
                    ("networks", "networks measured"),
                    (
                        "g2 g2_se",
                        "|G|², the squared norm of the gradient of the mean training cross-entropy with respect to "
                        "the kept parameters (the unbiased two-batch-size estimate), and its standard error over the "
                        "networks",
                    ),
                    (
                        "trace_sigma trace_sigma_se",
                        "tr(Σ), the trace of the per-example gradient covariance, and its standard error",
                    ),
                    (
                        "b_simple b_simple_se",
                        "the simple noise scale B_simple = tr(Σ) / |G|², taken per network, averaged over the "
                        "networks, and its standard error",
                    ),
                ),
            ),
        ),
        Table(
            "rule_times",
            "one row per rule with a timed job",
            "Provenance",
            "Wall time of each rule's jobs in this results tree, from Snakemake's benchmark file of each job "
            "(`benchmarks/<rule>/`). A job without one (its results restored from another tree, or made before "
            "benchmark files were kept) is untimed and counted in no row. The commit, versions and devices that "
            "made the results are in the report's introduction, in `provenance/environment.json`, and in the note "
            "beside each result (`.<file>.made`, key `provenance`).",
            _columns(
                ("rule", "the workflow's rule"),
                ("jobs_timed", "its jobs with a benchmark file"),
                ("wall_s_total wall_s_median wall_s_max", "their wall times in seconds: summed, median, longest"),
            ),
            folder="provenance",
        ),
    )
}


def figure_table(figure: str, config: dict) -> Table:
    """A figure's table: the rows of trials.csv (trial-level figures) or steps_to_result.csv it plots."""
    source = TABLES["trials" if figure in TRIAL_FIGURES else "steps_to_result"]
    spec = config["figures"][figure]
    rows = "every trial of its chosen studies" if source.name == "trials" else "the best trial of each study"
    return Table(
        figure,
        f"{rows}, one row per {source.rows.removeprefix('one row per ')}",
        FIGURE_DATA,
        f"The rows `{figure}` plots: {rows} of its workloads ({_code_list(spec['workloads'])}) at its goal error "
        f"{figure_goal(config, figure):g}; the columns of `{source.name}.csv`.",
        source.columns,
    )


def table(name: str, config: dict) -> Table:
    """The table ``name`` of an experiment: one of TABLES or a figure's."""
    return TABLES[name] if name in TABLES else figure_table(name, config)


SETTING = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)+)(?::(%))?\}")
CODE_SPAN = re.compile(r"`([^`]+)`")


def with_settings(text: str, config: dict) -> str:
    """``text`` with each {setting} replaced by its value in ``config`` and its key."""

    def value(match):
        found = config
        for key in match[1].split("."):
            found = found[key]
        shown = f"{100 * found:g}%" if match[2] else f"{found}"
        return f"{shown} (`{match[1]}`)"

    return SETTING.sub(value, text)


def as_html(text: str) -> str:
    return CODE_SPAN.sub(r"<code>\1</code>", html.escape(text, quote=False))


def as_rst(text: str) -> str:
    """reStructuredText: code as inline literals; a bar (|G|) would start a substitution."""
    return CODE_SPAN.sub(r"``\1``", text.replace("|", r"\|"))


def rendered(table: Table, config: dict, markup) -> tuple[str, list[tuple[list[str], str]]]:
    """The description (what one row is, then the rest) and (column names, meaning) of ``table``
    with ``config``'s settings, in ``markup``."""
    description = markup(with_settings(f"{table.rows[0].upper()}{table.rows[1:]}. {table.description}", config))
    return description, [(list(c.names), markup(with_settings(c.meaning, config))) for c in table.columns]


def caption(table: Table, config: dict) -> str:
    """The report's caption of ``table`` (reStructuredText): its description and columns."""
    description, columns = rendered(table, config, as_rst)
    items = [f"- {', '.join(f'``{n}``' for n in names)}: {meaning}" for names, meaning in columns]
    return "\n".join([description, "", "Columns:", "", *items]) + "\n"


def markdown(config: dict) -> str:
    """docs/tables.md: every table of TABLES with its columns, and the figures' tables."""
    lines = [
        "# Tables and their columns",
        "",
        "<!-- generated by python -m sparsedp.columns docs/tables.md from src/sparsedp/columns.py: do not edit -->",
        "",
        "The tables an experiment writes to `results/<experiment>/tables/` (the run's provenance to "
        "`results/<experiment>/provenance/`), each as a CSV file and as an HTML page "
        "(`<name>.html`: the rows, sortable by any column, with these descriptions) that the report shows. Empty "
        "cells are missing values (pandas reads them as NaN). Settings are given with `config.yaml`'s values and "
        "their config key; a run's report states the run's own.",
    ]
    for entry in TABLES.values():
        description, columns = rendered(entry, config, lambda text: text.replace("|", r"\|"))
        heading = f"{entry.name}.csv" if entry.folder == "tables" else f"{entry.folder}/{entry.name}.csv"
        lines += ["", f"## {heading}", "", description, ""]
        lines += ["| column | meaning |", "| --- | --- |"]
        lines += [f"| {_code_list(names)} | {meaning} |" for names, meaning in columns]
    trial_level = [f for f in registry.FIGURES if f in TRIAL_FIGURES]
    study_level = [f for f in registry.FIGURES if f not in TRIAL_FIGURES]
    lines += [
        "",
        "## The figures' tables",
        "",
        "Each figure of the config's `figures` has its table, `<figure>.csv`: the rows it plots, at the figure's goal "
        f"error. Those of {_code_list(study_level)} are rows of `steps_to_result.csv` (the best trial of each "
        f"study of the figure's workloads), those of {_code_list(trial_level)} rows of `trials.csv` (every trial of "
        "the figure's chosen studies), with the same columns.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    path = Path((sys.argv[1:] if argv is None else argv)[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(load_yaml(REPO / "config.yaml")))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
