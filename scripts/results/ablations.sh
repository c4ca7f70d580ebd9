#!/usr/bin/env bash
# NestAR ablations for RESULTS.md (issue #10). Trained ablations use the main config with one change each:
# the coordination objective (the main run is plain teacher forcing), k = 2 (main: 4) and the first-module
# size n1 = 1 or 16 (main: 4). Each is exported with F16 weights to checkpoints/mnist-patch/ablations/<name>
# (what the repo ships) and evaluated from there: the exposure-gap diagnostic and an evaluation at CFG 2.
# The ODE-step ablation re-samples the shipped NestAR checkpoint (no training). Resumable like train.sh;
# with shipped checkpoints present nothing is trained, and REEVAL=1 re-makes every report from them.
# N defaults to 2000, as in evaluate.sh, so FD compares with the main run at CFG 2.
# Sampling noise: the shipped NestAR checkpoint re-evaluated with other sampling seeds (SEEDS), so that FD
# differences between rows can be read against the spread that the seed alone gives.
# Choose a subset with ABLATIONS="k2 n1-16", ODE_STEPS="8 16" or SEEDS=10000 (an empty value skips that part).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
CONFIG=${CONFIG:-results/configs/mnist-patch.json}
N=${N:-2000}
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
    # shellcheck disable=SC2086
    train_run "$name" "$run" "$out/timing.log" --method nestar --config "$CONFIG" $flags
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
# Sampling seeds: eval seeds batch b with seed + 250 b, so 10000 and 20000 (N up to 10000) share no seed with the main run's 0.
for seed in ${SEEDS-10000 20000}; do
  out=results/mnist-patch/ablations/seed-$seed
  if [ ! -f "$out/eval/report.json" ] || [ -n "${REEVAL-}" ]; then
    $NESTAR eval --checkpoint checkpoints/mnist-patch/nestar --n "$N" --cfg 2 --seed "$seed" --out "$out/eval"
  fi
done
