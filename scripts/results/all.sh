#!/usr/bin/env bash
# Everything behind results/RESULTS.md, in order: train the three methods, evaluate and ship them, the
# ablations, the latent-space runs, then the report. Each step is resumable; rerun to continue.
# (scripts/results/regenerate.sh re-makes the reports from the shipped checkpoints without training.)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/results/train.sh
scripts/results/evaluate.sh
scripts/results/ablations.sh
scripts/results/latent.sh
node --import tsx scripts/results/make-results.mts
