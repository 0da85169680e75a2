#!/usr/bin/env bash
# Train, evaluate and export on a GPU machine with no internet, from carried data.
#
#   train/gpu_run.sh MODEL DATA BUDGET [OUT_DIR]
#     MODEL   simplified | corrected
#     DATA    a .npz pack (python -m train.pack --data /path/to/cifar10 runs/cifar10_jpeg.npz; ≈ 53 MiB),
#             an ImageFolder root, or cifar10 (needs the download already under data/)
#     BUDGET  training wall time, e.g. 8m, 2h (the protocol schedule is compressed into it)
#     OUT_DIR where weights/ and eval/ go (default: $OUT if set, else runs/gpu_out)
#
# Extra flags for `python -m train` can be passed in TRAIN_ARGS (e.g. "--epochs 40" or tiny test configs);
# DEVICE (default cuda) and BF16 (default 1) select the device and bfloat16 autocast; EVAL_LIMIT
# (default 0 = the whole test split) bounds the evaluation.
set -euo pipefail
MODEL=${1:?model: simplified|corrected}
DATA=${2:?data: .npz pack, ImageFolder root or cifar10}
BUDGET=${3:?time budget, e.g. 8m}
DEST=${4:-${OUT:-runs/gpu_out}}
DEVICE=${DEVICE:-cuda}
EVAL_LIMIT=${EVAL_LIMIT:-0}
RUN=${RUN_DIR:-runs/gpu_$MODEL}
BF16_FLAG=""
if [ "${BF16:-1}" = "1" ] && [ "${DEVICE#cuda}" != "$DEVICE" ]; then BF16_FLAG="--bf16"; fi
mkdir -p "$DEST"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv || true

# shellcheck disable=SC2086
python -m train --model "$MODEL" --data "$DATA" --out "$RUN" --device "$DEVICE" $BF16_FLAG \
    --time-budget "$BUDGET" --val-limit 2000 --val-minutes 5 --ckpt-minutes 5 --workers 4 \
    --no-export --no-progress ${TRAIN_ARGS:-} 2>&1 | tee "$DEST/train_$MODEL.log"
cp "$RUN/metrics.jsonl" "$DEST/metrics_$MODEL.jsonl"
python -m train.plot "$RUN" "$DEST/curves_$MODEL.png" || true
python -m train.export "$RUN" "$DEST/weights_$MODEL" --device "$DEVICE" --eval-limit "$EVAL_LIMIT" --jitter \
    2>&1 | tee "$DEST/export_$MODEL.log"
python -m train.evaluate --weights "$DEST/weights_$MODEL" --data "$DATA" --out "$DEST/eval_$MODEL" \
    --device "$DEVICE" --limit "$EVAL_LIMIT" 2>&1 | tee "$DEST/eval_$MODEL.log"
cp "$RUN/checkpoint.pt" "$DEST/checkpoint_$MODEL.pt" 2>/dev/null || true  # to resume elsewhere
echo "done: $DEST"
