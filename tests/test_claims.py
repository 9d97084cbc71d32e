"""The claims table on hand-made study and critical-batch tables: holds, fails, undecided."""

import numpy as np
import pandas as pd
import pytest

from sparsedp.analysis import b_crit_range
from sparsedp.claims import COLUMNS, claims_table

BATCH = [16, 32, 64, 128, 256, 512, 1024, 2048]


def method(sparsity, pruning="snip"):
    return "none" if sparsity == 0 else pruning


def curve(optimizer, sparsity, steps, batch=BATCH, dataset="mnist", goal=0.02, n_trials=100, pruning="snip"):
    workload = f"{dataset}_{optimizer}"
    return [
        dict(workload=workload, dataset=dataset, model="simple_cnn" if dataset == "mnist" else "resnet8",
             optimizer=optimizer, schedule="constant", pruning=method(sparsity, pruning), sparsity=sparsity,
             batch_size=b, goal_error=goal, steps_to_result=s, n_trials=n_trials)
        for b, s in zip(batch, steps)
    ]  # fmt: skip


def fit(optimizer, sparsity, b_crit, lo, hi, dataset="mnist", eops=np.nan, n_points=8, goal=0.02, pruning="snip"):
    """A curve's row of the critical-batch table, its curve reaching the goal at every batch size of BATCH."""
    return dict(workload=f"{dataset}_{optimizer}", dataset=dataset, model="simple_cnn" if dataset == "mnist" else "resnet8", optimizer=optimizer, pruning=method(sparsity, pruning), sparsity=sparsity, goal_error=goal,
                n_points=n_points, batch_min=BATCH[0], batch_max=BATCH[-1],
                s_min=100.0, b_crit=b_crit, b_crit_lo=lo, b_crit_hi=hi, b_crit_range=str(b_crit_range(b_crit, BATCH[0], BATCH[-1])),
                end_of_perfect_scaling=eops, perfect_scaling_end="observed" if np.isfinite(eops) else "above_range")  # fmt: skip


def perfect(s0):
    """Steps halving with every doubling of the batch size."""
    return [s0 / 2**i for i in range(len(BATCH))]


def claims(studies, fits):
    table = claims_table(pd.DataFrame(studies), pd.DataFrame(fits, columns=list(fit("sgd", 0, 1, 1, 1))))
    assert list(table.columns) == COLUMNS
    assert set(table["holds"]) <= {"yes", "no", "undecided"}
    return table


