#!/usr/bin/env bash
# The one-shot GPU run (issue 14), prepared on a CPU: (a) the CUDA tests, (b) the engine against
# the plain loop, (c) the paper's Momentum curves (config/gpu_shot.yaml) through the workflow,
# one job per study, one study after another in the shot's order, stopped at a deadline keeping
# every finished study; then their tables, Figure 1, per-study times, the Figure 1+2 grid's
# estimated time and a summary. Everything goes to one folder ($OUT, or results/gpu_shot_output).
#
#   bash benchmarks/gpu_prepare.sh        # here, once: wheels and MNIST for the GPU machine (.gpu/)
#   bash benchmarks/gpu_shot.sh           # there (device tool, carry .gpu): about 8 minutes on an H100
#   bash benchmarks/gpu_shot.sh --smoke   # anywhere, on the CPU, in about 2 minutes: every step, tiny
#
# SHOT_SECONDS (default 480) is the whole shot's time; the workflow gets what (a) and (b) leave.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
DEST=${OUT:-$REPO/results/gpu_shot_output}
PY=${PYTHON:-python3}
SHOT=${SHOT_SECONDS:-$([ $SMOKE = 1 ] && echo 300 || echo 480)}
START=$(date +%s)
mkdir -p "$DEST"
exec > >(tee "$DEST/shot.log") 2>&1

if [ -d .gpu/wheels ] && ! "$PY" -c "import snakemake" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/shot-site \
    .gpu/wheels/*.whl || exit 1
  export PYTHONPATH=/tmp/shot-site${PYTHONPATH:+:$PYTHONPATH}
  export PATH=/tmp/shot-site/bin:$PATH
fi
"$PY" - <<'PY' || exit 1
import platform, torch
cuda = torch.cuda.is_available()
print(f"python {platform.python_version()}, torch {torch.__version__}, "
      f"device {torch.cuda.get_device_name() if cuda else 'cpu (no CUDA)'}")
PY
elapsed() { echo $(($(date +%s) - START)); }
# The batch sizes whose throughput (b) measures, and whose studies (c) trains first, so that each
# study's time stands beside the throughput measured at its batch size.
FIRST_BATCHES=16,128,1024

# The CUDA tests and the benchmark read MNIST from the data cache (resources/data), the workflow
# from .gpu/data (its local_dir): the first shot found the cache empty there.
if [ -d .gpu/data/mnist ]; then
  mkdir -p resources/data/mnist
  for f in .gpu/data/mnist/*.gz; do
    raw=resources/data/mnist/$(basename "$f" .gz)
    [ -f "$raw" ] || gunzip -c "$f" >"$raw"
  done
fi

echo "== (a) CUDA tests: engine on CUDA against a float64 CPU reference, grouped = loop, race = census"
if [ $SMOKE = 1 ]; then
  "$PY" -m pytest -q -m cuda tests/test_cuda.py -x 2>&1 | tail -3  # skipped without CUDA: checks they collect
else
  "$PY" -m pytest -q -m cuda tests/test_cuda.py 2>&1 | tee "$DEST/cuda_tests.log" | tail -15
fi
echo "   ($(elapsed) s)"

echo "== (b) engine against the plain loop"
if [ $SMOKE = 1 ]; then
  BENCH=(--device cpu --trials 4 --throughput-batches 16 --examples 64 --study-batch 64 --goal 0.5 --budget 32
    --plain-trials 2 --explain-trials 0 --profile-batch 16 --config config/gpu_shot.yaml)
else
  # Trial 0 differed from the plain loop in the first shot, trials 0 and 3 from the CPU: (6) trains them
  # alone every way. (3) profiles the step at batch 128, where the first shot missed its target.
  BENCH=(--device cuda --trials 100 --throughput-batches $FIRST_BATCHES --group-sizes 1,6,12,25,50,100
    --study-batch 128 --goal 0.05 --budget 2000 --plain-trials 5 --explain-trials 0,3 --profile-batch 128
    --config config/gpu_shot.yaml)
fi
"$PY" benchmarks/engine_vs_plain.py "${BENCH[@]}" 2>&1 | tee "$DEST/engine_vs_plain.txt"
echo "   ($(elapsed) s)"

echo "== (c) the paper's Momentum curves through the workflow, until the deadline"
CONFIGS=(config/gpu_shot.yaml)
if [ -d .gpu/data ]; then
  printf 'data:\n  local_dir: %s\n' "$REPO/.gpu/data" >"$DEST/local_data.yaml"
  CONFIGS+=("$DEST/local_data.yaml")
fi
if [ $SMOKE = 1 ]; then
  cat >"$DEST/smoke.yaml" <<'YAML'
experiment: gpu_shot_smoke
device: cpu
search: {n_trials: 2}
training: {pack_size: 1, checkpoint_every: 0}
noise_scale: {batch_big: 64, draws: 2, seeds: 1}
workloads:
  mnist_momentum: {goal_errors: [0.5], budget_steps: 48, sparsities: [0.0], batch_sizes: [64, 128, 256]}
YAML
  CONFIGS+=("$DEST/smoke.yaml")
fi
EXPERIMENT=$("$PY" -c "import sys; sys.path.insert(0, 'src'); from sparsedp.config import load
print(load(['config.yaml', *sys.argv[1:]], 'workflow/schemas/config.schema.yaml')['experiment'])" \
  "${CONFIGS[@]}")
DEADLINE=$((START + SHOT - 30))  # 30 s for the tables and summary
echo "   experiment $EXPERIMENT, $((DEADLINE - $(date +%s))) s left for training"
# One study at a time, in the shot's order (batch sizes $FIRST_BATCHES first: a spread of study
# times for the grid's estimate), each a target of its own Snakemake run (the first also makes
# the data split and the masks: a pack of 100 seeds per job). SIGINT at the deadline: Snakemake
# stops its job and exits; every finished study is kept.
: >"$DEST/workflow.log"  # the studies' runs append to it
STATUS=0
for study in $("$PY" benchmarks/shot_tables.py --order $FIRST_BATCHES "${CONFIGS[@]}"); do
  LEFT=$((DEADLINE - $(date +%s)))
  [ $LEFT -gt 20 ] || { echo "   deadline: $study and the rest not trained"; STATUS=124; break; }
  T0=$(date +%s)
  timeout --signal=INT --kill-after=15 $LEFT "$PY" -m snakemake --configfile "${CONFIGS[@]}" --cores 1 \
    --keep-going --rerun-incomplete "$study" >>"$DEST/workflow.log" 2>&1
  rc=$?
  echo "   $study: exit $rc ($(($(date +%s) - T0)) s)"
  [ $rc = 0 ] || { STATUS=$rc; [ $rc = 124 ] && break; }
done
echo "   workflow exit $STATUS ($(grep -c 'Finished jobid' "$DEST/workflow.log") jobs finished; log: workflow.log)"
"$PY" benchmarks/shot_tables.py "$DEST" "${CONFIGS[@]}"
echo "== shot done in $(elapsed) s; outputs in $DEST"
