#!/usr/bin/env bash
# Trains the shipped comparison runs (issue #10): NestAR, raster AR and next-scale AR on MNIST pixel-patch
# tokens with one config (same width, baseline depth matched to NestAR's parameter count, same steps, batch,
# sampler). Resumable: rerun the script and each run continues from its last checkpoint. Wall-clock and
# backend of each run go to runs/results/<method>/timing.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
CONFIG=${CONFIG:-results/configs/mnist-patch.json}
for method in ${METHODS:-nestar raster nextscale}; do
  train_run "$method" "runs/results/$method" "runs/results/$method/timing.log" --method "$method" --config "$CONFIG"
done
