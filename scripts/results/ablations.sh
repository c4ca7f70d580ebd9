#!/usr/bin/env bash
# NestAR ablations for RESULTS.md (issue #10). Trained ablations use the main config with one change each:
# the coordination objective (the main run is plain teacher forcing), k = 2 (main: 4) and the first-module
# size n1 = 1 or 16 (main: 4). Each is exported with F16 weights to checkpoints/mnist-patch/ablations/<name>
# (what the repo ships) and evaluated from there: the exposure-gap diagnostic and an evaluation at CFG 2.
# The ODE-step ablation re-samples the shipped NestAR checkpoint (no training). Resumable like train.sh;
# with shipped checkpoints present nothing is trained, and REEVAL=1 re-makes every report from them.
# N defaults to 2000, as in evaluate.sh, so FD compares with the main run at CFG 2.
# Choose a subset with ABLATIONS="k2 n1-16" or ODE_STEPS="8 16" (an empty value skips that part).
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${CONFIG:-results/configs/mnist-patch.json}
N=${N:-2000}
NESTAR="node --import tsx src/cli/main.ts"
flags_for() {
  case "$1" in
    coord-*) echo "--coord ${1#coord-}" ;;
    k2) echo "--k 2" ;;
    n1-*) echo "--n1 ${1#n1-}" ;;
    *) echo "unknown ablation '$1' (expected coord-<mode>, k2 or n1-<size>)" >&2; exit 2 ;;
  esac
}
for name in ${ABLATIONS-coord-noisy-context coord-generated-prefix k2 n1-1 n1-16}; do
  flags=$(flags_for "$name")
  run=runs/results/ablations/$name out=results/mnist-patch/ablations/$name ckpt=checkpoints/mnist-patch/ablations/$name
  mkdir -p "$run" "$out"
  if [ ! -f "$ckpt/state.json" ]; then
    start=$(date +%s)
    if [ -f "$run/latest.json" ]; then
      $NESTAR train --out "$run" --resume 2>&1 | tr '\r' '\n' | grep -v '^train ' >> "$run/train.log" || true
    else
      # shellcheck disable=SC2086
      $NESTAR train --method nestar --config "$CONFIG" $flags --out "$run" 2>&1 | tr '\r' '\n' | grep -v '^train ' >> "$run/train.log" || true
    fi
    echo "$name: $(( $(date +%s) - start )) s wall this invocation, finished $(date -u +%FT%TZ)" >> "$out/timing.log"
    $NESTAR export --checkpoint "$run" --out "$ckpt" --fp16
  fi
  if [ ! -f "$out/eval/report.json" ] || [ -n "${REEVAL-}" ]; then
    $NESTAR diagnose --checkpoint "$ckpt" --n 512 --out "$out/diagnose.json"
    $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 2 --out "$out/eval"
  fi
done
# ODE steps: the shipped checkpoint sampled with fewer / more Euler steps than the main table's 32.
for steps in ${ODE_STEPS-4 8 16 64}; do
  out=results/mnist-patch/ablations/ode-$steps
  if [ ! -f "$out/eval/report.json" ] || [ -n "${REEVAL-}" ]; then
    $NESTAR eval --checkpoint checkpoints/mnist-patch/nestar --n "$N" --cfg 2 --ode-steps "$steps" --out "$out/eval"
  fi
done
