#!/usr/bin/env bash
# What limits colour quality (issue #49): short NestAR pilots on the Noto emoji at 32x32 (8x8 grid of 4x4x3 patches),
# each the shipped emoji-32 recipe (results/configs/emoji-32.json: width 128, patch head 96x2, interleaved order,
# 1200 steps x 64, EMA 0.995, uniform flow times) with ONE change (results/configs/colour-pilots/<name>.json).
#
# Protocol, fixed before any pilot was run (2026-12-07):
# - Baseline: the committed F16 checkpoint checkpoints/emoji-32/nestar (that recipe, trained 2026-12-02), evaluated
#   here with the same sampler and N as every pilot, so pilots compare at one N.
# - Pilots: logitnormal (flow times logit-normal, helped MNIST -11 %), width256 (backbone capacity, 5.7M parameters),
#   headwidth192 (flow-head capacity: the head maps 48-d tokens through a 96-wide transformer), steps2400 (budget:
#   twice the steps, the schedule stretched). Training seed 0, split seed 0, each on one BLAS thread, two at a time.
# - Evaluation: N = 500 samples per CFG in {1.5, 2, 3} (constant schedule, 32 Euler steps, sampling seed 0) against
#   the 378 held-out images in the emoji feature net; the pilot's number is its best FD over the three CFGs, and its
#   cost is the core-seconds of training (trainSeconds in the final checkpoint, one thread).
# - Reading: a change "helps" if its best FD is below the baseline's by more than 10 % (at N = 500 the sampling seed
#   alone moves FD by a few %; MNIST's four seeds spread +-7 %). The long runs (scripts/results/colour-long.sh) then
#   combine every change that helped, at the budget the steps2400 slope and the 8 h limit allow, for NestAR and raster
#   AR from one config. Whatever the result, every pilot is reported in RESULTS.md's colour section.
# Resumable: a finished training or evaluation is skipped. PILOTS="a b" runs a subset; LANES=1 runs them one by one.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
N=${N:-500}
CFGS=${CFGS:-1.5,2,3}
out=results/emoji-32/pilots
mkdir -p "$out"

pilot_eval() { # NAME CHECKPOINT
  [ -f "$out/$1/report.json" ] || $NESTAR eval --checkpoint "$2" --n "$N" --cfg "$CFGS" --seed 0 --out "$out/$1"
}

pilot() { # NAME: train (resuming), then evaluate the final checkpoint's EMA weights
  local name=$1 run=runs/emoji-32/pilots/$1 steps
  steps=$(node -e "console.log(JSON.parse(require('fs').readFileSync('results/configs/colour-pilots/$name.json','utf8')).train.steps)")
  [ -f "$out/$name/report.json" ] && [ -f "$out/$name/train.json" ] && return 0
  train_run "$name" "$run" "$out/timing.log" --method nestar --config "results/configs/colour-pilots/$name.json"
  pilot_eval "$name" "$run/checkpoints/step-$(printf %07d "$steps")"
  train_facts "$run/checkpoints/step-$(printf %07d "$steps")" "$out/$name/train.json"
}

set -- ${PILOTS:-logitnormal width256 headwidth192 steps2400}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if [ "${LANES:-2}" = 1 ]; then
  pilot_eval baseline checkpoints/emoji-32/nestar
  for p in "$@"; do pilot "$p"; done
else
  # Two lanes (the two cores), each taking every other pilot in order.
  lane() { while [ $# -gt 0 ]; do pilot "$1"; shift; [ $# -gt 0 ] && shift; done; }
  (pilot_eval baseline checkpoints/emoji-32/nestar; lane "$@") & a=$!
  shift; lane "$@" & b=$!
  status=0; wait "$a" || status=1; wait "$b" || status=1
  exit $status
fi
