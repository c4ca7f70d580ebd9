#!/usr/bin/env bash
# Logit-normal flow times at the 3600-step budget (issue #17's follow-up). The 1200-step pilot (tsampling.sh) moved
# NestAR's best FD from 19.99 to 11.49 and raster AR's from 15.13 to 14.41 (one seed); the 3600-step verdict with
# uniform times stands at NestAR 6.08 vs raster AR 5.13 (four seeds, long-seeds.sh + long-schedule.sh). Decided before
# any of these runs: NestAR and raster AR trained from results/configs/mnist-patch-long-logitnormal.json (the long
# config with train.timeSampling = logit-normal, nothing else changed), 3600 x 64, side by side on one BLAS thread
# each; the step-3600 checkpoints exported in F16 to checkpoints/mnist-patch/long-logitnormal/<method>-3600; sampling
# seed 0, N = 2000, the linear guidance schedule on a grid around each method's uniform best (NestAR CFG 2.5, 3, 3.5;
# raster AR CFG 1.25, 1.5, 2). Read against the uniform checkpoints' seed-0 rows at the same settings
# (results/mnist-patch/long/<method>/step-3600/eval-linear*-seed0). One seed is a pilot, not a verdict: if NestAR's
# best is at or below raster AR's, the four-seed protocol of long-seeds.sh follows on these checkpoints.
# Resumable: training continues from its last checkpoint; a finished export or evaluation is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
N=${N:-2000}
one() {
  local method=$1 cfgs=$2
  local run=runs/long-logitnormal/$method out=results/mnist-patch/long-logitnormal/$method ckpt=checkpoints/mnist-patch/long-logitnormal/$method-3600
  mkdir -p "$out"
  train_export "$method" "$run" "$ckpt" "$out/timing.log" "$run/checkpoints/step-0003600" --method "$method" --config results/configs/mnist-patch-long-logitnormal.json
  [ -f "$out/eval-linear-seed0/report.json" ] ||
    $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg "$cfgs" --cfg-schedule linear --seed 0 --out "$out/eval-linear-seed0"
}
side_by_side one nestar 2.5,3,3.5 -- raster 1.25,1.5,2