def row(table, claim, scope=None):
    rows = table[(table["claim"] == claim) & ((table["scope"] == scope) if scope else True)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


@pytest.mark.parametrize(
    "ratio,holds", [(2.8, "yes"), (2.0, "yes"), (4.0, "yes"), (1.9, "no"), (4.5, "no"), (0.8, "no")]
)
def test_steps_ratio_holds_within_a_factor_sqrt2_of_2_to_the_1_5(ratio, holds):
    studies = curve("momentum", 0.0, perfect(4096)) + curve("momentum", 0.9, perfect(4096 * ratio))
    a = row(claims(studies, []), "a_sparse_steps_ratio")
    assert a["holds"] == holds and a["our_value"].startswith(f"{ratio:.2f}")
    assert "[2.0, 4.0]" in a["note"] and "batch size 16" in a["note"]


def test_steps_ratio_is_taken_at_the_smallest_batch_size_both_reached():
    dense = perfect(4096)
    sparse = [None] + perfect(8192 * 1.5)[1:]  # batch 16 not reached at 90%: ratio 3.0 at batch 32
    a = row(claims(curve("sgd", 0.0, dense) + curve("sgd", 0.9, sparse), []), "a_sparse_steps_ratio")
    assert a["holds"] == "yes" and a["our_value"].startswith("3.00")
    assert "at batch size 32" in a["note"] and "16 was not reached by both" in a["note"]


def test_steps_ratio_is_undecided_without_a_90_percent_curve_or_a_common_point():
    only_dense = curve("momentum", 0.0, perfect(4096)) + curve("momentum", 0.5, perfect(8192))
    a = row(claims(only_dense, []), "a_sparse_steps_ratio")
    assert a["holds"] == "undecided" and "no 90% sparsity studies" in a["note"]
    never = curve("momentum", 0.0, perfect(4096)) + curve("momentum", 0.9, [None] * len(BATCH))
    a = row(claims(never, []), "a_sparse_steps_ratio")
    assert a["holds"] == "undecided" and "no batch size at which both" in a["note"]


def mnist_momentum(b_sparse, b_dense):
    studies = curve("momentum", 0.0, perfect(4096)) + curve("momentum", 0.9, perfect(4096 * 2.8))
    return studies, [fit("momentum", 0.9, *b_sparse), fit("momentum", 0.0, *b_dense)]


@pytest.mark.parametrize(
    "b_sparse,b_dense,holds,reason",
    [
        ((1500, 1200, 1900), (500, 400, 650), "yes", ""),
        ((300, 250, 380), (500, 400, 650), "no", ""),
        ((600, 300, 1000), (500, 400, 650), "undecided", "intervals of mnist_momentum 90% and mnist_momentum 0% overlap"),
        ((1500, np.nan, np.nan), (500, np.nan, np.nan), "yes", "point estimates compared"),
        ((8000, 6000, 9000), (500, 400, 650), "undecided", "outside the batch sizes that reached the goal"),
        ((np.nan, np.nan, np.nan), (500, 400, 650), "undecided", "fewer than the 3 a fit needs"),
    ],
)  # fmt: skip
def test_sparse_critical_batch_compares_the_68_percent_intervals(b_sparse, b_dense, holds, reason):
    studies, fits = mnist_momentum(b_sparse, b_dense)
    if np.isnan(b_sparse[0]):  # two reached points: no fit
        studies = [s for s in studies if s["sparsity"] == 0.0 or s["batch_size"] <= 32]
    b = row(claims(studies, fits), "b_sparse_critical_batch")
    assert b["holds"] == holds and reason in b["note"]
    assert b["paper_value"] == "2^11 (90%) vs 2^9 (0%)" and b["our_value"].startswith("mnist_momentum 90%: ")


def test_sparse_critical_batch_is_undecided_without_a_momentum_or_cifar_workload():
    b = row(claims(curve("sgd", 0.0, perfect(4096)), []), "b_sparse_critical_batch")
    assert b["holds"] == "undecided" and "no MNIST Momentum or CIFAR-10 workload" in b["note"]


def test_sparse_critical_batch_covers_cifar_too():
    studies = curve("nesterov", 0.0, perfect(4096), dataset="cifar10", goal=0.4)
    studies += curve("nesterov", 0.9, perfect(8192), dataset="cifar10", goal=0.4)
    fits = [
        fit("nesterov", s, b, lo, hi, "cifar10", goal=0.4)
        for s, b, lo, hi in [(0.9, 900, 800, 1000), (0.0, 300, 250, 350)]
    ]
    b = row(claims(studies, fits), "b_sparse_critical_batch", "cifar10_nesterov")
    assert b["holds"] == "yes" and "Figure 3" in b["statement"]


def test_momentum_vs_sgd_is_undecided_without_sgd_as_in_the_quick_preset():
    studies, fits = mnist_momentum((1500, 1200, 1900), (500, 400, 650))
    c = row(claims(studies, fits), "c_momentum_vs_sgd")
    assert c["holds"] == "undecided" and "needs an MNIST SGD workload" in c["note"] and "momentum" in c["note"]


def test_momentum_vs_sgd_per_sparsity_holds_only_if_every_momentum_optimizer_beats_sgd():
    studies = [r for opt in ("sgd", "momentum", "nesterov") for s in (0.0, 0.9) for r in curve(opt, s, perfect(4096))]
    fits = [
        fit("sgd", 0.0, 200, 150, 250), fit("momentum", 0.0, 800, 700, 900), fit("nesterov", 0.0, 900, 800, 1000),
        fit("sgd", 0.9, 400, 300, 500), fit("momentum", 0.9, 1200, 1000, 1400), fit("nesterov", 0.9, 200, 150, 250),
    ]  # fmt: skip
    table = claims(studies, fits)
    dense = row(table, "c_momentum_vs_sgd", "mnist_sgd vs mnist_momentum, mnist_nesterov, sparsity 0%")
    sparse = row(table, "c_momentum_vs_sgd", "mnist_sgd vs mnist_momentum, mnist_nesterov, sparsity 90%")
    assert dense["holds"] == "yes" and sparse["holds"] == "no"
    assert "mnist_nesterov 90%: 2^7.6" in sparse["our_value"]
    fits[1] = fit("momentum", 0.0, 220, 100, 300)  # overlaps SGD's interval
    assert row(claims(studies, fits), "c_momentum_vs_sgd", dense["scope"])["holds"] == "undecided"


def test_notes_name_where_the_protocol_differs_from_the_paper():
    studies = curve("momentum", 0.0, perfect(4096), goal=0.05, n_trials=10)
    studies += curve("momentum", 0.9, perfect(4096 * 2.8), goal=0.05, n_trials=10)
    a = row(claims(studies, []), "a_sparse_steps_ratio")
    assert "goal error 0.05 (paper 0.02)" in a["note"] and "10 trials per study (paper 100)" in a["note"]


def test_each_workload_is_judged_at_the_papers_goal_where_measured_else_its_tightest():
    # Goals 0.05 and 0.02: the paper's 0.02 decides (ratio 3); at 0.05 the ratio would be 1.
    studies = (curve("momentum", 0.0, perfect(4096)) + curve("momentum", 0.9, perfect(3 * 4096))
               + curve("momentum", 0.0, perfect(1024), goal=0.05) + curve("momentum", 0.9, perfect(1024), goal=0.05))  # fmt: skip
    a = row(claims(studies, []), "a_sparse_steps_ratio")
    assert a["our_value"].startswith("3.00") and "goal error" not in a["note"]
    # Without 0.02, the tightest measured goal (0.03), and the note says it differs from the paper's.
    studies = (curve("momentum", 0.0, perfect(1024), goal=0.03) + curve("momentum", 0.9, perfect(2048), goal=0.03)
               + curve("momentum", 0.0, perfect(512), goal=0.1) + curve("momentum", 0.9, perfect(512), goal=0.1))  # fmt: skip
    a = row(claims(studies, []), "a_sparse_steps_ratio")
    assert a["our_value"].startswith("2.00") and "goal error 0.03 (paper 0.02)" in a["note"]
    assert "sparsity 0% and 90%" in a["smallest_experiment"]


def test_each_pruning_method_is_judged_against_the_same_dense_networks():
    """Claim a per method: random pruning 4.5x slower (fails), SNIP 2.8x (holds); the dense rows of
    claim c once, not once per method."""
    studies = curve("momentum", 0.0, perfect(4096)) + curve("sgd", 0.0, perfect(4096))
    studies += curve("momentum", 0.9, perfect(4096 * 2.8)) + curve(
        "momentum", 0.9, perfect(4096 * 4.5), pruning="random"
    )
    table = claims(studies, [])
    a = table[table["claim"] == "a_sparse_steps_ratio"].set_index(["scope", "pruning"])["holds"]
    assert a[("mnist_momentum", "snip")] == "yes" and a[("mnist_momentum", "random")] == "no"
    c = table[table["claim"] == "c_momentum_vs_sgd"]
    assert len(c[c["scope"].str.endswith("sparsity 0%")]) == 1
