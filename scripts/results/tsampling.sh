#!/usr/bin/env bash
# t sampling (issue #17's "what was tried"): does drawing the flow time from a logit-normal law (SD3's, more training
# near t = 0.5) instead of uniformly change NestAR's gap to raster AR? A pilot at the heads.sh budget (1200 steps x 64):
# NestAR with the patch head in the interleaved order and raster AR, each from its heads.sh config with only
# train.timeSampling changed (results/configs/mnist-patch-phead-interleaved-logitnormal.json,
# mnist-patch-logitnormal.json), trained side by side on one BLAS thread each, exported in F16 to
# checkpoints/mnist-patch/tsampling/<method>, evaluated at CFG 1.5 and 2 (N = 2000, sampling seed 0), set against the
# uniform runs of heads.sh at the same CFGs. Resumable; a finished part is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
N=${N:-2000}
one() {
  local method=$1 config=$2
  local run=runs/tsampling/$method out=results/mnist-patch/tsampling/$method ckpt=checkpoints/mnist-patch/tsampling/$method
  mkdir -p "$out"
  train_export "$method" "$run" "$ckpt" "$out/timing.log" "$run" --method "$method" --config "$config"
  [ -f "$out/eval/report.json" ] || $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1.5,2 --out "$out/eval"
}
side_by_side one nestar results/configs/mnist-patch-phead-interleaved-logitnormal.json -- raster results/configs/mnist-patch-logitnormal.json
