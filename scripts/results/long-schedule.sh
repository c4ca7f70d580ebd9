#!/usr/bin/env bash
# The linear guidance schedule on the 3600-step NestAR and raster AR checkpoints (issue #17). After four sampling
# seeds (long-seeds.sh) NestAR/raster AR stood at 1.216 against the <= 1.2 minimum, with guidance constant over the
# generation. The field's multi-token generators ramp guidance up instead: MAR's default schedule (raster AR's
# design) is w(p) = 1 + (w - 1) p with p the fraction of tokens already made, and VAR ramps it over scales the same
# way (NestAR's modules); `--cfg-schedule linear` is that rule for every method here. Decided before any of them was
# run: both methods, guidance everywhere, CFG 1.5, 2 and 2.5 (a linear ramp's mean guidance is about 1 + (w - 1)/2,
# so this grid brackets the constant schedule's best, 1.25-1.5), the same four sampling seeds as long-seeds.sh; each
# setting's four-seed mean joins long-seeds.sh's eight settings, and the verdict is each method's best four-seed mean
# over all of them, whichever way the ratio goes.
# Amendment, written after the first sampling seed and before any of its runs: NestAR's FD was still falling at the
# grid's top (seed 0: CFG 1.5/2/2.5 -> 9.14, 7.21, 6.21) and raster AR's best sat at its bottom (4.75, 5.54, 8.45),
# so the grid did not bracket either method's best. Each grid is extended on the side where its best lay, for all
# four seeds: NestAR CFG 3, 3.5, 4 (folders eval-linear-hi-seedK); raster AR CFG 1.1, 1.25 (eval-linear-lo-seedK).
# The rule stays as above.
# N = 2000 each, from the committed F16 exports; a finished one is skipped. The two methods run side by side, one
# BLAS thread each (OPENBLAS_NUM_THREADS is kept when set).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/results/lib.sh
N=${N:-2000}
# one_method METHOD CFGS FOLDER_SUFFIX: the four seeds of one grid into eval-linear<SUFFIX>-seedK.
one_method() {
  local method=$1 cfgs=$2 suffix=$3 k seed dir
  local ckpt=checkpoints/mnist-patch/long/$method-3600 out=results/mnist-patch/long/$method/step-3600
  for k in 0 1 2 3; do
    seed=$((k * 100000)) dir=$out/eval-linear$suffix-seed$k
    [ -f "$dir/report.json" ] ||
      $NESTAR eval --checkpoint "$ckpt" --n "$N" --cfg "$cfgs" --cfg-schedule linear --seed "$seed" --out "$dir"
  done
}
side_by_side one_method nestar 1.5,2,2.5 "" -- raster 1.5,2,2.5 ""
side_by_side one_method nestar 3,3.5,4 -hi -- raster 1.1,1.25 -lo
