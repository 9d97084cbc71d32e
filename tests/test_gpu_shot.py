"""The GPU shot (benchmarks/gpu_shot.sh) end to end on the CPU in its smoke mode, so that the
few minutes a GPU is lent are never lost to a typo or a missing file: every step runs (CUDA
tests collected, engine benchmark, workflow to a deadline, tables of the finished studies)."""

import os
import subprocess
import sys

import pandas as pd

from conftest import REPO


def test_the_gpu_shot_runs_end_to_end_in_smoke_mode(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(REPO / "benchmarks/gpu_shot.sh"), "--smoke"], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    bench = (tmp_path / "engine_vs_plain.txt").read_text()
    assert "IDENTICAL" in bench and "DIFFERENT" not in bench, bench
    ways = bench.split("(6) trials trained alone every way", 1)[1]  # trial 0, as --explain-trials asks
    assert len([line for line in ways.splitlines() if line.strip().startswith(("plain", "engine"))]) == 6, bench
    shot = (tmp_path / "shot.log").read_text()
    assert "workflow exit 0" in shot, shot[-3000:]  # the tiny grid ends before its deadline
    order = [line.split(":")[0].strip() for line in shot.splitlines() if line.strip().startswith("results/")]
    assert [p.rsplit("/", 1)[1] for p in order] == ["batch128.json", "batch64.json", "batch256.json"]
    assert "Figure 1+2 grid (120 MNIST studies of config.yaml): about" in shot
    studies = pd.read_csv(tmp_path / "steps_to_result.csv")
    assert sorted(studies["batch_size"].unique()) == [64, 128, 256], studies
    assert studies["train_seconds"].notna().all() and studies["steps_to_result"].notna().all()
    assert (tmp_path / "fig1_mnist.png").stat().st_size > 10000
    assert "shot done in" in shot
