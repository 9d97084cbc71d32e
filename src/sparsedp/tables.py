"""The analysis tables of an experiment from its steps-to-result table alone, as the workflow's
rules compute them (replicates_table, critical_batch_table, claims_table): for a results or
reference folder, after the analysis changed, without its trial records. And the markdown a
README quotes of them, generated, so that it says no more than the tables.

    python -m sparsedp.tables reference/quick     # rewrites replicates.csv, critical_batch.csv, claims.csv
    python -m sparsedp.tables reference/quick --readme README.md   # and README.md's generated blocks
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .analysis import at_goals, critical_batch_table, headline_goals, replicate_table, this_run, with_external
from .claims import claims_table
from .config import load_yaml
from .labels import optimizer, percent, pow2, pruning
from .results import atomic_path

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config.yaml"


def analysis_tables(studies: pd.DataFrame, analysis: dict) -> dict[str, pd.DataFrame]:
    """File name -> table, from steps_to_result.csv's rows (a table written before replicates
    existed is replicate 0 throughout)."""
    if "replicate" not in studies:
        studies = studies.assign(replicate=0)
    critical = critical_batch_table(studies, **analysis)
    return {
        "replicates.csv": replicate_table(studies, analysis["coverage"]),
        "critical_batch.csv": with_external(critical, None),  # this run's rows, as the workflow writes them
        "claims.csv": claims_table(studies, critical, analysis["coverage"]),
    }


def write_analysis(folder: Path, analysis: dict) -> None:
    """Write the analysis tables of ``folder``'s steps_to_result.csv beside it."""
    for name, table in analysis_tables(pd.read_csv(folder / "steps_to_result.csv"), analysis).items():
        with atomic_path(folder / name) as tmp:
            table.to_csv(tmp, index=False)
        print(f"wrote {folder / name}: {len(table)} rows")


def _steps(median, lo, hi) -> str:
    """'1104 [1040, 1312]': median steps and interval; '—' not reached; 'inf': beyond the budget."""
    if not np.isfinite(median):
        return "—"
    ends = ", ".join("inf" if np.isinf(v) else f"{v:g}" for v in (lo, hi))
    return f"{median:g}" + (f" [{ends}]" if np.isfinite(lo) or np.isinf(lo) else "")


def _batch(value, lo, hi) -> str:
    """A critical batch size as a power of two with its interval; ±inf: out of the measured range."""

    def one(v):
        return "below" if v == -np.inf else "beyond" if v == np.inf else pow2(v)

    interval = f" [{one(lo)}, {one(hi)}]" if not (np.isnan(lo) or np.isnan(hi)) else ""
    return f"{one(value)}{interval}"


def _curve(row) -> str:
    method = "" if row["sparsity"] == 0 else f" ({pruning(row['pruning'])})"
    return f"{optimizer(row['optimizer'])}, {percent(row['sparsity'])} sparse{method}"


def markdown(folder: Path) -> str:
    """What a README quotes of the experiment in ``folder``, each workload at its headline goal:
    steps-to-result per curve and batch size (median over replicates [interval]), both critical
    batch sizes and the plateau per curve, and every claim's verdict."""
    studies = pd.read_csv(folder / "steps_to_result.csv")
    goals = headline_goals(studies)
    spread = at_goals(pd.read_csv(folder / "replicates.csv"), goals)
    critical = at_goals(this_run(pd.read_csv(folder / "critical_batch.csv")), goals)
    claims = pd.read_csv(folder / "claims.csv", keep_default_na=False)
    replicates = int(spread["n_replicates"].max())
    goal_text = ", ".join(f"{wl} {g:g}" for wl, g in goals.items())
    batches = sorted(spread["batch_size"].unique())
    lines = [
        f"Steps-to-result at the goal error ({goal_text}), median over {replicates} replicate(s) of the best of "
        f"{int(studies['n_trials'].max())} trials, [interval] where replicates allow one; — : the median missed the goal:",
        "",
        "| curve | " + " | ".join(f"B={b}" for b in batches) + " |",
        "| --- |" + " --- |" * len(batches),
    ]
    for _, curve in spread.groupby(["optimizer", "sparsity", "pruning"], sort=True):
        cells = {r["batch_size"]: _steps(r["steps_median"], r["steps_lo"], r["steps_hi"]) for _, r in curve.iterrows()}
        lines.append(f"| {_curve(curve.iloc[0])} | " + " | ".join(cells.get(b, "") for b in batches) + " |")
    lines += [
        "",
        "Critical batch sizes (median over replicates [interval]) and the plateau:",
        "",
        "| curve | paper's (end of perfect scaling) | fitted (S_min (1 + B_crit / B)) | plateau from | three regimes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for _, row in critical.sort_values(["optimizer", "sparsity", "pruning"]).iterrows():
        paper = _batch(row["b_crit_paper"], row["b_crit_paper_lo"], row["b_crit_paper_hi"])
        if row["perfect_scaling_end"] != "observed":
            paper = f"{row['perfect_scaling_end'].replace('_', ' ')}{paper.removeprefix('n/a')}"
        fitted = _batch(row["b_crit_fit"], row["b_crit_fit_lo"], row["b_crit_fit_hi"])
        if row["b_crit_fit_range"] in ("above", "below"):
            fitted += f" ({row['b_crit_fit_range']} the measured range)"
        plateau = (
            f"B={row['plateau_start']:g}" if np.isfinite(row["plateau_start"]) else f"not within B={row['batch_max']:g}"
        )
        lines.append(f"| {_curve(row)} | {paper} | {fitted} | {plateau} | {row['three_regimes']} |")
    lines += ["", "Claims (claims.csv says each rule and why undecided):", ""]
    lines += ["| claim | scope | pruning | definition | ours | holds |", "| --- | --- | --- | --- | --- | --- |"]
    for _, row in claims.iterrows():
        cells = [row[k] for k in ("claim", "scope", "pruning", "definition", "our_value", "holds")]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines) + "\n"


# A README's generated block: the folder it quotes is named in its first line.
BEGIN = "<!-- generated from {folder} by python -m sparsedp.tables --readme: do not edit -->"
END = "<!-- end of generated -->"
BLOCK = re.compile(re.escape(BEGIN).replace(re.escape("{folder}"), r"(\S+)") + r"\n(.*?)" + re.escape(END), re.S)


def readme_blocks(readme: str) -> dict[str, str]:
    """Folder (relative to the repository) -> the block a README quotes of it."""
    return {m[1]: m[2] for m in BLOCK.finditer(readme)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparsedp.tables", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder holding steps_to_result.csv")
    parser.add_argument("--readme", type=Path, help="a README whose generated block to rewrite")
    args = parser.parse_args(argv)
    write_analysis(args.folder, load_yaml(CONFIG)["analysis"])
    if args.readme:  # every block of the README, each from its own folder (relative to the repository)
        text = args.readme.read_text()
        if not readme_blocks(text):
            raise SystemExit(f"{args.readme} has no generated block: add {BEGIN} and {END} where it goes")
        text = BLOCK.sub(lambda m: f"{BEGIN.format(folder=m[1])}\n{markdown(REPO / m[1])}{END}", text)
        args.readme.write_text(text)
        print(f"wrote the generated blocks of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
