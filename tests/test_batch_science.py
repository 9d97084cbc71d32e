import json

import numpy as np
import pandas as pd
import pytest
from test_reduce import OUTCOMES, records, study

from sparsedp import batch_science
from sparsedp.analysis import THIS_RUN, critical_batch_table, this_run, with_external
from sparsedp.batch_science import LayoutError, export, first_step, read
from sparsedp.config import Study, trial_name
from sparsedp.plots import figure1
from sparsedp.reduce import outcome_problems, reduce_study, study_table
from sparsedp.results import write_record

from conftest import load_config

ANALYSIS = dict(min_saving=0.3, plateau_saving=0.2, coverage=0.68)


def write_results(root, config) -> list[dict]:
    """A results tree of three studies (dense and 90% sparse, a replicate), two goals, every
    status: the study records reduce_study makes of them."""
    config["workloads"]["mnist_momentum"]["goal_errors"] = [0.05, 0.02]
    studies = []
    for s in (
        Study("mnist_momentum", 0.0, 64),
        Study("mnist_momentum", 0.9, 64),
        Study("mnist_momentum", 0.9, 64, replicate=1),
    ):
        ident = study(config, s.workload, s.sparsity, s.batch_size) | {"replicate": s.replicate}
        trials = records(ident, OUTCOMES[s.replicate :])
        assert not any(outcome_problems(t) for t in trials.values())
        for k, record in enumerate(trials.values()):
            write_record(root / "trials" / s.path / f"trial{trial_name(k)}.json", record)
        studies.append(reduce_study(trials, ident))
        write_record(root / "studies" / f"{s.path}.json", studies[-1])
    return studies


def test_export_then_read_by_our_rule_gives_our_steps_to_result_table(tmp_path):
    studies = write_results(tmp_path / "results", load_config())
    assert export(tmp_path / "results", tmp_path / "out") == 5 + 5 + 4
    dense = tmp_path / "out/mnist/simple_cnn/momentum/64"
    assert json.loads((dense / "study.json").read_text())["train_steps"] == studies[0]["identity"]["budget_steps"]
    statuses = [json.loads((dense / str(k) / "metadata.json").read_text())["status"] for k in range(5)]
    assert statuses == ["COMPLETE", "COMPLETE", "INFEASIBLE", "COMPLETE", "INCOMPLETE"]  # pruned: INCOMPLETE
    assert (tmp_path / "out/snip_sparsity90_replicate1/mnist/simple_cnn/momentum/64/3/measurements.csv").is_file()
    ours = study_table(studies)
    back = read(tmp_path / "out", [0.05, 0.02], rule="sparsedp")
    columns = [c for c in batch_science.COLUMNS if c != "source"]
    pd.testing.assert_frame_equal(back[columns], ours[columns], check_dtype=False)
    assert back["steps_to_result"].notna().all()


def write_shallue(root):
    """Their layout, by hand: 2 batch sizes x 3 trials. Goal 0.02: at batch 128 trial 0 meets it
    exactly at step 200 (our rule) and is below it at 300 (theirs); the INFEASIBLE trial 2 was
    below it at step 100 before diverging (their rule ignores it)."""
    trials = {
        128: [
            ("COMPLETE", [0.9, 0.05, 0.02, 0.015]),
            ("COMPLETE", [0.9, 0.1, 0.03, 0.025]),
            ("INFEASIBLE", [0.9, 0.01]),
        ],
        256: [("COMPLETE", [0.9, 0.019, 0.01]), ("COMPLETE", [0.9, 0.05, 0.018]), ("INCOMPLETE", [0.9, 0.5])],
    }
    for batch, runs in trials.items():
        folder = root / "mnist/simple_cnn_base/momentum" / str(batch)
        folder.mkdir(parents=True)
        meta = dict(batch_size=batch, dataset="mnist", model="simple_cnn_base", optimizer="momentum")
        (folder / "study.json").write_text(json.dumps({**meta, "early_stopping": False, "train_steps": 300}))
        for k, (status, errors) in enumerate(runs):
            (folder / str(k)).mkdir()
            steps = [100 * i for i in range(len(errors))]
            (folder / str(k) / "metadata.json").write_text(
                json.dumps({"parameters": {"learning_rate": 0.1}, "status": status, "steps": steps[-1], "trial_id": k})
            )
            pd.DataFrame(
                {"step": steps, "train/classification_error": errors, "val/classification_error": errors}
            ).to_csv(folder / str(k) / "measurements.csv", index=False)


