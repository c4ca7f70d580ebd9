#!/usr/bin/env bash
# Colour results (issue #20): NestAR (patch head, interleaved order), raster AR and next-scale AR on the Noto
# emoji at 32x32x3 (8x8 grid of 4x4x3 patches), parameter-matched, from one config
# (results/configs/emoji-32.json, 1200 steps x 64 on the 90 % training split). Each method's final
# checkpoint is exported in F16 to checkpoints/emoji-32/<method> and evaluated from there against the held-out
# split in the emoji feature net (checkpoints/features/emoji-32x3), N samples per CFG.
# Resumable: training continues from its last checkpoint and finished evaluations are skipped.
# TRAIN=0 only exports and evaluates checkpoints that exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
N=${N:-2000}
STEP=${STEP:-1200}
for method in ${METHODS:-nestar raster nextscale}; do
  run=runs/emoji-32/$method out=results/emoji-32/$method
  mkdir -p "$out"
  if [ "${TRAIN-1}" = 1 ]; then
    train_run "$method" "$run" "$out/timing.log" --method "$method" --config results/configs/emoji-32.json ${TRAIN_FLAGS-}
    backend_line "$run" >> "$out/timing.log"
  fi
  ckpt=checkpoints/emoji-32/$method src=$run/checkpoints/step-$(printf %07d "$STEP")
  if [ ! -f "$ckpt/state.json" ]; then
    [ -f "$src/state.json" ] || { echo "skip $method: $src not written yet"; continue; }
    $NESTAR export --checkpoint "$src" --out "$ckpt" --fp16
  fi
  if [ ! -f "$out/eval/report.json" ] || [ -n "${REEVAL-}" ]; then
    # Raster AR's FD was still falling at CFG 3, so its sweep goes on until it turns.
    [ "$method" = raster ] && cfgs=${CFGS:-1.5,2,3,4,5} || cfgs=${CFGS:-1.5,2,3}
    $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg "$cfgs" --out "$out/eval"
  fi
done
