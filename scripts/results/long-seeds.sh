#!/usr/bin/env bash
# Two more sampling seeds for the 3600-step NestAR and raster AR checkpoints (issue #17). The two-seed means of
# long-extra.sh and long-interval.sh put NestAR/raster AR at 1.21 against the <= 1.2 minimum, inside the seed-to-seed
# spread, so this adds seeds 200000 and 300000 at the same four sampler settings of both methods (CFG 1.25 and 1.5,
# guidance everywhere and on the interval [0.2, 1]). Decided before any of them was run: RESULTS.md then reports each
# setting's four-seed mean and each method's best four-seed mean, whichever way the ratio goes. N = 2000 each, from the
# committed F16 exports; a finished one is skipped. Folder eval-seedK holds
# sampling seed K * 100000, like long-extra.sh's eval-seed1.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
N=${N:-2000}
for k in 2 3; do
  seed=$((k * 100000))
  for method in ${METHODS:-nestar raster}; do
    ckpt=checkpoints/mnist-patch/long/$method-3600 out=results/mnist-patch/long/$method/step-3600
    [ -f "$out/eval-seed$k/report.json" ] ||
      $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1.25,1.5 --seed "$seed" --out "$out/eval-seed$k"
    [ -f "$out/eval-interval-seed$k/report.json" ] ||
      $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1.25,1.5 --cfg-interval 0.2,1 --seed "$seed" --out "$out/eval-interval-seed$k"
  done
done
