#!/usr/bin/env bash
# Re-makes every report behind results/RESULTS.md from the shipped checkpoints, without training (issue #10's
# acceptance): the three methods' evaluations, exposure-gap diagnostics, latency and stage figures
# (evaluate.sh), the ablations' evaluations (ablations.sh with REEVAL=1; their checkpoints are shipped in F16),
# the latent-space evaluations when checkpoints/mnist-latent exists, then RESULTS.md itself.
# Takes about an hour on two cores. The same backend and seeds give the same numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
NESTAR="node --import tsx src/cli/main.ts"
N=${N:-2000}
scripts/results/evaluate.sh
REEVAL=1 scripts/results/ablations.sh
for m in nestar raster nextscale; do
  if [ -d checkpoints/mnist-latent/$m ]; then
    $NESTAR eval --checkpoint checkpoints/mnist-latent/$m --n "$N" --cfg 1,2,3 --out results/mnist-latent/$m/eval
  fi
done
node --import tsx scripts/results/make-results.mts
