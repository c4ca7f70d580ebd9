#!/usr/bin/env bash
# The latent-space comparison for RESULTS.md (issue #10): a KL tokenizer (factor 4, 4 latent channels: 32x32
# MNIST -> an 8x8 grid of 4-d tokens, the same grid as the pixel-patch runs), the training set encoded once,
# then NestAR, raster AR and next-scale AR trained on the cached latents with the pixel runs' config (same
# steps, batch, width; baselines' depth matched to NestAR's parameters), exported to checkpoints/mnist-latent
# (with the tokenizer's weights) and evaluated in pixel space against the same feature net.
# Resumable: rerun to continue. With a shipped checkpoint present nothing is trained for that method, and
# REEVAL=1 re-makes its evaluation from the shipped file (what regenerate.sh does).
# Smaller runs for checking the pipeline: TOK_STEPS=20 STEPS=2 N=40 RUNS=/tmp/x RESULTS_DIR=/tmp/x/r CKPTS=/tmp/x/c
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
CONFIG=${CONFIG:-results/configs/mnist-patch.json}
RUNS=${RUNS:-runs/results/latent} RESULTS_DIR=${RESULTS_DIR:-results/mnist-latent} CKPTS=${CKPTS:-checkpoints/mnist-latent}
N=${N:-2000}
METHODS=${METHODS:-nestar raster nextscale}
tok=$RUNS/tokenizer
shipped() { for m in $METHODS; do [ -f "$CKPTS/$m/state.json" ] || return 1; done; }
if ! shipped; then
  if [ ! -f "$RESULTS_DIR/tokenizer/report.json" ]; then
    if [ -f "$tok/latest.json" ]; then flags=(--resume); else flags=(--factor 4 --latent-channels 4 ${TOK_STEPS:+--steps $TOK_STEPS}); fi
    timed_run tokenizer "$tok" "$RESULTS_DIR/tokenizer/timing.log" $NESTAR train-tokenizer --out "$tok" "${flags[@]}"
    backend_line "$tok" >> "$RESULTS_DIR/tokenizer/timing.log"
    $NESTAR eval-tokenizer --tokenizer "$tok" --n "$N" --out "$RESULTS_DIR/tokenizer"
  fi
  [ -f "$RUNS/latents.safetensors" ] || $NESTAR encode --tokenizer "$tok" --out "$RUNS/latents.safetensors"
fi
for m in $METHODS; do
  run=$RUNS/$m out=$RESULTS_DIR/$m
  if [ ! -f "$CKPTS/$m/state.json" ]; then
    # --patch 1: one latent cell per token (the config's patch 4 is for pixels).
    train_run "$m" "$run" "$out/timing.log" --method "$m" --config "$CONFIG" --tokenizer "$tok" \
      --latents "$RUNS/latents.safetensors" --patch 1 ${STEPS:+--steps $STEPS}
    backend_line "$run" >> "$out/timing.log"
    $NESTAR export --checkpoint "$run" --out "$CKPTS/$m"
  fi
  if [ ! -f "$out/eval/report.json" ] || [ -n "${REEVAL-}" ]; then
    $NESTAR eval --checkpoint "$CKPTS/$m" --n "$N" --cfg 1,2,3 --out "$out/eval"
  fi
done
