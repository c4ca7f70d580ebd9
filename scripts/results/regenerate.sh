#!/usr/bin/env bash
# Re-makes every report behind results/RESULTS.md from the shipped checkpoints, without training (issue #10's
# acceptance): the three methods' evaluations, exposure-gap diagnostics, latency and stage figures
# (evaluate.sh), the ablations' evaluations (ablations.sh with REEVAL=1; their checkpoints are shipped in F16),
# the latent-space evaluations when checkpoints/mnist-latent exists, then RESULTS.md itself.
# Takes about 1.5 hours on two cores (estimated from its parts). The same backend and seeds give the same numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/results/evaluate.sh
REEVAL=1 scripts/results/ablations.sh
if [ -d checkpoints/mnist-latent ]; then REEVAL=1 scripts/results/latent.sh; fi
node --import tsx scripts/results/make-results.mts
