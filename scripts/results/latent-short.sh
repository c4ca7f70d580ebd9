#!/usr/bin/env bash
# What limits generators on KL latents (issue #20): short runs, one change each from the latent run's tokenizer
# (scripts/results/latent.sh: factor 4, 4 channels, KL weight 1e-4, per-channel normalised latents), every
# variant at the same short budget: tokenizer TOK_STEPS steps, then NestAR (the pixel runs' config, one latent
# cell per token) STEPS steps, evaluated at CFG 2 (the latent runs' best) on N samples. A pixel-patch NestAR
# at the same budget is the reference. Variants:
#   control    KL 1e-4, 4 channels, normalised (the shipped latent run's tokenizer, fewer steps)
#   kl1e-3     KL weight ×10 (smoother, less informative latents)
#   kl1e-2     KL weight ×100
#   ch8        8 latent channels
#   nonorm     the control tokenizer with its latent statistics set to mean 0, std 1 (raw posterior means)
# Resumable: a finished step is skipped. Reports under $OUT/<variant>/; results-table input: their report.json.
# A quick pipeline check: TOK_STEPS=4 STEPS=2 N=40 OUT=/tmp/ls RUNS=/tmp/ls/runs bash scripts/results/latent-short.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
CONFIG=${CONFIG:-results/configs/mnist-patch.json}
RUNS=${RUNS:-runs/results/latent-short} OUT=${OUT:-results/mnist-latent/short}
TOK_STEPS=${TOK_STEPS:-1000} STEPS=${STEPS:-400} N=${N:-1000}
VARIANTS=${VARIANTS:-control nonorm kl1e-2 ch8 kl1e-3 pixel}
mkdir -p "$OUT"
# The tokenizers' steps for the results table (NestAR's steps and N are in each eval report).
echo "{\"tokenizerSteps\": $TOK_STEPS}" > "$OUT/settings.json"

tok_flags() {
  case $1 in
    control|nonorm) echo "--kl-weight 1e-4 --latent-channels 4" ;;
    kl1e-3) echo "--kl-weight 1e-3 --latent-channels 4" ;;
    kl1e-2) echo "--kl-weight 1e-2 --latent-channels 4" ;;
    ch8) echo "--kl-weight 1e-4 --latent-channels 8" ;;
  esac
}

for v in $VARIANTS; do
  out=$OUT/$v run=$RUNS/$v
  mkdir -p "$out"
  [ -f "$out/eval/report.json" ] && continue
  if [ "$v" = pixel ]; then
    train_run "$v" "$run/nestar" "$out/timing.log" --method nestar --config "$CONFIG" --steps "$STEPS"
  else
    src=$v; [ "$v" = nonorm ] && src=control
    tok=$RUNS/$src/tokenizer
    if [ ! -f "$OUT/$src/tokenizer/report.json" ]; then
      # shellcheck disable=SC2046
      timed_run "tokenizer $src" "$tok" "$OUT/$src/timing.log" $NESTAR train-tokenizer --out "$tok" --factor 4 --steps "$TOK_STEPS" --report-n 200 $(tok_flags "$src")
      $NESTAR eval-tokenizer --tokenizer "$tok" --n "$N" --out "$OUT/$src/tokenizer"
    fi
    if [ "$v" = nonorm ]; then
      # The control tokenizer's last checkpoint with its per-channel statistics replaced by mean 0, std 1.
      raw=$run/tokenizer
      if [ ! -f "$raw/state.json" ]; then
        mkdir -p "$raw"
        ck=$(node -e "const p=require('path');const r=p.resolve(process.argv[1]);console.log(p.join(r,require(p.join(r,'latest.json')).checkpoint))" "$tok")
        cp "$ck"/*.safetensors "$raw/"
        node -e "const fs=require('fs');const s=JSON.parse(fs.readFileSync(process.argv[1]+'/state.json','utf8'));const Z=s.stats.mean.length;s.stats={...s.stats,mean:Array(Z).fill(0),std:Array(Z).fill(1)};fs.writeFileSync(process.argv[2]+'/state.json',JSON.stringify(s,null,1)+'\n')" "$ck" "$raw"
      fi
      tok=$raw
    fi
    [ -f "$run/latents.safetensors" ] || { mkdir -p "$run"; $NESTAR encode --tokenizer "$tok" --out "$run/latents.safetensors"; }
    train_run "nestar $v" "$run/nestar" "$out/timing.log" --method nestar --config "$CONFIG" --tokenizer "$tok" \
      --latents "$run/latents.safetensors" --patch 1 --steps "$STEPS"
  fi
  backend_line "$run/nestar" >> "$out/timing.log"
  $NESTAR eval --checkpoint "$run/nestar" --n "$N" --cfg 2 --out "$out/eval"
done
