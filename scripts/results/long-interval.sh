#!/usr/bin/env bash
# The guidance interval like-for-like (issue #17): the 3600-step NestAR and raster AR checkpoints of the long comparison,
# from the committed F16 exports, with classifier-free guidance only on flow times [0.2, 1] (FlowAR's interval; no
# guidance on the noisiest fifth), at the CFGs of the main sweep and below. N = 2000 per CFG, sampling seed 0, like the
# main sweep, and a second seed at CFG 1.25 and 1.5; a finished one is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
N=${N:-2000}
for method in ${METHODS:-nestar raster}; do
  ckpt=checkpoints/mnist-patch/long/$method-3600 out=results/mnist-patch/long/$method/step-3600/eval-interval
  [ -f "$out/report.json" ] || $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1.25,1.5,2 --cfg-interval 0.2,1 --out "$out"
done
# A second sampling seed (100000) at the two best CFGs, so the interval rows have two-seed means like long-extra.sh's.
for method in ${METHODS:-nestar raster}; do
  ckpt=checkpoints/mnist-patch/long/$method-3600 out=results/mnist-patch/long/$method/step-3600/eval-interval-seed1
  [ -f "$out/report.json" ] || $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1.25,1.5 --cfg-interval 0.2,1 --seed 100000 --out "$out"
done
