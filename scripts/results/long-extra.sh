#!/usr/bin/env bash
# Two checks on the 3600-step checkpoints of the long comparison (issue #17), from the committed F16 exports:
# CFGs below the best of the main sweep (1.25 and 1.1; both methods' FD fell from 2 to 1.5) and a second sampling
# seed at CFG 1.5 and 1.25 (does the order of NestAR and raster AR hold?). N = 2000 each; finished ones are skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
N=${N:-2000}
for method in ${METHODS:-nestar raster}; do
  ckpt=checkpoints/mnist-patch/long/$method-3600 out=results/mnist-patch/long/$method/step-3600
  [ -f "$out/eval-cfg1.25/report.json" ] || $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1.25 --out "$out/eval-cfg1.25"
  [ -f "$out/eval-seed1/report.json" ] || $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1.5 --seed 100000 --out "$out/eval-seed1"
  [ -f "$out/eval-cfg1.1/report.json" ] || $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1.1 --out "$out/eval-cfg1.1"
  [ -f "$out/eval-cfg1.25-seed1/report.json" ] || $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1.25 --seed 100000 --out "$out/eval-cfg1.25-seed1"
done
