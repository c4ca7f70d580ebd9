#!/usr/bin/env bash
# Trains the shipped comparison runs (issue #10): NestAR, raster AR and next-scale AR on MNIST pixel-patch
# tokens with one config (same width, baseline depth matched to NestAR's parameter count, same steps, batch,
# sampler). Resumable: rerun the script and each run continues from its last checkpoint. Wall-clock and
# backend of each run go to runs/results/<method>/timing.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${CONFIG:-results/configs/mnist-patch.json}
for method in ${METHODS:-nestar raster nextscale}; do
  out=runs/results/$method
  mkdir -p "$out"
  start=$(date +%s)
  if [ -f "$out/latest.json" ]; then
    node --import tsx src/cli/main.ts train --out "$out" --resume 2>&1 | tr '\r' '\n' | grep -v '^train ' >> "$out/train.log" || true
  else
    node --import tsx src/cli/main.ts train --method "$method" --config "$CONFIG" --out "$out" 2>&1 | tr '\r' '\n' | grep -v '^train ' >> "$out/train.log" || true
  fi
  echo "$method: $(( $(date +%s) - start )) s wall this invocation, finished $(date -u +%FT%TZ)" >> "$out/timing.log"
done
