#!/usr/bin/env bash
# Flow heads and token orders (issue #17): NestAR with the per-token head or the patch head, each in Z-order
# and interleaved order, same budget as the main comparison (1200 steps x 64, results/configs/mnist-patch*.json;
# the per-token Z-order variant is the main NestAR run itself). Each run is exported in F16 to
# checkpoints/mnist-patch/heads/<variant>, evaluated (N per CFG as evaluate.sh, CFG 1/2/3) and diagnosed;
# a fourth run adds generated-prefix coordination to the patch-head interleaved config; then the sampler options (guidance interval, shifted time grid, SDE) are tried on SAMPLER_ON.
# Resumable like train.sh; REEVAL=1 re-makes the reports from the shipped checkpoints.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
N=${N:-2000}
for v in ${VARIANTS-phead-interleaved phead-zorder thead-interleaved phead-interleaved-gp}; do
  run=runs/results2/nestar-$v out=results/mnist-patch/heads/$v ckpt=checkpoints/mnist-patch/heads/$v
  mkdir -p "$out"
  if [ ! -f "$ckpt/state.json" ]; then
    train_run "$v" "$run" "$out/timing.log" --method nestar --config "results/configs/mnist-patch-$v.json"
    backend_line "$run" >> "$out/timing.log"
    $NESTAR export --checkpoint "$run" --out "$ckpt" --fp16
  fi
  if [ ! -f "$out/eval/report.json" ] || [ -n "${REEVAL-}" ]; then
    $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1,2,3 --out "$out/eval"
    $NESTAR diagnose --checkpoint "$ckpt" --n 512 --out "$out/diagnose.json"
  fi
done
# Sampler options on one checkpoint, at CFG 2 and 3: name:flags pairs.
SAMPLER_ON=${SAMPLER_ON:-phead-interleaved}
for s in ${SAMPLERS-interval:--cfg-interval=0.2,1 shift:--time-shift=2 sde:--solver=sde}; do
  name=${s%%:*} flags=${s#*:}
  out=results/mnist-patch/heads/$SAMPLER_ON/sampler-$name
  if [ ! -f "$out/eval/report.json" ] || [ -n "${REEVAL-}" ]; then
    # shellcheck disable=SC2086
    $NESTAR eval --checkpoint "checkpoints/mnist-patch/heads/$SAMPLER_ON" --n "$N" --cfg 2,3 $flags --out "$out/eval"
  fi
done
# A finer CFG sweep (1.5, 2.5) for raster AR and the NestAR variants in FINE_ON, so "best FD" is not an artefact of
# the 1/2/3 grid; RESULTS.md merges these rows with the main sweep.
for target in ${FINE_ON-raster phead-interleaved}; do
  if [ "$target" = raster ]; then ckpt=checkpoints/mnist-patch/raster out=results/mnist-patch/raster; else ckpt=checkpoints/mnist-patch/heads/$target out=results/mnist-patch/heads/$target; fi
  if [ ! -f "$out/eval-cfg-fine/report.json" ] || [ -n "${REEVAL-}" ]; then
    $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg 1.5,2.5 --out "$out/eval-cfg-fine"
  fi
done
node --import tsx scripts/results/measure-heads.mts
