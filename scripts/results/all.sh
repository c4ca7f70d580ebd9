#!/usr/bin/env bash
# Everything behind results/RESULTS.md, in order: train the three methods, evaluate and ship them, the
# coordination ablations, then the report. Each step is resumable; rerun to continue.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/results/train.sh
scripts/results/evaluate.sh
scripts/results/ablations.sh
node --import tsx scripts/results/make-results.mts