def test_their_directory_is_read_by_their_rule_and_drawn_as_a_series_of_its_own(tmp_path):
    write_shallue(tmp_path / "bs")
    assert first_step([0, 100, 200, 300], [0.9, 0.05, 0.02, 0.015], 0.02, "shallue") == 300
    assert first_step([0, 100, 200, 300], [0.9, 0.05, 0.02, 0.015], 0.02, "sparsedp") == 200
    label = "Shallue et al. 2019"
    theirs = read(tmp_path / "bs", 0.02, workload="mnist_momentum", source=label)
    assert list(theirs["batch_size"]) == [128, 256] and list(theirs["steps_to_result"]) == [300, 100]
    assert list(theirs["best_trial"]) == [0, 0] and list(theirs["n_trials"]) == [3, 3]
    assert (theirs[["pruning", "sparsity", "replicate"]].drop_duplicates().values.tolist()) == [["none", 0.0, 0]]
    ours_rule = read(tmp_path / "bs", 0.02, rule="sparsedp")
    assert list(ours_rule["steps_to_result"]) == [100, 100] and list(ours_rule["best_trial"]) == [2, 0]
    assert ours_rule["workload"].iloc[0] == "mnist_momentum"  # dataset_optimizer

    config = load_config()
    config["workloads"]["mnist_momentum"]["goal_errors"] = [0.02]
    studies = []
    for sparsity in (0.0, 0.9):
        for batch in (128, 256, 512):
            ident = study(config, "mnist_momentum", sparsity, batch)
            steps = 16 * round(256 / batch * (1 + sparsity)) + 16
            studies.append(reduce_study(records(ident, [[("complete", steps)]]), ident))
    table = study_table(studies)
    fig = figure1(table, experiment="test", external=theirs)
    drawn = [line for ax in fig.axes for line in ax.lines if line.get_gid() == f"external {label}"]
    assert len(drawn) == 3  # the 0% and 90% panels and the one of all sparsities; not the normalised one
    assert all(list(line.get_xdata()) == [128, 256] and list(line.get_ydata()) == [300, 100] for line in drawn)
    assert all(line.get_linestyle() == "--" and line.get_color() == "k" for line in drawn)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert f"{label} (dense)" in legend

    critical = with_external(critical_batch_table(table, **ANALYSIS), theirs, **ANALYSIS)
    assert list(critical["source"]) == [THIS_RUN, THIS_RUN, label]
    assert critical.loc[2, "batch_max"] == 256 and np.isclose(critical.loc[2, "sparsity"], 0.0)
    assert list(this_run(critical)["source"]) == [THIS_RUN, THIS_RUN]


@pytest.mark.parametrize(
    "damage, named, why",
    [
        (lambda d: (d / "128/1/measurements.csv").unlink(), "128/1/measurements.csv", "missing"),
        (
            lambda d: (d / "256/2/metadata.json").write_text('{"status": "DONE", "trial_id": 2}'),
            "256/2/metadata.json",
            "status 'DONE'",
        ),
        (
            lambda d: (d / "256/0/measurements.csv").write_text("step,loss\n0,1.0\n"),
            "256/0/measurements.csv",
            "val/classification_error",
        ),
        (lambda d: (d / "128/study.json").write_text('{"batch_size": 64}'), "128/study.json", "lacks dataset"),
    ],
)
def test_a_malformed_directory_is_refused_naming_the_file(tmp_path, damage, named, why, capsys):
    write_shallue(tmp_path / "bs")
    damage(tmp_path / "bs/mnist/simple_cnn_base/momentum")
    with pytest.raises(LayoutError, match=why) as refused:
        read(tmp_path / "bs", 0.02)
    assert named in str(refused.value)
    assert batch_science.main(["read", str(tmp_path / "bs"), "--goal", "0.02"]) == 1
    assert named in capsys.readouterr().err


def test_the_command_line_writes_their_layout_and_reads_it_back(tmp_path, capsys):
    write_results(tmp_path / "results", load_config())
    assert batch_science.main(["export", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "rows.csv"
    assert (
        batch_science.main(["read", str(tmp_path / "out"), "--goal", "0.02", "--rule", "sparsedp", "--out", str(out)])
        == 0
    )
    assert list(pd.read_csv(out)["steps_to_result"]) == [160, 160, 160]


def test_the_config_key_takes_a_folder_that_exists_and_defaults_to_their_rule(tmp_path):
    from sparsedp.config import ConfigError, validate

    from conftest import SCHEMA

    config = load_config()
    config["external_curves"] = [{"path": str(tmp_path), "label": "Shallue et al. 2019", "workload": "mnist_momentum"}]
    assert validate(config, SCHEMA)["external_curves"][0]["rule"] == "shallue"
    config["external_curves"] = [{"path": str(tmp_path / "none"), "label": "S", "workload": "mnist_momentum"}]
    with pytest.raises(ConfigError, match=r"external_curves\[0\].path': .*none is not a folder"):
        validate(config, SCHEMA)
