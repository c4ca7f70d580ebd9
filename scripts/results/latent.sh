#!/usr/bin/env bash
# The latent-space comparison for RESULTS.md (issue #10): a KL tokenizer (factor 4, 4 latent channels: 32x32
# MNIST -> an 8x8 grid of 4-d tokens, the same grid as the pixel-patch runs), the training set encoded once,
# then NestAR, raster AR and next-scale AR trained on the cached latents with the pixel runs' config (same
# steps, batch, width; baselines' depth matched to NestAR's parameters), exported to checkpoints/mnist-latent
# and evaluated in pixel space against the same feature net. Resumable: rerun to continue.
# Smaller runs for checking the pipeline: TOK_STEPS=20 STEPS=2 N=40 RUNS=/tmp/x RESULTS_DIR=/tmp/x/r CKPTS=/tmp/x/c
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${CONFIG:-results/configs/mnist-patch.json}
RUNS=${RUNS:-runs/results/latent} RESULTS_DIR=${RESULTS_DIR:-results/mnist-latent} CKPTS=${CKPTS:-checkpoints/mnist-latent}
N=${N:-2000}
NESTAR="node --import tsx src/cli/main.ts"
log() { tr '\r' '\n' | grep -v '^train' || true; }
tok=$RUNS/tokenizer
mkdir -p "$RUNS" "$RESULTS_DIR/tokenizer"
if [ ! -f "$RESULTS_DIR/tokenizer/report.json" ]; then
  if [ -f "$tok/latest.json" ]; then resume=(--resume); else resume=(--factor 4 --latent-channels 4 ${TOK_STEPS:+--steps $TOK_STEPS}); fi
  start=$(date +%s)
  $NESTAR train-tokenizer --out "$tok" "${resume[@]}" 2>&1 | log >> "$RUNS/tokenizer.log"
  echo "tokenizer: $(( $(date +%s) - start )) s wall this invocation, finished $(date -u +%FT%TZ)" >> "$RESULTS_DIR/tokenizer/timing.log"
  $NESTAR eval-tokenizer --tokenizer "$tok" --n "$N" --out "$RESULTS_DIR/tokenizer"
fi
[ -f "$RUNS/latents.safetensors" ] || $NESTAR encode --tokenizer "$tok" --out "$RUNS/latents.safetensors"
for m in ${METHODS:-nestar raster nextscale}; do
  run=$RUNS/$m out=$RESULTS_DIR/$m
  mkdir -p "$run" "$out"
  [ -f "$out/eval/report.json" ] && continue
  start=$(date +%s)
  if [ -f "$run/latest.json" ]; then
    $NESTAR train --out "$run" --resume 2>&1 | log >> "$run/train.log"
  else
    # --patch 1: one latent cell per token (the config's patch 4 is for pixels).
    $NESTAR train --method "$m" --config "$CONFIG" --tokenizer "$tok" --latents "$RUNS/latents.safetensors" --patch 1 \
      ${STEPS:+--steps $STEPS} --out "$run" 2>&1 | log >> "$run/train.log"
  fi
  echo "$m: $(( $(date +%s) - start )) s wall this invocation, finished $(date -u +%FT%TZ)" >> "$out/timing.log"
  grep -m1 '^backend:' "$run/train.log" >> "$out/timing.log" || true
  $NESTAR export --checkpoint "$run" --out "$CKPTS/$m"
  $NESTAR eval --checkpoint "$CKPTS/$m" --n "$N" --cfg 1,2,3 --out "$out/eval"
done
