#!/usr/bin/env bash
# The 3x-longer comparison (issue #17) at matched parameters, 3600 steps x 64, checkpoints kept every 300 steps.
# A row is NestAR (patch head, interleaved order; "nestar"), raster AR ("raster") or next-scale AR with the patch head
# ("nextscale", FlowAR's design: each scale one joint patch), all from results/configs/mnist-patch-long.json, or another NestAR variant <row> from results/configs/mnist-patch-long-<row>.json
# (thead-interleaved, phead-zorder, thead-zorder); the same train section in every file. Each checkpoint in STEPS is
# exported in F16 to checkpoints/mnist-patch/long/<row>-<step> and evaluated from there (N per CFG, CFGS), so the
# FD-vs-steps curve can be re-made from the repository alone.
# Resumable: training continues from its last checkpoint and finished evaluations are skipped.
# TRAIN=0 only exports and evaluates checkpoints that exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
N=${N:-2000}
for method in ${METHODS:-nestar raster}; do
  run=runs/long/$method out=results/mnist-patch/long/$method
  case $method in
    nestar|raster|nextscale) config=results/configs/mnist-patch-long.json kind=$method ;;
    *) config=results/configs/mnist-patch-long-$method.json kind=nestar ;;
  esac
  mkdir -p "$out"
  if [ "${TRAIN-1}" = 1 ]; then
    train_run "$method" "$run" "$out/timing.log" --method "$kind" --config "$config"
    backend_line "$run" >> "$out/timing.log"
  fi
  for step in ${STEPS:-1200 2400 3600}; do
    ckpt=checkpoints/mnist-patch/long/$method-$step src=$run/checkpoints/step-$(printf %07d "$step")
    if [ ! -f "$ckpt/state.json" ]; then
      [ -f "$src/state.json" ] || { echo "skip $method@$step: $src not written yet"; continue; }
      $NESTAR export --checkpoint "$src" --out "$ckpt" --fp16
    fi
    cfgs=${CFGS:-1.5,2}
    if [ ! -f "$out/step-$step/eval/report.json" ] || [ -n "${REEVAL-}" ]; then
      $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg "$cfgs" --out "$out/step-$step/eval"
    fi
  done
done
