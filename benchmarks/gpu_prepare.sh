#!/usr/bin/env bash
# Prepare, on a machine with a package registry, what the GPU shot needs and the GPU machine
# lacks (it has Python 3.12 with torch, numpy, scipy, pandas, matplotlib, seaborn, pyyaml,
# pytest, but no registry): Snakemake and its needs as Python 3.12 manylinux wheels in
# .gpu/wheels, and MNIST's original files (gzipped) in .gpu/data, which the data rule's
# local_dir reads. .gpu/ is ignored by git; the device tool carries it (64 MiB at most).
#   bash benchmarks/gpu_prepare.sh [PYTHON]      # PYTHON: one with pip (default: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
SNAKEMAKE=$("$PY" -c "import importlib.metadata as m; print(m.version('snakemake'))")
# Already on the GPU machine (what torch, pandas and matplotlib need): not carried. The first shot
# (H200, 2026-11-28) found platformdirs missing there, so everything else is carried.
THERE="packaging PyYAML pyyaml jinja2 MarkupSafe markupsafe numpy pandas python_dateutil pytz tzdata six
  typing_extensions filelock fsspec"
rm -rf .gpu/wheels && mkdir -p .gpu/wheels .gpu/data/mnist
download() {
  "$PY" -m pip download -q --dest .gpu/wheels --find-links .gpu/wheels --only-binary=:all: --python-version 3.12 \
    --implementation cp --abi cp312 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any "snakemake==$SNAKEMAKE" "jsonschema>=4" 2>&1
}
# A need published as source only (connection_pool) is built here as a pure-Python wheel.
for _ in 1 2 3 4 5; do
  missing=$( (download || true) | sed -nE 's/.*No matching distribution found for ([A-Za-z0-9_.-]+).*/\1/p')
  [ -z "$missing" ] && break
  echo "building $missing as a wheel"
  "$PY" -m pip wheel -q --no-deps --wheel-dir .gpu/wheels "$missing"
done
[ -z "$missing" ] || { echo "could not get $missing for Python 3.12" >&2; exit 1; }
for name in $THERE; do rm -f .gpu/wheels/"$name"-*.whl; done
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  gzip -c "resources/data/mnist/$f" >".gpu/data/mnist/$f.gz"
done
ls .gpu/wheels | sed 's/-[0-9].*//' | tr '\n' ' '
echo
du -sh .gpu
