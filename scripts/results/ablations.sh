#!/usr/bin/env bash
# NestAR ablations for RESULTS.md (issue #10): the coordination objectives (the main run is plain teacher
# forcing). Same config as the main runs; each gets the exposure-gap diagnostic and an evaluation at CFG 2.
# Resumable like train.sh. N defaults to 2000, as in evaluate.sh, so FD compares with the main run at CFG 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${CONFIG:-results/configs/mnist-patch.json}
N=${N:-2000}
NESTAR="node --import tsx src/cli/main.ts"
for coord in ${COORDS:-noisy-context generated-prefix}; do
  run=runs/results/ablations/coord-$coord out=results/mnist-patch/ablations/coord-$coord
  mkdir -p "$run" "$out"
  start=$(date +%s)
  if [ -f "$run/latest.json" ]; then
    $NESTAR train --out "$run" --resume 2>&1 | tr '\r' '\n' | grep -v '^train ' >> "$run/train.log" || true
  else
    $NESTAR train --method nestar --config "$CONFIG" --coord "$coord" --out "$run" 2>&1 | tr '\r' '\n' | grep -v '^train ' >> "$run/train.log" || true
  fi
  echo "coord-$coord: $(( $(date +%s) - start )) s wall this invocation, finished $(date -u +%FT%TZ)" >> "$out/timing.log"
  $NESTAR diagnose --checkpoint "$run" --n 512 --out "$out/diagnose.json"
  $NESTAR eval --checkpoint "$run" --n "$N" --cfg 2 --out "$out/eval"
done
