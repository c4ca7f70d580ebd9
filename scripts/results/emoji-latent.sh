#!/usr/bin/env bash
# The 16x16 latent grid (issue #20): Noto emoji at 64x64x3 through a KL tokenizer (factor 4, 4 latent channels,
# KL weight 1e-2, the best of the short latent study) -> a 16x16 grid of 4-d tokens (n = 256), then NestAR
# (13 sequential calls per image) trained on the encoded training split with results/configs/emoji-64-latent.json
# and evaluated in pixel space against the held-out split in a 64x64 emoji feature net. A short-budget run sized
# for a 2-core machine (tokenizer TOK_STEPS x 32, NestAR 600 x 32); raster AR trained and evaluated at the same budget
# (256 calls per image), next-scale AR measured for latency only unless TRAIN_BASELINES names it
# (scripts/results/measure-grid16.mts).
# Resumable: rerun to continue; finished parts are skipped.
# Smaller runs for checking the pipeline: FEATURE_EPOCHS=1 TOK_STEPS=4 STEPS=2 N=16 RUNS=/tmp/x RESULTS_DIR=/tmp/x/r CKPTS=/tmp/x/c FEATURES=/tmp/x/f
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
CONFIG=${CONFIG:-results/configs/emoji-64-latent.json}
RUNS=${RUNS:-runs/results/emoji-64} RESULTS_DIR=${RESULTS_DIR:-results/emoji-64} CKPTS=${CKPTS:-checkpoints/emoji-64}
FEATURES=${FEATURES:-checkpoints/features/emoji-64x3}
N=${N:-500}
data=(--data emoji --image-size 64 --channels 3)
tok=$RUNS/tokenizer
mkdir -p "$RESULTS_DIR"
if [ ! -f "$FEATURES/feature-net.json" ]; then
  timed_run features "$RUNS/features" "$RESULTS_DIR/features-timing.log" \
    $NESTAR train-features "${data[@]}" --epochs "${FEATURE_EPOCHS:-10}" --out "$FEATURES"
fi
if [ ! -f "$RESULTS_DIR/tokenizer/report.json" ]; then
  if [ -f "$tok/latest.json" ]; then flags=(--resume); else
    flags=("${data[@]}" --factor 4 --latent-channels 4 --kl-weight 1e-2 --batch-size 32 --steps "${TOK_STEPS:-1000}")
  fi
  timed_run tokenizer "$tok" "$RESULTS_DIR/tokenizer/timing.log" $NESTAR train-tokenizer --out "$tok" "${flags[@]}"
  backend_line "$tok" >> "$RESULTS_DIR/tokenizer/timing.log"
  $NESTAR eval-tokenizer --tokenizer "$tok" --features "$FEATURES" --n "$N" --out "$RESULTS_DIR/tokenizer"
fi
run=$RUNS/nestar out=$RESULTS_DIR/nestar
if [ ! -f "$CKPTS/nestar/state.json" ]; then
  [ -f "$RUNS/latents.safetensors" ] || $NESTAR encode --tokenizer "$tok" --out "$RUNS/latents.safetensors"
  train_run nestar "$run" "$out/timing.log" --method nestar --config "$CONFIG" --tokenizer "$tok" \
    --latents "$RUNS/latents.safetensors" ${STEPS:+--steps $STEPS}
  backend_line "$run" >> "$out/timing.log"
  $NESTAR export --checkpoint "$run" --out "$CKPTS/nestar" --fp16
fi
# CFG 2-6: at this budget FD was still falling at CFG 4 (1.5 was far worse), so the sweep runs on until it turns.
if [ ! -f "$out/eval/report.json" ] || [ -n "${REEVAL-}" ]; then
  $NESTAR eval --checkpoint "$CKPTS/nestar" --features "$FEATURES" --n "$N" --cfg "${CFGS:-2,3,4,5,6}" --out "$out/eval"
fi
# Raster AR trained on the same config and budget (TRAIN_BASELINES="raster nextscale" adds next-scale AR; empty
# skips). The baselines' tokens come from the tokenizer shipped inside the NestAR checkpoint (F16 weights), so they
# can be trained from a clean clone without the tokenizer run; NestAR itself was trained on the F32 tokenizer's.
btok=$CKPTS/nestar blat=$RUNS/latents-shipped.safetensors
baseline_latents() { [ -f "$blat" ] || $NESTAR encode --tokenizer "$btok" --out "$blat"; }
for m in ${TRAIN_BASELINES-raster}; do
  run=$RUNS/$m out=$RESULTS_DIR/$m
  if [ ! -f "$CKPTS/$m/state.json" ]; then
    baseline_latents
    train_run "$m" "$run" "$out/timing.log" --method "$m" --config "$CONFIG" --tokenizer "$btok" --latents "$blat" ${STEPS:+--steps $STEPS}
    backend_line "$run" >> "$out/timing.log"
    $NESTAR export --checkpoint "$run" --out "$CKPTS/$m" --fp16
  fi
  if [ ! -f "$out/eval/report.json" ] || [ -n "${REEVAL-}" ]; then
    $NESTAR eval --checkpoint "$CKPTS/$m" --features "$FEATURES" --n "$N" --cfg "${CFGS:-2,3,4,5,6}" --out "$out/eval"
  fi
done
# Latency on the 16x16 grid: the baselines of the same config (depth matched to NestAR's parameters) after one
# training step, which costs what a trained model costs to sample.
# Next-scale AR's patch head over a whole 16x16 scale does not fit the 4 GiB WASM heap at batch 32 in one pass,
# hence --micro-batch 8 (gradient accumulation; the weights' shapes, and so the sampling cost, are the same).
if [ ! -f "$RESULTS_DIR/latency.json" ]; then
  baseline_latents
  for m in raster nextscale; do
    [ "$m" = nextscale ] && mb=(--micro-batch 8) || mb=()
    [ -f "$RUNS/$m-latency/latest.json" ] || $NESTAR train --method "$m" --config "$CONFIG" --tokenizer "$btok" \
      --latents "$blat" --steps 1 "${mb[@]}" --out "$RUNS/$m-latency" > "$RUNS/$m-latency.log" 2>&1 \
      || { tail -n 2 "$RUNS/$m-latency.log" >&2; exit 1; }
  done
  node --import tsx scripts/results/measure-grid16.mts "$CKPTS/nestar" \
    "$RUNS/raster-latency" "$RUNS/nextscale-latency" "$RESULTS_DIR/latency.json" "${LATENCY_RUNS:-5}"
fi
