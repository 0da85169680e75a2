#!/usr/bin/env bash
# One call on a GPU machine without internet: check the scan, benchmark, train, export, evaluate,
# and leave everything in OUT_DIR within the device tool's limits (files ≤ 15 MiB, ≤ 8 of them).
#
#   train/gpu/gpu_run.sh MODEL DATA BUDGET OUT_DIR
#     MODEL    simplified | corrected | both   (train, export, evaluate: train/gpu/gpu_job.py)
#              study    (DDP smoke, speed probe, the training ablations: train/gpu/study_call.py)
#     DATA     a pack from `python -m train.gpu.pack` (the whole CIFAR-10 JPEG copy packs into ≈ 18 MiB)
#     BUDGET   training time for all models together, e.g. 6m (turned into fixed step counts);
#              study: the whole call's time, e.g. 8m (it ends by then)
#     OUT_DIR  an empty folder (on the device machine: "$OUT")
#
#   DEVICE=cpu TINY=1 train/gpu/gpu_run.sh both pack.npz 20s /tmp/out     # the dry run on CPU (small models)
#
# Environment: DEVICE (default cuda), TINY=1 (small models), JOB_ARGS (more flags for
# `python -m train.gpu.gpu_job`, e.g. "--eval-limit 2000"). Bring the results home with
# `python -m train.publish.collect OUT_DIR DEST`. The stages are described in train/gpu/gpu_job.py.
#
# Runs from any folder, in a clean environment: the repository root (two levels above this file) goes
# on PYTHONPATH; the working directory is kept, so relative DATA and OUT_DIR are the caller's.
# `--help` prints this and the job's flags (what the documented-commands test runs).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-$(command -v python || command -v python3)}"
for arg in "$@"; do
  if [ "$arg" = "-h" ] || [ "$arg" = "--help" ]; then
    sed -n '2,21p' "$0"
    "$PY" -m train.gpu.study_call --help
    exec "$PY" -m train.gpu.gpu_job --help
  fi
done
if [ $# -ne 4 ]; then
  echo "usage: train/gpu/gpu_run.sh MODEL DATA BUDGET OUT_DIR   (MODEL: simplified|corrected|both|study)" >&2
  exit 2
fi
TINY_FLAG=""
if [ "${TINY:-0}" = "1" ]; then TINY_FLAG="--tiny"; fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv || true
if [ "$1" = "study" ]; then  # the studies' call: DDP smoke, speed probe, training ablations (train/gpu/study_call.py)
  # shellcheck disable=SC2086
  exec "$PY" -m train.gpu.study_call --data "$2" --budget "$3" --out "$4" --device "${DEVICE:-cuda}" \
      $TINY_FLAG ${JOB_ARGS:-}
fi
# shellcheck disable=SC2086
exec "$PY" -m train.gpu.gpu_job --model "$1" --data "$2" --budget "$3" --out "$4" --device "${DEVICE:-cuda}" \
    $TINY_FLAG ${JOB_ARGS:-}
