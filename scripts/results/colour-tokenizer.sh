#!/usr/bin/env bash
# A tokenizer that does not cap quality (issue #49): the emoji-64 KL tokenizer (scripts/results/emoji-latent.sh: factor 4,
# 4 latent channels, KL weight 1e-2, 1000 steps x 32) against the same run with the field's three levers at once —
# a wider decoder (96 channels, encoder 48), the perceptual term on a classifier trained here with seed 1 (never the
# evaluation net, which train-tokenizer refuses), and a patch discriminator (hinge loss) from step 500.
#
# Protocol, fixed before the run (2026-12-07): one combined pilot, same steps, batch, seed and data as the committed
# tokenizer (results/emoji-64/tokenizer: PSNR 25.85 dB, reconstruction FD 44.50 on the 378 held-out images);
# eval-tokenizer on the held-out split in the evaluation feature net (checkpoints/features/emoji-64x3). Targets:
# PSNR >= 28 dB, reconstruction FD <= 1.3x the real-data row (21.54 at N = 500). Only one pilot fits this session's
# two cores, so a gain cannot be split between the three levers; whatever the result, RESULTS.md reports it.
# Resumable: finished parts are skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
RUNS=${RUNS:-runs/results/emoji-64} OUT=${OUT:-results/emoji-64/tokenizer-levers}
PERCEPTUAL=${PERCEPTUAL:-checkpoints/features/emoji-64x3-perceptual}
data=(--data emoji --image-size 64 --channels 3)
mkdir -p "$OUT"
if [ ! -f "$PERCEPTUAL/feature-net.json" ]; then
  timed_run perceptual-net "$RUNS/perceptual" "$OUT/timing.log" $NESTAR train-features "${data[@]}" --epochs 10 --seed 1 --out "$PERCEPTUAL"
fi
tok=$RUNS/tokenizer-levers
if [ ! -f "$OUT/report.json" ]; then
  if [ -f "$tok/latest.json" ]; then flags=(--resume --perceptual-net "$PERCEPTUAL"); else
    flags=("${data[@]}" --factor 4 --latent-channels 4 --kl-weight 1e-2 --batch-size 32 --steps "${TOK_STEPS:-1000}"
      --decoder-width 96 --perceptual-weight "${PERCEPTUAL_WEIGHT:-0.1}" --perceptual-net "$PERCEPTUAL"
      --disc-weight "${DISC_WEIGHT:-0.05}" --disc-start "${DISC_START:-500}")
  fi
  timed_run tokenizer "$tok" "$OUT/timing.log" $NESTAR train-tokenizer --out "$tok" --features checkpoints/features/emoji-64x3 "${flags[@]}"
  backend_line "$tok" >> "$OUT/timing.log"
  $NESTAR eval-tokenizer --tokenizer "$tok" --features checkpoints/features/emoji-64x3 --n 500 --out "$OUT"
fi
