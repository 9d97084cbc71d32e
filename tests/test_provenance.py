"""What made a result (sparsedp.provenance): the checkout's commit and whether it was changed, the
versions and device noted beside each result, and the wall time per rule from benchmark files."""

import json
import subprocess
import sys

import pandas as pd

from sparsedp import provenance
from sparsedp.results import made_path, read_json, record_made, unmade, write_json

from conftest import REPO

GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "-c", "init.defaultBranch=main"]


def git(checkout, *args) -> str:
    return subprocess.run([*GIT, "-C", str(checkout), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_the_commit_and_whether_a_tracked_file_was_changed(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    assert provenance.checkout_state(checkout) == {"commit": "unknown", "dirty": "unknown"}  # not a git tree
    git(checkout, "init")
    (checkout / "code.py").write_text("a = 1\n")
    git(checkout, "add", "code.py")
    git(checkout, "commit", "-m", "first")
    commit = git(checkout, "rev-parse", "HEAD")
    assert provenance.checkout_state(checkout) == {"commit": commit, "dirty": False}
    (checkout / "results.csv").write_text("x\n")  # untracked: no code changed
    assert provenance.checkout_state(checkout) == {"commit": commit, "dirty": False}
    (checkout / "code.py").write_text("a = 2\n")
    assert provenance.checkout_state(checkout) == {"commit": commit, "dirty": True}
    # A package copied into another project's repository is not that project's commit.
    (checkout / "vendored").mkdir()
    assert provenance.checkout_state(checkout / "vendored") == {"commit": "unknown", "dirty": "unknown"}


def test_the_environment_is_read_without_importing_torch():
    script = (
        "import sys, json; from sparsedp import provenance; "
        "print(json.dumps(provenance.environment())); assert 'torch' not in sys.modules"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd="/", env={"PYTHONPATH": str(REPO / "src")},
                          capture_output=True, text=True, check=True)  # fmt: skip
    found = json.loads(proc.stdout)
    # The workflow's own checkout, whatever the working folder.
    assert found["commit"] == provenance.checkout_state(REPO)["commit"] != "unknown"
    assert found["python"] == ".".join(map(str, sys.version_info[:3]))
    assert {"sparsedp", "dirty", "torch", "snakemake", "numpy", "host"} <= set(found)
    assert all(isinstance(v, (str, bool)) for v in found.values())  # flat: label -> value


def test_each_result_notes_what_made_it_and_no_comparison_reads_it(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "_device", {})
    table = tmp_path / "table.csv"
    table.write_text("a\n1\n")
    record_made([table], "abc")
    note = read_json(made_path(table))["provenance"]
    assert note["commit"] == provenance.environment()["commit"] and "device" not in note and note["finished"]
    provenance.ran_on("NVIDIA H100 80GB HBM3")
    record_made([table], "abc")
    assert read_json(made_path(table))["provenance"]["device"] == "NVIDIA H100 80GB HBM3"
    # Made by another commit, elsewhere: not redone for it.
    other = {**read_json(made_path(table)), "provenance": {"commit": "0" * 40, "host": "elsewhere"}}
    write_json(made_path(table), other)
    assert unmade([table], "abc") == []


def benchmark(path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:{seconds:02.0f}\t100.0\n")


def test_wall_time_per_rule_from_the_benchmark_files_present(tmp_path):
    benchmarks = tmp_path / "benchmarks"
    for i, seconds in enumerate([10.0, 30.0, 20.0]):
        benchmark(benchmarks / "train_pack" / "study" / f"pack{i}.tsv", seconds)
    benchmark(benchmarks / "figure" / "fig1.tsv", 2.0)
    (benchmarks / "figure" / "fig4.tsv").write_text("not a benchmark\n")  # unreadable: untimed
    (benchmarks / "reduce_study").mkdir()  # none timed: no row
    rows = provenance.rule_times(benchmarks)
    assert rows == [
        {"rule": "figure", "jobs_timed": 1, "wall_s_total": 2.0, "wall_s_median": 2.0, "wall_s_max": 2.0},
        {"rule": "train_pack", "jobs_timed": 3, "wall_s_total": 60.0, "wall_s_median": 20.0, "wall_s_max": 30.0},
    ]
    assert provenance.rule_times(tmp_path / "absent") == []
    pd.DataFrame(rows, columns=provenance.RULE_TIME_COLUMNS).to_csv(tmp_path / "rule_times.csv", index=False)
    assert [row["rule"] for row in provenance.read_rule_times(tmp_path / "rule_times.csv")] == ["figure", "train_pack"]


def trial(results, study, name, device=None, noted=None):
    path = results / "trials" / study / f"trial{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"run": {"device": device}} if device else {})
    if noted:
        write_json(made_path(path), {"made_with": "x", "provenance": {"device": noted}})
    return path


def test_restored_trials_count_as_untimed_and_devices_are_named(tmp_path):
    results, benchmarks = tmp_path / "results", tmp_path / "results" / "benchmarks"
    packed = [trial(results, "w/snip/batch32", f"00{k}", noted="NVIDIA H100") for k in range(3)]
    single = trial(results, "w/snip/batch32", "011", device="cpu", noted="cpu")
    restored = trial(results, "w/snip/batch64", "000", device="cuda")  # noted before devices were named
    broken = trial(results, "w/snip/batch64", "001")
    benchmark(benchmarks / "train_pack" / "w/snip/batch32" / "pack00.tsv", 5.0)  # trials 000-009
    benchmark(benchmarks / "train_trial" / "w/snip/batch32" / "trial011.tsv", 1.0)
    trials = [*packed, single, restored, broken]
    assert provenance.timed_trials(trials, results, benchmarks, pack_digits=1) == 4
    assert provenance.devices(trials) == "NVIDIA H100 (3 trials), cpu (1 trial), cuda (1 trial), unknown (1 trial)"


def test_checkpoint_folders_left_empty_or_holding_a_race_lock_are_removed(tmp_path):
    root = tmp_path / "checkpoints"
    (root / "w/snip/batch32").mkdir(parents=True)
    (root / "w/snip/batch64/raced").mkdir(parents=True)
    (root / "w/snip/batch64/raced/.lock").touch()
    (root / "w/none/batch32").mkdir(parents=True)
    (root / "w/none/batch32/000-009.pt").touch()  # a killed job's: kept
    provenance.remove_empty_folders(root)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == ["w", "w/none", "w/none/batch32",
                                                                        "w/none/batch32/000-009.pt"]  # fmt: skip
    (root / "w/none/batch32/000-009.pt").unlink()
    provenance.remove_empty_folders(root)
    assert not root.exists()
    provenance.remove_empty_folders(root)  # none: nothing to do
